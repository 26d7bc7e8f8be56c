"""The plant shop, Glashaus's running example (``docs/plant-shop.md`` tells its story).

``data.py`` generates the raw data, ``pipeline.py`` builds bronze, silver and gold and
the access rules, ``ml.py`` trains, tracks, registers and serves the recommender.

>>> import glashaus
>>> from glashaus.examples.plant_shop.pipeline import run_pipeline
>>> import tempfile
>>> with glashaus.connect(tempfile.mkdtemp(), user="alice") as lh:
...     run = run_pipeline(lh, events=2_000, customers=100)
"""
