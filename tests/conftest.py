"""Shared fixtures: a fresh embedded lakehouse per test, opened as alice; a browser for the web shell's tests."""

from __future__ import annotations

import os
import uuid

import pyarrow as pa
import pytest
import sqlalchemy as sa

import glashaus


def pytest_collection_modifyitems(config, items):
    """Tests marked ``network`` install packages: they run when GLASHAUS_TEST_NETWORK=1 (CI), else skip saying so."""
    if os.environ.get("GLASHAUS_TEST_NETWORK") == "1":
        return
    skip = pytest.mark.skip(
        reason="installs packages from the registry into a venv of its own; "
        "set GLASHAUS_TEST_NETWORK=1 to run it (.ci/run does)"
    )
    for item in items:
        if item.get_closest_marker("network"):
            item.add_marker(skip)


@pytest.fixture
def lh(tmp_path):
    """A new lakehouse under tmp_path, connected as alice; closed at teardown."""
    lake = glashaus.connect(tmp_path / "lh", user="alice")
    try:
        yield lake
    finally:
        lake.close()


@pytest.fixture
def shop(lh):
    """The lakehouse with schema main.shop created; returns the lakehouse."""
    lh.create_schema("main.shop")
    return lh


ORDERS_SCHEMA = pa.schema(
    [
        pa.field("order_id", pa.int64()),
        pa.field("region", pa.string()),
        pa.field("qty", pa.int32()),
        pa.field("price", pa.float64()),
    ]
)


@pytest.fixture
def orders(shop):
    """main.shop.orders with primary key order_id and CHECK qty > 0, holding 3 rows (version 1)."""
    shop.create_table(
        "main.shop.orders",
        schema=ORDERS_SCHEMA,
        primary_key=["order_id"],
        constraints={"qty_pos": "qty > 0"},
    )
    shop.write(
        "main.shop.orders",
        pa.table(
            {
                "order_id": [1, 2, 3],
                "region": ["N", "S", "N"],
                "qty": pa.array([1, 2, 3], pa.int32()),
                "price": [10.0, 20.0, 30.0],
            }
        ),
    )
    return shop


def version_of(lh, name: str) -> int:
    return lh.describe(name).version


def rows_of(lh, name: str, sort: str | None = None) -> list[dict]:
    table = lh.read(name)
    if sort:
        table = table.sort_by(sort)
    return table.to_pylist()


@pytest.fixture
def pg_database():
    """The URL of a new, empty database on GLASHAUS_TEST_POSTGRES_URL's server, dropped afterwards.

    Skipped without that variable, except in CI (``CI`` set), where its absence fails.
    """
    server = os.environ.get("GLASHAUS_TEST_POSTGRES_URL")
    if not server:
        if os.environ.get("CI"):
            pytest.fail("CI must set GLASHAUS_TEST_POSTGRES_URL (see scripts/start-postgres.sh)")
        pytest.skip("no PostgreSQL: set GLASHAUS_TEST_POSTGRES_URL (scripts/start-postgres.sh prints one)")
    name = f"glashaus_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, one per test module (``browser.needs_chromium`` skips without it)."""
    from browser import CHROMIUM
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
            ],
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser):
    """A fresh browser context (its own cookies) per test."""
    ctx = browser.new_context()
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context):
    return context.new_page()
