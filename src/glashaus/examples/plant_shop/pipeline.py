"""The plant shop's medallion pipeline: bronze loaded from Python, silver and gold in SQL.

A web shop recommends plants to buyers. Raw data (``data.py``) lands in bronze
tables through ``lh.write``; everything after that is governed SQL through
``lh.sql`` only (DDL + ``INSERT ... SELECT``, ``MERGE INTO``, ``CREATE TABLE AS
SELECT``, ``CREATE VIEW``), so every silver and gold table carries table- and
column-level lineage back to the bronze versions it read. The SQL below is plain
data: read it, copy it, change it.

>>> import glashaus
>>> from glashaus.examples.plant_shop.pipeline import run_pipeline
>>> import tempfile
>>> with glashaus.connect(tempfile.mkdtemp(), user="alice") as lh:
...     run = run_pipeline(lh, events=2_000, customers=100)
...     lh.sql("SELECT count(*) FROM main.plant_shop.events_silver").scalar() > 0
True
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from glashaus.examples.plant_shop.data import (
    CUSTOMERS_SCHEMA,
    EVENTS_SCHEMA,
    PLANTS_SCHEMA,
    generate_customers,
    generate_events,
    generate_plants,
)

CATALOG = "main"
SCHEMA = "main.plant_shop"


class Step(NamedTuple):
    """One table (or view) of the pipeline: its short name, the SQL that builds it, its comment."""

    name: str
    sql: str
    comment: str


# -- bronze: raw data as it lands, loaded with lh.write ------------------------------------

BRONZE: list[tuple[str, Any, list[str], str]] = [
    # (name, Arrow schema, primary key, comment)
    (
        "events_bronze",
        EVENTS_SCHEMA,
        [],
        "Raw click stream as it lands from the web app: duplicates, late events, dirty rows and PII (email).",
    ),
    (
        "customers_bronze",
        CUSTOMERS_SCHEMA,
        ["customer_id"],
        "Customer master data from the shop's CRM, including PII (email).",
    ),
    (
        "plants",
        PLANTS_SCHEMA,
        ["plant_id"],
        "The plant catalogue: species, category, list price, light needs, pet safety.",
    ),
]

# -- silver: cleaned, deduplicated, PII-free events; conformed customers -------------------

SILVER: list[Step] = [
    Step(
        "events_silver",
        """
        CREATE TABLE main.plant_shop.events_silver (
            event_id     VARCHAR PRIMARY KEY,
            event_type   VARCHAR NOT NULL,
            customer_id  BIGINT NOT NULL,
            plant_id     BIGINT NOT NULL,
            quantity     INT,
            price_eur    DOUBLE,
            region       VARCHAR NOT NULL,
            device       VARCHAR NOT NULL,
            event_time   TIMESTAMPTZ NOT NULL,
            event_date   DATE NOT NULL,
            ingested_at  TIMESTAMPTZ NOT NULL,
            CONSTRAINT quantity_positive CHECK (quantity IS NULL OR quantity > 0)
        );
        INSERT INTO main.plant_shop.events_silver
        SELECT event_id, event_type, customer_id, plant_id, quantity, price_eur, region, device,
               event_time, CAST(event_time AT TIME ZONE 'UTC' AS DATE) AS event_date, ingested_at
        FROM main.plant_shop.events_bronze
        WHERE customer_id IS NOT NULL
          AND (quantity IS NULL OR quantity > 0)
        -- a re-delivered event keeps its first landing
        QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY ingested_at, event_time) = 1
        """,
        "Clean click stream: one row per event_id (earliest ingested_at kept), rows without a "
        "customer or with a non-positive quantity dropped, email removed (PII stays in bronze "
        "and customers).",
    ),
    Step(
        "customers_silver",
        """
        CREATE TABLE main.plant_shop.customers_silver (
            customer_id  BIGINT PRIMARY KEY,
            email        VARCHAR NOT NULL,
            region       VARCHAR NOT NULL,
            age_band     VARCHAR NOT NULL,
            signup_date  DATE NOT NULL
        );
        MERGE INTO main.plant_shop.customers_silver AS t
        USING (
            SELECT customer_id, lower(trim(email)) AS email, region, age_band, signup_date
            FROM main.plant_shop.customers_bronze
            WHERE customer_id IS NOT NULL AND email IS NOT NULL
        ) AS s
        ON t.customer_id = s.customer_id
        WHEN MATCHED THEN UPDATE SET *
        WHEN NOT MATCHED THEN INSERT *
        """,
        "Conformed customers, upserted from customers_bronze; keeps the email (PII, tagged) for "
        "contacting buyers, never for features.",
    ),
]

# -- gold: KPIs, popularity, features for training; a view for dashboards ------------------

GOLD: list[Step] = [
    Step(
        "daily_kpis",
        """
        CREATE TABLE main.plant_shop.daily_kpis AS
        SELECT event_date AS day,
               region,
               count(*) FILTER (WHERE event_type = 'view')        AS views,
               count(*) FILTER (WHERE event_type = 'add_to_cart') AS carts,
               count(*) FILTER (WHERE event_type = 'purchase')    AS purchases,
               CAST(coalesce(sum(quantity) FILTER (WHERE event_type = 'purchase'), 0) AS BIGINT) AS units,
               round(coalesce(sum(quantity * price_eur) FILTER (WHERE event_type = 'purchase'), 0), 2)
                   AS revenue,
               CAST(count(*) FILTER (WHERE event_type = 'purchase') AS DOUBLE)
                   / nullif(count(*) FILTER (WHERE event_type = 'view'), 0) AS conversion
        FROM main.plant_shop.events_silver
        GROUP BY event_date, region
        ORDER BY day, region
        """,
        "Per day (UTC) and region: views, cart adds, purchases, units, revenue in EUR and "
        "conversion (purchases per view).",
    ),
    Step(
        "plant_popularity",
        """
        CREATE TABLE main.plant_shop.plant_popularity AS
        WITH per_plant AS (
            SELECT plant_id,
                   count(*) FILTER (WHERE event_type = 'view')        AS views,
                   count(*) FILTER (WHERE event_type = 'add_to_cart') AS carts,
                   count(*) FILTER (WHERE event_type = 'purchase')    AS purchases,
                   CAST(coalesce(sum(quantity) FILTER (WHERE event_type = 'purchase'), 0) AS BIGINT) AS units_sold,
                   round(coalesce(sum(quantity * price_eur) FILTER (WHERE event_type = 'purchase'), 0), 2)
                       AS revenue,
                   count(DISTINCT customer_id) FILTER (WHERE event_type = 'purchase') AS buyers
            FROM main.plant_shop.events_silver
            GROUP BY plant_id
        )
        SELECT p.plant_id, p.name, p.category,
               coalesce(s.views, 0) AS views, coalesce(s.carts, 0) AS carts,
               coalesce(s.purchases, 0) AS purchases, coalesce(s.units_sold, 0) AS units_sold,
               coalesce(s.revenue, 0) AS revenue, coalesce(s.buyers, 0) AS buyers,
               CAST(coalesce(s.purchases, 0) AS DOUBLE) / nullif(s.views, 0) AS conversion,
               CAST(rank() OVER (ORDER BY coalesce(s.purchases, 0) DESC, coalesce(s.views, 0) DESC)
                    AS BIGINT) AS popularity_rank
        FROM main.plant_shop.plants AS p
        LEFT JOIN per_plant AS s ON s.plant_id = p.plant_id
        ORDER BY popularity_rank, p.plant_id
        """,
        "Per plant: views, cart adds, purchases, units sold, revenue, distinct buyers, "
        "conversion and rank (by purchases, then views).",
    ),
    Step(
        "customer_features",
        """
        CREATE TABLE main.plant_shop.customer_features (
            customer_id         BIGINT PRIMARY KEY,
            region              VARCHAR NOT NULL,
            age_band            VARCHAR NOT NULL,
            signup_date         DATE NOT NULL,
            views               BIGINT NOT NULL,
            carts               BIGINT NOT NULL,
            purchases           BIGINT NOT NULL,
            units               BIGINT NOT NULL,
            spend_eur           DOUBLE NOT NULL,
            avg_order_eur       DOUBLE,
            favourite_category  VARCHAR,
            last_purchase_at    TIMESTAMPTZ,
            last_seen_at        TIMESTAMPTZ
        );
        INSERT INTO main.plant_shop.customer_features
        WITH per_customer AS (
            SELECT customer_id,
                   count(*) FILTER (WHERE event_type = 'view')        AS views,
                   count(*) FILTER (WHERE event_type = 'add_to_cart') AS carts,
                   count(*) FILTER (WHERE event_type = 'purchase')    AS purchases,
                   CAST(coalesce(sum(quantity) FILTER (WHERE event_type = 'purchase'), 0) AS BIGINT) AS units,
                   round(coalesce(sum(quantity * price_eur) FILTER (WHERE event_type = 'purchase'), 0), 2)
                       AS spend_eur,
                   max(event_time) FILTER (WHERE event_type = 'purchase') AS last_purchase_at,
                   max(event_time) AS last_seen_at
            FROM main.plant_shop.events_silver
            GROUP BY customer_id
        ),
        per_category AS (
            SELECT e.customer_id, p.category,
                   count(*) FILTER (WHERE e.event_type = 'purchase')    AS purchases,
                   count(*) FILTER (WHERE e.event_type = 'add_to_cart') AS carts,
                   count(*) FILTER (WHERE e.event_type = 'view')        AS views
            FROM main.plant_shop.events_silver AS e
            JOIN main.plant_shop.plants AS p ON p.plant_id = e.plant_id
            GROUP BY e.customer_id, p.category
        ),
        favourite AS (
            SELECT customer_id, category AS favourite_category
            FROM per_category
            QUALIFY row_number() OVER (
                PARTITION BY customer_id ORDER BY purchases DESC, carts DESC, views DESC, category) = 1
        )
        SELECT c.customer_id, c.region, c.age_band, c.signup_date,
               coalesce(a.views, 0) AS views, coalesce(a.carts, 0) AS carts,
               coalesce(a.purchases, 0) AS purchases, coalesce(a.units, 0) AS units,
               coalesce(a.spend_eur, 0) AS spend_eur,
               CASE WHEN a.purchases > 0 THEN round(a.spend_eur / a.purchases, 2) END AS avg_order_eur,
               f.favourite_category,
               a.last_purchase_at, a.last_seen_at
        FROM main.plant_shop.customers_silver AS c
        LEFT JOIN per_customer AS a ON a.customer_id = c.customer_id
        LEFT JOIN favourite AS f ON f.customer_id = c.customer_id
        ORDER BY c.customer_id
        """,
        "Per customer, for training the recommender: activity counts, units, spend, average "
        "order, favourite category (most purchased, then carted, then viewed), last purchase. "
        "No PII.",
    ),
    Step(
        "revenue_by_region",
        """
        CREATE VIEW main.plant_shop.revenue_by_region AS
        SELECT region,
               CAST(sum(views) AS BIGINT) AS views,
               CAST(sum(purchases) AS BIGINT) AS purchases,
               round(sum(revenue), 2) AS revenue,
               CAST(sum(purchases) AS DOUBLE) / nullif(sum(views), 0) AS conversion
        FROM main.plant_shop.daily_kpis
        GROUP BY region
        ORDER BY revenue DESC
        """,
        "Revenue, views, purchases and conversion per region over the whole window (a view over daily_kpis).",
    ),
]

PIPELINE: list[Step] = SILVER + GOLD

#: Column comments, by table.
COLUMN_COMMENTS: dict[str, dict[str, str]] = {
    "events_bronze": {
        "event_id": "Id of the event; re-deliveries repeat it with a later ingested_at.",
        "email": "Buyer's email address (PII), copied into every raw event.",
        "ingested_at": "When the event landed in the lakehouse (late events land hours to days later).",
    },
    "customers_bronze": {"email": "Customer's email address (PII)."},
    "events_silver": {
        "event_id": "Unique per row (deduplicated).",
        "event_date": "Calendar day of event_time in UTC.",
        "quantity": "Units put in the cart or bought; NULL for views.",
        "price_eur": "Unit price charged in EUR; NULL for views.",
    },
    "customers_silver": {"email": "Customer's email address (PII): contact only, never a feature."},
    "daily_kpis": {
        "revenue": "Sum of quantity * price_eur over purchases, in EUR, rounded to cents.",
        "conversion": "Purchases per view (NULL when there were no views).",
    },
    "customer_features": {
        "favourite_category": "Category with most purchases, then cart adds, then views; NULL without events.",
        "last_purchase_at": "Time of the customer's latest purchase; NULL if never bought.",
    },
}

#: Columns holding personal data; tagged ``pii`` so scans, masks and reports can find them.
PII_COLUMNS: list[tuple[str, str]] = [
    ("events_bronze", "email"),
    ("customers_bronze", "email"),
    ("customers_silver", "email"),
]

LAYERS: dict[str, str] = {
    **{name: "bronze" for name, *_ in BRONZE},
    **{step.name: "silver" for step in SILVER},
    **{step.name: "gold" for step in GOLD},
}

#: ``progress(phase, step, finished)``: called when a step starts and when it ends.
ProgressFn = Callable[[str, str, bool], None]


@dataclass
class PipelineRun:
    """What :func:`run_pipeline` built: full table names by layer, and seconds per step."""

    schema: str
    tables: list[tuple[str, str]] = field(default_factory=list)  # (layer, full name)
    timings: dict[str, float] = field(default_factory=dict)  # "phase/step" -> seconds
    seconds: float = 0.0

    def names(self, layer: str) -> list[str]:
        return [name for lay, name in self.tables if lay == layer]


def run_pipeline(
    lh: Any,
    *,
    events: int = 1_000_000,
    seed: int = 7,
    customers: int = 20_000,
    progress: ProgressFn | None = None,
) -> PipelineRun:
    """(Re)build ``main.plant_shop``: generate, load bronze, run the silver and gold SQL.

    The demo's tables are dropped first if they exist, so re-running gives the same tables
    and versions; other objects in ``main.plant_shop`` are left alone. ``progress`` is told
    when each step starts and ends.
    """
    started = time.perf_counter()
    run = PipelineRun(SCHEMA)
    report: ProgressFn = progress or (lambda phase, step, finished: None)

    def step(phase: str, name: str, work: Callable[[], Any]) -> Any:
        report(phase, name, False)
        t0 = time.perf_counter()
        out = work()
        run.timings[f"{phase}/{name}"] = time.perf_counter() - t0
        report(phase, name, True)
        return out

    # Replace the demo's own tables (views first), leaving anything else in the schema
    # alone. Dropped files stay until an operator removes them, as for every drop.
    for name in reversed(LAYERS):
        lh.drop(f"{SCHEMA}.{name}", if_exists=True)
    lh.create_schema(SCHEMA, comment="The plant shop: a web shop that recommends plants to buyers.", if_not_exists=True)

    raw = {
        "plants": step("generate", "plants", lambda: generate_plants(seed=seed)),
        "customers_bronze": step("generate", "customers", lambda: generate_customers(customers, seed=seed)),
        "events_bronze": step("generate", "events", lambda: generate_events(events, seed=seed, customers=customers)),
    }

    for name, schema, primary_key, comment in BRONZE:
        full = f"{SCHEMA}.{name}"

        def load(
            full: str = full,
            name: str = name,
            schema: Any = schema,
            primary_key: list[str] = primary_key,
            comment: str = comment,
        ) -> None:
            lh.create_table(full, schema=schema, primary_key=primary_key or None, comment=comment)
            lh.write(full, raw.pop(name), mode="append")

        step("load", name, load)
        run.tables.append(("bronze", full))

    for phase, steps in (("silver", SILVER), ("gold", GOLD)):
        for s in steps:
            full = f"{SCHEMA}.{s.name}"

            def build(sql: str = s.sql, table: str = full, comment: str = s.comment) -> None:
                lh.sql(sql)
                lh.set_comment(table, comment)

            step(phase, s.name, build)
            run.tables.append((phase, full))

    for table, columns in COLUMN_COMMENTS.items():
        for column, text in columns.items():
            lh.set_comment(f"{SCHEMA}.{table}", text, column=column)
    for table, column in PII_COLUMNS:
        lh.set_tags(f"{SCHEMA}.{table}", {"pii": "email"}, column=column)
    step("secure", "groups and grants", lambda: secure(lh))

    run.seconds = time.perf_counter() - started
    return run


#: Who works on the shop's data: user -> groups.
PEOPLE: dict[str, tuple[str, ...]] = {
    "ana": ("analysts",),
    "dani": ("data_scientists",),
    "lea": ("ml_leads", "data_scientists"),
    "pia": ("analysts", "pii_readers"),
}
GROUPS = ("analysts", "data_scientists", "ml_leads", "pii_readers")
#: Analysts see the regions they cover; everyone else sees every region.
REGION_FILTER = "region IN ('north', 'south') OR NOT is_member('analysts') OR is_member('pii_readers')"
EMAIL_MASK = "regexp_replace(value, '^[^@]+', '***')"


def secure(lh: Any) -> None:
    """Groups, people and grants of the plant shop; a row filter by region; PII masked.

    - analysts read gold and customers; data scientists read everything and create tables;
      ML leads hold ALL PRIVILEGES on the schema;
    - ``daily_kpis`` is filtered by region for analysts (``REGION_FILTER``);
    - every column tagged ``pii`` is masked for all but ``pii_readers`` (a tag policy).
    """
    known = {p.name for p in lh.principals()}
    for group in GROUPS:
        if group not in known:
            lh.create_group(group)
    for user, groups in PEOPLE.items():
        if user not in known:
            lh.create_user(user)
        for group in groups:
            lh.add_member(group, user)
    lh.add_member("pii_readers", lh.user)  # the demo's admin checks the real data too
    for group in ("analysts", "data_scientists", "ml_leads"):
        lh.grant("USE SCHEMA", on=SCHEMA, to=group)
    for step in GOLD:
        lh.grant("SELECT", on=f"{SCHEMA}.{step.name}", to="analysts")
    lh.grant("SELECT", on=f"{SCHEMA}.customers_silver", to="analysts")
    lh.grant("SELECT", on=SCHEMA, to="data_scientists")
    lh.grant("CREATE TABLE", on=SCHEMA, to="data_scientists")
    lh.grant("ALL PRIVILEGES", on=SCHEMA, to="ml_leads")
    lh.set_row_filter(f"{SCHEMA}.daily_kpis", REGION_FILTER)
    if "hide_pii" not in {p.name for p in lh.tag_policies()}:
        lh.create_tag_policy("hide_pii", tag="pii", mask=EMAIL_MASK, except_groups=["pii_readers"])


def seen_by(lh: Any, user: str) -> dict[str, Any]:
    """What ``user`` sees of the shop: the regions in daily_kpis and a few customer e-mails."""
    with lh.as_user(user) as other:
        regions = [
            r[0] for r in other.sql(f"SELECT DISTINCT region FROM {SCHEMA}.daily_kpis ORDER BY region").fetchall()
        ]
        emails = [
            r[0]
            for r in other.sql(f"SELECT email FROM {SCHEMA}.customers_silver ORDER BY customer_id LIMIT 2").fetchall()
        ]
    return {"user": user, "groups": PEOPLE.get(user, ()), "regions": regions, "emails": emails}


def denied_attempt(lh: Any, user: str = "ana", table: str = f"{SCHEMA}.events_bronze") -> str:
    """Let ``user`` try to read a table they hold no grant on; returns the refusal (it is audited)."""
    from glashaus.errors import PermissionDeniedError

    with lh.as_user(user) as other:
        try:
            other.sql(f"SELECT count(*) FROM {table}")
        except PermissionDeniedError as exc:
            return str(exc)
    return f"{user} could read {table}"
