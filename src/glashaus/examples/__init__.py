"""Runnable examples shipped with the package; ``plant_shop`` is the one behind ``glashaus demo``.

They sit at the level of the faces (``cli/``, ``server/``): the plant shop starts an
in-process ``glashaus serve`` for its MLflow part, and ``glashaus demo`` runs it.

>>> from glashaus.examples.plant_shop import pipeline
"""
