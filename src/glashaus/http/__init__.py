"""The request layer shared by every HTTP face of ``glashaus serve`` (level 8, below ``server`` and ``web``).

- ``layer.py``: :class:`~glashaus.http.layer.RequestLayer` (one endpoint frame for every
  route: request ids, body limits, sign-in, error mapping), the ``Face`` protocol faces
  mount through, and ``RequestIds``, the middleware that gives every request a
  server-generated id.
- ``call.py``: ``Call``, one request as a face's handler sees it, and its ``Policy``.
- ``signin.py``: the one sign-in path (token check, backoff, ``auth.failed`` audit).
- ``formats.py``: how a face answers errors (``ErrorFormat``; Glashaus' JSON errors).
- ``errors.py``: statuses, the lakehouse root hidden in messages (no web framework: the
  remote client uses it too); ``jsonio.py``: caller JSON, strict and depth-bounded.

``server/`` (the REST API, the MLflow protocol, serving, the app that assembles the faces)
and ``web/`` (the web shell) both build on this package; ``web/`` never imports ``server/``.
This file imports nothing, so that ``errors.py`` and ``jsonio.py`` come without FastAPI.

>>> from glashaus.http.layer import RequestLayer
"""
