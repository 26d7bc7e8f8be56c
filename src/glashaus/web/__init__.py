"""The web shell: server-rendered pages on ``glashaus serve`` (sign-in, catalog, models, endpoints, SQL, audit).

A face like the CLI and the REST API: every page calls the same Lakehouse methods,
on the Lakehouse seen as the signed-in caller. ``pages.WebFace(layer).routes()`` are its
routes, behind the request layer every face shares (``glashaus.http``); ``web/`` never
imports ``server/`` (the app that assembles the faces, ``server/app.py``, imports it).

>>> from glashaus.web.pages import WebFace   # create_app mounts it
"""
