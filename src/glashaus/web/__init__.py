"""The web shell: server-rendered pages on ``glashaus serve`` (sign-in, catalog, models, endpoints, SQL, audit).

A face like the CLI and the REST API: every page calls the same Lakehouse methods,
on the Lakehouse seen as the signed-in caller. ``pages.mount(app, server)`` adds the
routes to the server's app.

>>> from glashaus.web.pages import mount   # create_app calls it  # doctest: +SKIP
"""
