"""Glashaus: a data-centric machine-learning lakehouse.

>>> import glashaus
>>> lh = glashaus.connect("./lakehouse", user="alice")
"""

from glashaus.api import LakehouseAPI
from glashaus.entry import connect, open_embedded
from glashaus.errors import GlashausError
from glashaus.lakehouse import Lakehouse
from glashaus.sql.result import Result

__version__ = "0.1.0"
__all__ = ["GlashausError", "Lakehouse", "LakehouseAPI", "Result", "__version__", "connect", "open_embedded"]
