"""Experiment tracking (MLflow's model): experiments, runs, params, metrics, logged models, files.

Governed like every securable: an experiment lives in a schema, and its grants decide
who reads (``EXECUTE``) and logs (``MODIFY``). ``lh.experiments`` and ``lh.runs`` are
the Python face; ``glashaus serve`` speaks MLflow's REST protocol over the same
service, and ``mlflow.set_tracking_uri("glashaus:./lakehouse")`` uses it in-process.
"""

from glashaus.tracking.entities import (
    ArtifactFile,
    Dataset,
    DatasetInput,
    Experiment,
    LoggedModel,
    Metric,
    ModelOutput,
    Page,
    Run,
)
from glashaus.tracking.service import TrackingService

__all__ = [
    "ArtifactFile",
    "Dataset",
    "DatasetInput",
    "Experiment",
    "LoggedModel",
    "Metric",
    "ModelOutput",
    "Page",
    "Run",
    "TrackingService",
]
