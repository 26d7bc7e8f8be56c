"""Behaviour of the plant shop's seeded raw-data generator (src/glashaus/examples/plant_shop/data.py)."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from glashaus.examples.plant_shop.data import (
    CATEGORIES,
    REGIONS,
    generate_customers,
    generate_events,
    generate_plants,
)

N = 50_000
CUSTOMERS = 2_000
DRIFT_AFTER = dt.date(2026, 5, 1)
HOUR_US = 3_600 * 1_000_000
EMAIL_RE = re.compile(r"^[a-z]+\.[a-z]+\d+@example\.(com|org|net)$")

EXPECTED_EVENT_SCHEMA = [
    ("event_id", pa.string()),
    ("event_type", pa.string()),
    ("customer_id", pa.int64()),
    ("email", pa.string()),
    ("plant_id", pa.int64()),
    ("quantity", pa.int32()),
    ("price_eur", pa.float64()),
    ("region", pa.string()),
    ("device", pa.string()),
    ("event_time", pa.timestamp("us", tz="UTC")),
    ("ingested_at", pa.timestamp("us", tz="UTC")),
]


@pytest.fixture(scope="module")
def events() -> pa.Table:
    return generate_events(N, seed=7, customers=CUSTOMERS)


@pytest.fixture(scope="module")
def customers() -> pa.Table:
    return generate_customers(CUSTOMERS, seed=7)


@pytest.fixture(scope="module")
def plants() -> pa.Table:
    return generate_plants(seed=7)


def _schema(table: pa.Table) -> list[tuple[str, pa.DataType]]:
    return [(f.name, f.type) for f in table.schema]


def _us(column: pa.ChunkedArray) -> np.ndarray:
    return pc.cast(column, pa.int64()).to_numpy()


# --------------------------------------------------------------------------- #
# Determinism
# --------------------------------------------------------------------------- #
def test_same_seed_gives_identical_tables(events: pa.Table) -> None:
    assert generate_events(N, seed=7, customers=CUSTOMERS).equals(events)
    assert generate_customers(CUSTOMERS, seed=7).equals(generate_customers(CUSTOMERS, seed=7))
    assert generate_plants(seed=7).equals(generate_plants(seed=7))


def test_different_seed_gives_different_tables(events: pa.Table) -> None:
    other = generate_events(N, seed=8, customers=CUSTOMERS)
    assert not other.equals(events)
    assert not set(other["event_id"].to_pylist()) & set(events["event_id"].to_pylist())
    assert not generate_customers(CUSTOMERS, seed=8).equals(generate_customers(CUSTOMERS, seed=7))
    assert not generate_plants(seed=8).equals(generate_plants(seed=7))


# --------------------------------------------------------------------------- #
# Shape and schema
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("n", [0, 1, 2, 5, 123, 10_001])
def test_exact_row_count_including_tiny_n(n: int) -> None:
    table = generate_events(n, seed=1, customers=50)
    assert table.num_rows == n
    assert _schema(table) == EXPECTED_EVENT_SCHEMA


def test_event_schema(events: pa.Table) -> None:
    assert events.num_rows == N
    assert _schema(events) == EXPECTED_EVENT_SCHEMA


def test_customer_and_plant_schemas(customers: pa.Table, plants: pa.Table) -> None:
    assert _schema(customers) == [
        ("customer_id", pa.int64()),
        ("email", pa.string()),
        ("region", pa.string()),
        ("age_band", pa.string()),
        ("signup_date", pa.date32()),
    ]
    assert _schema(plants) == [
        ("plant_id", pa.int64()),
        ("name", pa.string()),
        ("category", pa.string()),
        ("price_eur", pa.float64()),
        ("light", pa.string()),
        ("pet_safe", pa.bool_()),
    ]
    assert customers.num_rows == CUSTOMERS
    assert 50 <= plants.num_rows <= 70
    assert plants["plant_id"].to_pylist() == list(range(1, plants.num_rows + 1))
    assert set(plants["category"].to_pylist()) == set(CATEGORIES)
    assert set(plants["light"].to_pylist()) <= {"low", "medium", "bright"}
    assert "Monstera deliciosa" in plants["name"].to_pylist()
    assert pc.min(plants["price_eur"]).as_py() > 0
    assert set(customers["region"].to_pylist()) == set(REGIONS)
    assert set(customers["age_band"].to_pylist()) == {"18-24", "25-34", "35-44", "45-54", "55-64", "65+"}


def test_vocabularies(events: pa.Table) -> None:
    assert set(events["event_type"].to_pylist()) == {"view", "add_to_cart", "purchase"}
    assert set(events["device"].to_pylist()) == {"web", "ios", "android"}
    assert set(events["region"].to_pylist()) == set(REGIONS)
    shares = pc.value_counts(events["event_type"]).to_pylist()
    share = {d["values"]: d["counts"] / N for d in shares}
    assert 0.77 < share["view"] < 0.83
    assert 0.12 < share["add_to_cart"] < 0.18
    assert 0.03 < share["purchase"] < 0.07


def test_event_ids_are_uuid_like_hex(events: pa.Table) -> None:
    pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
    assert pc.all(pc.match_substring_regex(events["event_id"], pattern)).as_py()


def test_views_have_no_quantity_or_price(events: pa.Table) -> None:
    views = events.filter(pc.equal(events["event_type"], "view"))
    others = events.filter(pc.not_equal(events["event_type"], "view"))
    assert views["quantity"].null_count == views.num_rows
    assert views["price_eur"].null_count == views.num_rows
    assert others["quantity"].null_count == 0
    assert others["price_eur"].null_count == 0


def test_rows_arrive_in_landing_order(events: pa.Table) -> None:
    assert np.all(np.diff(_us(events["ingested_at"])) >= 0)


# --------------------------------------------------------------------------- #
# Quirks
# --------------------------------------------------------------------------- #
def test_duplicate_share_is_about_one_percent(events: pa.Table) -> None:
    unique = pc.count_distinct(events["event_id"]).as_py()
    assert 0.005 <= (N - unique) / N <= 0.02


def test_duplicates_are_redeliveries_with_later_ingestion(events: pa.Table) -> None:
    ids = events["event_id"].to_numpy(zero_copy_only=False)
    _, first, counts = np.unique(ids, return_index=True, return_counts=True)
    assert counts.max() == 2
    repeated = np.flatnonzero(np.isin(ids, ids[first[counts == 2]]))
    dups = events.take(pa.array(repeated)).sort_by([("event_id", "ascending"), ("ingested_at", "ascending")])
    d_landed = _us(dups["ingested_at"])
    assert np.all(d_landed[1::2] > d_landed[0::2])
    for name in ("event_type", "customer_id", "email", "plant_id", "event_time", "device"):
        col = dups[name].to_pylist()
        assert col[0::2] == col[1::2], name


def test_some_events_arrive_late(events: pa.Table) -> None:
    lag = _us(events["ingested_at"]) - _us(events["event_time"])
    assert np.all(lag > 0)
    late_share = np.mean(lag > HOUR_US)
    assert 0.01 <= late_share <= 0.04
    assert lag.max() <= 73 * HOUR_US
    assert np.median(lag) < 5 * 60 * 1_000_000  # normally seconds to minutes


def test_drift_after_date_is_visible(events: pa.Table, plants: pa.Table) -> None:
    cutoff = int((DRIFT_AFTER - dt.date(1970, 1, 1)).days) * 24 * HOUR_US
    after = _us(events["event_time"]) >= cutoff
    assert 0 < after.sum() < N
    mobile = events["device"].to_numpy(zero_copy_only=False) != "web"
    assert mobile[after].mean() >= 1.5 * mobile[~after].mean()

    # Prices paid rise ~15 % over the catalogue price after the drift date.
    catalogue = plants["price_eur"].to_numpy()[events["plant_id"].to_numpy() - 1]
    paid = events["price_eur"].to_numpy(zero_copy_only=False)  # NaN for views
    ratio = paid / catalogue
    assert np.allclose(ratio[~after & ~np.isnan(ratio)], 1.0)
    assert np.allclose(ratio[after & ~np.isnan(ratio)], 1.15, atol=0.01)

    # Category mix shifts towards succulents and cacti.
    category = np.asarray(plants["category"].to_pylist())[events["plant_id"].to_numpy() - 1]
    dry = np.isin(category, ["succulent", "cactus"])
    assert dry[after].mean() > dry[~after].mean() + 0.1


def test_emails_are_pii_on_example_domains(events: pa.Table, customers: pa.Table) -> None:
    emails = customers["email"].to_pylist()
    assert all(EMAIL_RE.match(e) for e in emails)
    assert len(set(emails)) == len(emails)
    event_emails = events["email"].drop_null().unique().to_pylist()
    assert all(EMAIL_RE.match(e) for e in event_emails)


def test_events_copy_the_customers_email_and_region(events: pa.Table, customers: pa.Table) -> None:
    known = events.filter(pc.is_valid(events["customer_id"]))
    idx = known["customer_id"].to_numpy() - 1
    assert known["email"].to_pylist() == customers["email"].take(pa.array(idx)).to_pylist()
    assert known["region"].to_pylist() == customers["region"].take(pa.array(idx)).to_pylist()


def test_customer_ids_are_unique(customers: pa.Table) -> None:
    ids = customers["customer_id"].to_numpy()
    assert np.unique(ids).size == ids.size
    assert ids.min() == 1 and ids.max() == CUSTOMERS
    assert generate_customers(0).num_rows == 0


def test_dirty_values_for_silver_cleaning(events: pa.Table) -> None:
    null_ids = events["customer_id"].null_count
    assert 0 < null_ids <= 0.005 * N
    assert events["email"].null_count == null_ids
    negative = pc.sum(pc.less(events["quantity"], 0)).as_py()
    assert 0 < negative <= 0.005 * N


def test_alpine_purchases_ignore_the_viewing_preference(events: pa.Table, plants: pa.Table) -> None:
    known = events.filter(pc.is_valid(events["customer_id"]))
    customer = known["customer_id"].to_numpy() - 1
    category_of_plant = np.array([CATEGORIES.index(c) for c in plants["category"].to_pylist()])
    category = category_of_plant[known["plant_id"].to_numpy() - 1]
    kind = known["event_type"].to_numpy(zero_copy_only=False)
    region = known["region"].to_numpy(zero_copy_only=False)

    views = np.zeros((CUSTOMERS, len(CATEGORIES)))
    np.add.at(views, (customer[kind == "view"], category[kind == "view"]), 1)
    favourite = views.argmax(axis=1)
    bought = kind == "purchase"
    hit = favourite[customer[bought]] == category[bought]
    alpine = region[bought] == "alpine"
    assert hit[~alpine].mean() > 0.6
    assert hit[alpine].mean() < hit[~alpine].mean() - 0.3


# --------------------------------------------------------------------------- #
# Argument checking
# --------------------------------------------------------------------------- #
def test_negative_n_raises_clear_error() -> None:
    with pytest.raises(ValueError, match=r"n must be non-negative, got -1"):
        generate_events(-1)
    with pytest.raises(ValueError, match=r"n must be non-negative, got -5"):
        generate_customers(-5)


def test_other_bad_arguments() -> None:
    with pytest.raises(ValueError, match="customers"):
        generate_events(10, customers=0)
    with pytest.raises(ValueError, match="days"):
        generate_events(10, days=0)
    with pytest.raises(TypeError, match="n must be an int"):
        generate_events(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="start"):
        generate_events(10, start="2026-01-01")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        generate_events(10, 7)  # type: ignore[misc]  # options are keyword-only
