"""Server mode: the Lakehouse over HTTP, and the client that speaks to it.

- ``app.py``: the app of ``glashaus serve``: the faces below, mounted behind the one
  request layer (``glashaus.http``: request ids, limits, sign-in, errors); ``running.py``
  runs it (``ServerThread``, proxy settings, shutdown).
- the declared operations (``glashaus/operations.py``, collected from each capability's
  ``operations.py``) are exposed under ``/api/``: the REST face (``rest.py``), its OpenAPI
  (``openapi.py``) and the client (``remote.py``, written by ``generate.py``) all come from them.
- ``codec.py``: JSON arguments and replies, pydantic types derived from the methods' hints;
  ``wire.py``: rows as Arrow IPC streams.
- ``serving.py``: scoring and ``/metrics``; ``mlflow/``: MLflow's REST protocol.
- ``client.py``: :class:`RemoteLakehouse`, returned by
  ``glashaus.connect("http://host:8080", token=...)`` (``streams.py`` reads its Arrow bodies).

Importing this package imports neither FastAPI nor httpx (install ``glashaus[server]``).
"""
