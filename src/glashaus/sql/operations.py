"""The SQL capability's operation (see :mod:`glashaus.declare`): every statement, so also the audit and lineage tables."""

from __future__ import annotations

from glashaus.declare import Operation

OPERATIONS = [
    Operation("", "sql", "POST", "/sql", tag="sql", reply="result", cli="glashaus sql"),
]
