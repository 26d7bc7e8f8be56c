"""The SQL capability's operation (see :mod:`glashaus.declare`): every statement, audit and lineage tables too."""

from __future__ import annotations

from glashaus.declare import Operation

OPERATIONS = [
    Operation("", "sql", "POST", "/sql", tag="sql", reply="result", cli="glashaus sql"),
]
