"""MLflow 3 tracing: traces (their info in the metastore) and spans (rows of a Delta table), governed.

A trace belongs to an experiment, whose grants decide who reads (``EXECUTE``) and logs
(``MODIFY``) it. MLflow's client logs traces to ``glashaus serve`` (``server/mlflow/traces.py``);
``lh.traces`` reads and curates them; SQL reads ``system.ml.traces`` and ``system.ml.spans``.
"""

from glashaus.tracing.entities import Span, Trace, TraceInfo
from glashaus.tracing.service import TracingService

__all__ = ["Span", "Trace", "TraceInfo", "TracingService"]
