"""The MLflow client's settings for a test: pointed at a Glashaus server, signed in with a token.

>>> sorted(client_env("http://127.0.0.1:1", "ghs_x"))[:2]
['MLFLOW_DISABLE_TELEMETRY', 'MLFLOW_HTTP_REQUEST_MAX_RETRIES']
"""

from __future__ import annotations

import pytest


def client_env(url: str, token: str) -> dict[str, str]:
    """Environment variables MLflow's client reads: the server, the token, no telemetry, no retries."""
    return {
        "MLFLOW_TRACKING_URI": url,
        "MLFLOW_TRACKING_TOKEN": token,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    }


def sign_in(monkeypatch: pytest.MonkeyPatch, url: str, token: str) -> None:
    """Point this process's MLflow client at ``url`` as the token's user (undone with the monkeypatch)."""
    for key, value in client_env(url, token).items():
        monkeypatch.setenv(key, value)
