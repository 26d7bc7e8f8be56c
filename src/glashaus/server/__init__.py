"""Server mode: the Lakehouse over HTTP, and the client that speaks to it.

- ``operations.py``: the registry of Lakehouse methods exposed under ``/api/`` (one
  entry per route); the server and the client are both generated from it.
- ``wire.py``: how values cross the wire (JSON driven by the methods' type hints,
  Arrow IPC streams for rows, ``{"error_code", "message"}`` for errors).
- ``app.py``: the FastAPI app (``glashaus serve``): bearer tokens, one Lakehouse per
  process seen per request as the token's principal, body and sign-in limits.
- ``client.py``: :class:`RemoteLakehouse`, returned by
  ``glashaus.connect("http://host:8080", token=...)``.

Importing this package imports neither FastAPI nor httpx (install ``glashaus[server]``).
"""
