"""The plant shop, Glashaus's running example (``docs/plant-shop.md`` tells its story).

``data.py`` generates the raw data, ``pipeline.py`` builds bronze, silver and gold and
the access rules, ``ml.py`` trains, tracks, registers and serves the recommender.

>>> import glashaus
>>> from glashaus.examples.plant_shop.pipeline import run_pipeline
>>> with glashaus.connect("./lakehouse") as lh:                 # doctest: +SKIP
...     run_pipeline(lh, events=100_000)
"""
