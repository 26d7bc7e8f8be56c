"""Glashaus: a data-centric machine-learning lakehouse.

>>> import glashaus
>>> lh = glashaus.connect("./lakehouse", user="alice")
"""

from glashaus.errors import GlashausError
from glashaus.lakehouse import Lakehouse, connect
from glashaus.sql.result import Result

__version__ = "0.1.0"
__all__ = ["GlashausError", "Lakehouse", "Result", "__version__", "connect"]
