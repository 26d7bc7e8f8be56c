"""Glashaus inside other tools: the MLflow tracking-store and artifact-repository plugins.

Registered as entry points (``pyproject.toml``), so ``mlflow.set_tracking_uri("glashaus:./lakehouse")``
logs straight into a lakehouse, governed and audited, with no server.
"""
