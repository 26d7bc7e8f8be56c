"""Seeded generator of the plant shop's raw data (the Glashaus running example).

Over 500 lines: the demo's data story, one generator per bronze table, kept in one place
so that the story reads from top to bottom.

A web shop recommends plants to buyers. This module produces the three raw
("bronze") inputs of the example as :class:`pyarrow.Table` objects:

* :func:`generate_plants` -- the catalogue (61 real plant species).
* :func:`generate_customers` -- customer master data, including PII (email).
* :func:`generate_events` -- the click stream as it lands from the web app.

Everything is vectorised (numpy + pyarrow, no per-row Python loops) and fully
determined by ``seed``: the same arguments always give an identical table, a
different seed gives different data. ``generate_events(seed=s, customers=c)``
uses exactly the customers of ``generate_customers(c, seed=s)`` (same ids,
emails and regions) and the plants and prices of ``generate_plants(seed=s)``,
so the three tables join cleanly.

Hidden behaviour (not a column, but what a recommender has to learn)
--------------------------------------------------------------------
Every customer has a *preferred category*, drawn from a category mix that
depends on the customer's age band (younger buyers lean to succulents, cacti
and tropicals, older ones to flowering plants, herbs and trees). The plants a
customer views, puts in the cart and buys mostly come from that category
(``PREFERENCE_FOLLOW``); within a category plants are picked by a fixed,
seeded popularity.

Realistic quirks of the raw events (each driven by ``seed``; the knobs are the
module-level constants named in brackets and are read at call time)
--------------------------------------------------------------------------------
1. **Late events** [``LATE_SHARE`` = 0.02, ``LATE_DELAY_HOURS`` = (1, 72)]:
   normally ``ingested_at`` is seconds to minutes after ``event_time``
   (log-normal, median ~20 s, capped at 30 min); ~2 % of events arrive 1 hour
   to 3 days late (log-uniform delay).
2. **Duplicates** [``DUPLICATE_SHARE`` = 0.01, ``REDELIVERY_DELAY_SECONDS`` =
   (1, 1800)]: ~1 % of the returned rows are re-deliveries of another event:
   identical in every column (same ``event_id``) except for a later
   ``ingested_at`` (1 s to 30 min after the first delivery). Duplicates count
   towards ``n``.
3. **PII**: ``email`` holds the customer's email address, copied into every raw
   event (null when ``customer_id`` is null).
4. **Under-performing region** [``PREFERENCE_FOLLOW``, ``ALPINE_CATEGORY_SHARES``]:
   outside "alpine", 60 % of views, 72 % of cart adds and 85 % of purchases
   are in the customer's preferred category; in "alpine" only 45 %, 30 % and
   10 %, the rest follows an alpine-specific category mix (more herbs and
   trees). A recommender trained on preferences does clearly worse there.
5. **Drift after ``drift_after``** (events with ``event_time`` at or after
   midnight UTC of that date) [``DEVICE_SHARES_BEFORE``/``DEVICE_SHARES_AFTER``,
   ``DRIFT_PRICE_FACTOR`` = 1.15, ``DRIFT_CATEGORY_SHIFT`` = 0.30]: the mobile
   share (ios + android) rises from ~38 % to ~70 %; prices paid rise by 15 %
   over the catalogue price; 30 % of events are redirected to
   "succulent"/"cactus" plants (half each).
6. **Dirty values** [``NULL_CUSTOMER_SHARE`` = 0.001,
   ``NEGATIVE_QUANTITY_SHARE`` = 0.001]: ~0.1 % of rows have a null
   ``customer_id`` (and null ``email``), and ~0.1 % of rows (all of them cart
   adds or purchases) carry a negative ``quantity``.

Other shape: 80/15/5 % views/cart adds/purchases (``EVENT_TYPE_SHARES``);
traffic grows ~30 % over the window, is ~25 % higher at weekends and peaks at
lunchtime and in the evening (UTC); customer activity is heavy-tailed
(log-normal). ``price_eur`` is the unit price actually charged; views have null
``quantity`` and ``price_eur``. Rows come in landing order (sorted by
``ingested_at``), as a bronze table would receive them.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "CUSTOMERS_SCHEMA",
    "EVENTS_SCHEMA",
    "PLANTS_SCHEMA",
    "generate_customers",
    "generate_events",
    "generate_plants",
]

# --------------------------------------------------------------------------- #
# Vocabularies
# --------------------------------------------------------------------------- #
CATEGORIES = ("succulent", "tropical", "herb", "flowering", "fern", "cactus", "tree")
REGIONS = ("north", "south", "east", "west", "alpine")
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
DEVICES = ("web", "ios", "android")
EVENT_TYPES = ("view", "add_to_cart", "purchase")
LIGHT_LEVELS = ("low", "medium", "bright")
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")

# --------------------------------------------------------------------------- #
# Knobs (see the module docstring)
# --------------------------------------------------------------------------- #
EVENT_TYPE_SHARES = (0.80, 0.15, 0.05)
LATE_SHARE = 0.02
LATE_DELAY_HOURS = (1.0, 72.0)
DUPLICATE_SHARE = 0.01
REDELIVERY_DELAY_SECONDS = (1, 1800)
NULL_CUSTOMER_SHARE = 0.001
NEGATIVE_QUANTITY_SHARE = 0.001
# Probability that an event is in the customer's preferred category:
# rows view / add_to_cart / purchase, columns (other regions, alpine).
PREFERENCE_FOLLOW = ((0.60, 0.45), (0.72, 0.30), (0.85, 0.10))
DEVICE_SHARES_BEFORE = (0.62, 0.20, 0.18)
DEVICE_SHARES_AFTER = (0.30, 0.36, 0.34)
DRIFT_PRICE_FACTOR = 1.15
DRIFT_CATEGORY_SHIFT = 0.30

REGION_SHARES = (0.25, 0.25, 0.20, 0.18, 0.12)
AGE_BAND_SHARES = (0.12, 0.26, 0.22, 0.17, 0.13, 0.10)
EMAIL_DOMAIN_SHARES = (0.5, 0.3, 0.2)
# Category mix of events that do not follow the customer's preference.
CATEGORY_SHARES = (0.18, 0.24, 0.12, 0.16, 0.10, 0.08, 0.12)
ALPINE_CATEGORY_SHARES = (0.12, 0.08, 0.22, 0.18, 0.10, 0.10, 0.20)
# Tilt of CATEGORY_SHARES per age band, giving the preferred-category mix.
_AGE_CATEGORY_TILT = (
    (1.5, 1.4, 0.8, 0.6, 1.0, 1.5, 0.6),
    (1.3, 1.4, 1.0, 0.7, 1.0, 1.2, 0.8),
    (1.0, 1.1, 1.2, 1.0, 1.0, 1.0, 1.0),
    (0.8, 0.9, 1.2, 1.3, 1.0, 0.8, 1.2),
    (0.6, 0.7, 1.3, 1.6, 1.1, 0.6, 1.3),
    (0.5, 0.6, 1.3, 1.8, 1.1, 0.5, 1.4),
)
# Relative traffic per hour of day (UTC).
_HOURLY_WEIGHTS = (
    0.8,
    0.5,
    0.3,
    0.2,
    0.2,
    0.3,
    0.6,
    1.0,
    1.4,
    1.6,
    1.7,
    1.9,
    2.3,
    2.2,
    1.8,
    1.7,
    1.7,
    1.9,
    2.3,
    2.8,
    3.0,
    2.7,
    2.0,
    1.3,
)
_SIGNUP_FIRST = dt.date(2023, 1, 1)
_SIGNUP_LAST = dt.date(2025, 12, 31)

_FIRST_NAMES = (
    "anna",
    "lena",
    "marie",
    "sophie",
    "laura",
    "julia",
    "hannah",
    "lea",
    "sarah",
    "emma",
    "mia",
    "clara",
    "katharina",
    "johanna",
    "eva",
    "paula",
    "nina",
    "lisa",
    "elif",
    "zoe",
    "lukas",
    "jonas",
    "leon",
    "felix",
    "paul",
    "max",
    "elias",
    "noah",
    "david",
    "tim",
    "jan",
    "florian",
    "tobias",
    "simon",
    "moritz",
    "niklas",
    "matteo",
    "emil",
    "anton",
    "ali",
)
_LAST_NAMES = (
    "mueller",
    "schmidt",
    "schneider",
    "fischer",
    "weber",
    "meyer",
    "wagner",
    "becker",
    "schulz",
    "hoffmann",
    "koch",
    "richter",
    "bauer",
    "klein",
    "wolf",
    "schroeder",
    "neumann",
    "schwarz",
    "braun",
    "zimmermann",
    "hofer",
    "huber",
    "gruber",
    "wimmer",
    "moser",
    "steiner",
    "berger",
    "egger",
    "fuchs",
    "keller",
    "lang",
    "vogel",
    "frank",
    "yilmaz",
    "kaya",
    "novak",
    "rossi",
    "jansen",
    "peters",
    "hartmann",
)

# name, category, light, pet_safe, typical price in EUR
_PLANT_CATALOG = (
    ("Echeveria elegans", "succulent", "bright", True, 7.0),
    ("Aloe vera", "succulent", "bright", False, 9.0),
    ("Crassula ovata", "succulent", "bright", False, 14.0),
    ("Haworthiopsis attenuata", "succulent", "medium", True, 8.0),
    ("Sedum morganianum", "succulent", "bright", True, 12.0),
    ("Senecio rowleyanus", "succulent", "bright", False, 13.0),
    ("Graptopetalum paraguayense", "succulent", "bright", True, 7.0),
    ("Sempervivum tectorum", "succulent", "bright", True, 5.0),
    ("Pachyphytum oviferum", "succulent", "bright", True, 9.0),
    ("Monstera deliciosa", "tropical", "medium", False, 35.0),
    ("Philodendron hederaceum", "tropical", "medium", False, 16.0),
    ("Epipremnum aureum", "tropical", "low", False, 14.0),
    ("Goeppertia orbifolia", "tropical", "medium", True, 29.0),
    ("Alocasia amazonica", "tropical", "medium", False, 27.0),
    ("Zamioculcas zamiifolia", "tropical", "low", False, 24.0),
    ("Dracaena trifasciata", "tropical", "low", False, 22.0),
    ("Anthurium clarinervium", "tropical", "medium", False, 45.0),
    ("Maranta leuconeura", "tropical", "medium", True, 15.0),
    ("Syngonium podophyllum", "tropical", "medium", False, 13.0),
    ("Ocimum basilicum", "herb", "bright", True, 4.0),
    ("Mentha spicata", "herb", "medium", False, 4.0),
    ("Salvia rosmarinus", "herb", "bright", True, 5.0),
    ("Thymus vulgaris", "herb", "bright", True, 4.0),
    ("Petroselinum crispum", "herb", "medium", False, 3.0),
    ("Salvia officinalis", "herb", "bright", True, 5.0),
    ("Lavandula angustifolia", "herb", "bright", False, 7.0),
    ("Allium schoenoprasum", "herb", "medium", False, 3.0),
    ("Origanum vulgare", "herb", "bright", False, 4.0),
    ("Phalaenopsis amabilis", "flowering", "medium", True, 22.0),
    ("Spathiphyllum wallisii", "flowering", "low", False, 18.0),
    ("Anthurium andraeanum", "flowering", "medium", False, 24.0),
    ("Saintpaulia ionantha", "flowering", "medium", True, 8.0),
    ("Kalanchoe blossfeldiana", "flowering", "bright", False, 7.0),
    ("Hibiscus rosa-sinensis", "flowering", "bright", True, 26.0),
    ("Cyclamen persicum", "flowering", "medium", False, 9.0),
    ("Gardenia jasminoides", "flowering", "bright", False, 19.0),
    ("Strelitzia reginae", "flowering", "bright", False, 39.0),
    ("Hoya carnosa", "flowering", "medium", True, 17.0),
    ("Nephrolepis exaltata", "fern", "medium", True, 15.0),
    ("Asplenium nidus", "fern", "low", True, 19.0),
    ("Adiantum raddianum", "fern", "medium", True, 14.0),
    ("Platycerium bifurcatum", "fern", "medium", True, 29.0),
    ("Davallia fejeensis", "fern", "medium", True, 18.0),
    ("Pteris cretica", "fern", "low", True, 11.0),
    ("Asparagus setaceus", "fern", "medium", False, 12.0),
    ("Mammillaria elongata", "cactus", "bright", True, 8.0),
    ("Echinocactus grusonii", "cactus", "bright", True, 24.0),
    ("Opuntia microdasys", "cactus", "bright", True, 11.0),
    ("Schlumbergera truncata", "cactus", "medium", True, 12.0),
    ("Cereus repandus", "cactus", "bright", True, 29.0),
    ("Astrophytum asterias", "cactus", "bright", True, 15.0),
    ("Gymnocalycium mihanovichii", "cactus", "bright", True, 9.0),
    ("Euphorbia trigona", "cactus", "bright", False, 21.0),
    ("Ficus lyrata", "tree", "bright", False, 59.0),
    ("Ficus elastica", "tree", "medium", False, 32.0),
    ("Dracaena marginata", "tree", "medium", False, 36.0),
    ("Olea europaea", "tree", "bright", True, 69.0),
    ("Citrus limon", "tree", "bright", False, 49.0),
    ("Schefflera arboricola", "tree", "medium", False, 34.0),
    ("Pachira aquatica", "tree", "medium", True, 39.0),
    ("Beaucarnea recurvata", "tree", "bright", True, 44.0),
)

# --------------------------------------------------------------------------- #
# Schemas
# --------------------------------------------------------------------------- #
PLANTS_SCHEMA = pa.schema(
    [
        ("plant_id", pa.int64()),
        ("name", pa.string()),
        ("category", pa.string()),
        ("price_eur", pa.float64()),
        ("light", pa.string()),
        ("pet_safe", pa.bool_()),
    ]
)
CUSTOMERS_SCHEMA = pa.schema(
    [
        ("customer_id", pa.int64()),
        ("email", pa.string()),
        ("region", pa.string()),
        ("age_band", pa.string()),
        ("signup_date", pa.date32()),
    ]
)
_TS = pa.timestamp("us", tz="UTC")
EVENTS_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("event_type", pa.string()),
        ("customer_id", pa.int64()),
        ("email", pa.string()),
        ("plant_id", pa.int64()),
        ("quantity", pa.int32()),
        ("price_eur", pa.float64()),
        ("region", pa.string()),
        ("device", pa.string()),
        ("event_time", _TS),
        ("ingested_at", _TS),
    ]
)

# Independent random streams per table, so that e.g. the customers used by
# generate_events are exactly those of generate_customers.
_STREAM_PLANTS, _STREAM_CUSTOMERS, _STREAM_EVENTS = 1, 2, 3
_US_PER_SECOND = 1_000_000
_US_PER_HOUR = 3_600 * _US_PER_SECOND
_US_PER_DAY = 24 * _US_PER_HOUR
_EPOCH = dt.date(1970, 1, 1)
_UUID_BYTES = 16
_UUID_CHARS = 36
_MAX_STRING_BYTES = 2**31 - 1


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #
def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        kind = "non-negative" if minimum == 0 else f">= {minimum}"
        raise ValueError(f"{name} must be {kind}, got {value}")
    return int(value)


def _check_date(name: str, value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if not isinstance(value, dt.date):
        raise TypeError(f"{name} must be a datetime.date, got {type(value).__name__}")
    return value


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream,)))


def _probabilities(weights: object) -> np.ndarray:
    p = np.asarray(weights, dtype=np.float64)
    return p / p.sum()


def _draw(u: np.ndarray, weights: object) -> np.ndarray:
    """Index i with probability weights[i] for each uniform in ``u`` (exact inverse CDF).

    Same result as ``searchsorted(cdf, u, side="right")`` but O(1) per draw: a guide
    table jumps close to the answer, then a few vectorised steps finish the search.
    """
    cdf = np.cumsum(_probabilities(weights))
    cdf[-1] = 1.0
    buckets = max(4 * cdf.size, 1024)
    guide = np.searchsorted(cdf, np.arange(buckets) / buckets, side="right")
    idx = guide[np.minimum((u * buckets).astype(np.int64), buckets - 1)]
    active = np.flatnonzero(cdf[idx] <= u)
    while active.size:  # a handful of iterations, each over the rows still active
        idx[active] += 1
        active = active[cdf[idx[active]] <= u[active]]
    return idx


def _draw_grouped(u: np.ndarray, group: np.ndarray, weights: object) -> np.ndarray:
    """Like :func:`_draw`, but row r draws from ``weights[group[r]]`` (a (groups, k) table).

    Group g owns the key range (g, g + 1]; zero weights (padding) are never drawn.
    """
    w = np.asarray(weights, dtype=np.float64)
    cdf = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    last = w.shape[1] - 1 - np.argmax(w[:, ::-1] > 0, axis=1)  # last drawable column
    cdf[np.arange(w.shape[1])[None, :] >= last[:, None]] = 1.0
    keys = (np.arange(w.shape[0])[:, None] + cdf).ravel()
    idx = np.searchsorted(keys, group + u, side="right") - group.astype(np.int64) * w.shape[1]
    return np.minimum(idx, last[group])  # guards the rare rounding of g + u up to g + 1


def _strings(values: tuple[str, ...], indices: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Decode small-vocabulary indices into a plain string array (null where ``mask``)."""
    codes = pa.array(indices.astype(np.int32, copy=False), mask=mask)
    return pa.DictionaryArray.from_arrays(codes, pa.array(values, type=pa.string())).cast(pa.string())


def _epoch_us(day: dt.date) -> int:
    return (day - _EPOCH).days * _US_PER_DAY


def _hex_quads() -> np.ndarray:
    """Lookup table: little-endian uint16 of two bytes -> their 4 ascii hex digits (as uint32)."""
    pairs = np.frombuffer(b"".join(b"%02x" % i for i in range(256)), dtype=np.uint8).reshape(256, 2)
    v = np.arange(65536)
    return np.ascontiguousarray(np.concatenate([pairs[v & 0xFF], pairs[v >> 8]], axis=1)).view(np.uint32)[:, 0]


_HEX_QUADS = _hex_quads()


def _uuid_strings(raw: np.ndarray) -> pa.Array | pa.ChunkedArray:
    """Format an (n, 16) uint8 array as lowercase uuid4 strings, fully vectorised."""
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    n = raw.shape[0]
    rows_per_chunk = max(1, _MAX_STRING_BYTES // _UUID_CHARS)
    chunks = []
    for lo in range(0, n, rows_per_chunk):  # one iteration unless n > ~59M
        part = raw[lo : lo + rows_per_chunk]
        m = part.shape[0]
        digits = _HEX_QUADS[part.view("<u2")].view(np.uint8)  # (m, 32) ascii hex digits
        out = np.full((m, _UUID_CHARS), ord("-"), dtype=np.uint8)
        out[:, 0:8] = digits[:, 0:8]
        out[:, 9:13] = digits[:, 8:12]
        out[:, 14:18] = digits[:, 12:16]
        out[:, 19:23] = digits[:, 16:20]
        out[:, 24:36] = digits[:, 20:32]
        offsets = np.arange(0, (m + 1) * _UUID_CHARS, _UUID_CHARS, dtype=np.int32)
        chunks.append(
            pa.Array.from_buffers(pa.string(), m, [None, pa.py_buffer(offsets), pa.py_buffer(out.reshape(-1))])
        )
    return chunks[0] if len(chunks) == 1 else pa.chunked_array(chunks, type=pa.string())


def _plant_model(seed: int) -> tuple[pa.Table, np.ndarray, np.ndarray, np.ndarray]:
    """Catalogue table plus per-plant category index, popularity and price."""
    rng = _rng(seed, _STREAM_PLANTS)
    names, categories, lights, pet_safe, base = zip(*_PLANT_CATALOG, strict=False)
    base_price = np.asarray(base, dtype=np.float64)
    # Seeded price list: +-10 % around the typical price, ending in .99.
    price = np.round(np.floor(base_price * rng.uniform(0.9, 1.1, base_price.size)) + 0.99, 2)
    popularity = rng.lognormal(0.0, 0.6, base_price.size)
    category_idx = np.array([CATEGORIES.index(c) for c in categories], dtype=np.int8)
    table = pa.Table.from_arrays(
        [
            pa.array(np.arange(1, base_price.size + 1, dtype=np.int64)),
            pa.array(names, type=pa.string()),
            pa.array(categories, type=pa.string()),
            pa.array(price),
            pa.array(lights, type=pa.string()),
            pa.array(pet_safe, type=pa.bool_()),
        ],
        schema=PLANTS_SCHEMA,
    )
    return table, category_idx, popularity, price


def _customer_model(n: int, seed: int) -> tuple[pa.Table, np.ndarray, np.ndarray, np.ndarray]:
    """Customer table plus per-customer region index, preferred category and activity."""
    rng = _rng(seed, _STREAM_CUSTOMERS)
    ids = np.arange(1, n + 1, dtype=np.int64)
    region = _draw(rng.random(n), REGION_SHARES).astype(np.int8)
    age = _draw(rng.random(n), AGE_BAND_SHARES).astype(np.int8)

    first = rng.integers(0, len(_FIRST_NAMES), n)
    last = rng.integers(0, len(_LAST_NAMES), n)
    number = rng.integers(1, 100, n)
    domain = _draw(rng.random(n), EMAIL_DOMAIN_SHARES)
    # Make emails unique: a repeated name/number/domain gets 100 + customer_id.
    key = ((first * len(_LAST_NAMES) + last) * 100 + number) * len(EMAIL_DOMAINS) + domain
    repeated = np.ones(n, dtype=bool)
    repeated[np.unique(key, return_index=True)[1]] = False
    number = np.where(repeated, 100 + ids, number)
    email = pc.binary_join_element_wise(
        _strings(_FIRST_NAMES, first),
        ".",
        _strings(_LAST_NAMES, last),
        pc.cast(pa.array(number), pa.string()),
        "@",
        _strings(EMAIL_DOMAINS, domain),
        "",
    )

    # Sign-ups between 2023 and 2025, more of them recently.
    span = (_SIGNUP_LAST - _SIGNUP_FIRST).days + 1
    first_day = (_SIGNUP_FIRST - _EPOCH).days
    signup = first_day + np.floor(span * np.sqrt(rng.random(n))).astype(np.int32)

    tilt = np.asarray(_AGE_CATEGORY_TILT) * np.asarray(CATEGORY_SHARES)
    preferred = _draw_grouped(rng.random(n), age, tilt).astype(np.int8)
    activity = rng.lognormal(0.0, 1.0, n)

    table = pa.Table.from_arrays(
        [
            pa.array(ids),
            email,
            _strings(REGIONS, region),
            _strings(AGE_BANDS, age),
            pa.array(signup.astype(np.int32), type=pa.date32()),
        ],
        schema=CUSTOMERS_SCHEMA,
    )
    return table, region, preferred, activity


# --------------------------------------------------------------------------- #
# Public API
# --------------------------------------------------------------------------- #
def generate_plants(*, seed: int = 7) -> pa.Table:
    """Return the plant catalogue (61 real species, seeded list prices in EUR).

    Example: ``generate_plants(seed=7).num_rows  # 61``
    """
    seed = _check_int("seed", seed, 0)
    return _plant_model(seed)[0]


def generate_customers(n: int = 20_000, *, seed: int = 7) -> pa.Table:
    """Return ``n`` customers (ids 1..n) with a unique PII email, region, age band, signup date.

    Example: ``generate_customers(1_000, seed=7).column("email")[0]``
    """
    n = _check_int("n", n, 0)
    seed = _check_int("seed", seed, 0)
    return _customer_model(n, seed)[0]


def generate_events(
    n: int = 1_000_000,
    *,
    seed: int = 7,
    customers: int = 20_000,
    start: dt.date = dt.date(2026, 1, 1),
    days: int = 180,
    drift_after: dt.date = dt.date(2026, 5, 1),
) -> pa.Table:
    """Return exactly ``n`` raw click-stream events (bronze), quirks included; see the module docstring.

    Example: ``generate_events(100_000, seed=7, customers=5_000).num_rows  # 100000``
    """
    n = _check_int("n", n, 0)
    seed = _check_int("seed", seed, 0)
    customers = _check_int("customers", customers, 1)
    days = _check_int("days", days, 1)
    start = _check_date("start", start)
    drift_after = _check_date("drift_after", drift_after)
    if n == 0:
        return EVENTS_SCHEMA.empty_table()

    _, plant_category, popularity, plant_price = _plant_model(seed)
    customer_table, cust_region, cust_preferred, activity = _customer_model(customers, seed)
    emails = customer_table.column("email").combine_chunks()
    del customer_table
    rng = _rng(seed, _STREAM_EVENTS)

    # How many of the n rows are re-deliveries (never more than the originals).
    n_dup = min(int(rng.binomial(n, DUPLICATE_SHARE)), n // 2)
    m = n - n_dup

    # When: day (weekend bump, growth) x hour-of-day profile, uniform within the hour.
    day = np.arange(days)
    weekday = (start.toordinal() + 6 + day) % 7  # Monday == 0
    day_w = np.where(weekday >= 5, 1.25, 1.0) * (1.0 + 0.3 * day / days)
    slot_p = np.outer(_probabilities(day_w), _probabilities(_HOURLY_WEIGHTS)).ravel()
    slot = _draw(rng.random(m), slot_p)
    event_time = _epoch_us(start) + slot * _US_PER_HOUR + rng.integers(0, _US_PER_HOUR, m)
    del slot
    drifted = event_time >= _epoch_us(drift_after)

    # Who and what.
    cust = _draw(rng.random(m), activity).astype(np.int32)
    etype = _draw(rng.random(m), EVENT_TYPE_SHARES).astype(np.int8)
    is_view = etype == 0
    region = cust_region[cust]
    alpine = region == REGIONS.index("alpine")

    # Category: preferred one, else the (regional) background mix; then drift.
    follow_p = np.asarray(PREFERENCE_FOLLOW, dtype=np.float64)[etype, alpine.view(np.int8)]
    follow = rng.random(m) < follow_p
    del follow_p
    background = _draw_grouped(rng.random(m), alpine.view(np.int8), (CATEGORY_SHARES, ALPINE_CATEGORY_SHARES)).astype(
        np.int8
    )
    category = np.where(follow, cust_preferred[cust], background)
    del follow, background
    shift = np.flatnonzero(drifted & (rng.random(m) < DRIFT_CATEGORY_SHIFT))
    category[shift] = np.where(rng.random(shift.size) < 0.5, CATEGORIES.index("succulent"), CATEGORIES.index("cactus"))

    # Plant within its category, by popularity (a zero-padded category x plant table).
    members = [np.flatnonzero(plant_category == c) for c in range(len(CATEGORIES))]  # 7 items
    width = max(len(ix) for ix in members)
    weights = np.zeros((len(CATEGORIES), width))
    plant_at = np.zeros((len(CATEGORIES), width), dtype=np.int64)
    for c, ix in enumerate(members):
        weights[c, : ix.size] = popularity[ix]
        plant_at[c, : ix.size] = ix
    plant = plant_at[category, _draw_grouped(rng.random(m), category, weights)]
    del category

    quantity = np.minimum(rng.geometric(0.6, m), 10).astype(np.int32)
    negative = ~is_view & (rng.random(m) < NEGATIVE_QUANTITY_SHARE / (1.0 - EVENT_TYPE_SHARES[0]))
    quantity[negative] *= -1
    price = np.round(plant_price[plant] * np.where(drifted, DRIFT_PRICE_FACTOR, 1.0), 2)

    device = _draw_grouped(rng.random(m), drifted.view(np.int8), (DEVICE_SHARES_BEFORE, DEVICE_SHARES_AFTER)).astype(
        np.int8
    )
    del drifted

    # Landing delay: seconds to minutes, ~2 % hours to days late.
    delay_s = np.clip(rng.lognormal(math.log(20.0), 1.0, m), 0.05, 1800.0)
    late = np.flatnonzero(rng.random(m) < LATE_SHARE)
    lo, hi = (math.log(h * 3600.0) for h in LATE_DELAY_HOURS)
    delay_s[late] = np.exp(rng.uniform(lo, hi, late.size))
    ingested_at = event_time + (delay_s * _US_PER_SECOND).astype(np.int64)
    del delay_s, late

    null_customer = rng.random(m) < NULL_CUSTOMER_SHARE
    # 16 random bytes per event (viewed as one 16-byte item so gathering rows is cheap).
    raw_ids = rng.bit_generator.random_raw((m, 2)).astype("<u8", copy=False).view(np.uint8)

    # Re-deliveries: copies of n_dup distinct originals, landing a bit later.
    dup_src = rng.choice(m, size=n_dup, replace=False) if n_dup else np.empty(0, np.int64)
    redelivery = rng.integers(
        REDELIVERY_DELAY_SECONDS[0] * _US_PER_SECOND, REDELIVERY_DELAY_SECONDS[1] * _US_PER_SECOND + 1, n_dup
    )
    landed = np.concatenate([ingested_at, ingested_at[dup_src] + redelivery])
    landing_order = np.argsort(landed, kind="stable")
    rows = np.concatenate([np.arange(m, dtype=np.int64), dup_src])[landing_order]
    landed = landed[landing_order]
    del landing_order, ingested_at, dup_src

    cust, etype, plant = cust[rows], etype[rows], plant[rows]
    no_customer = null_customer[rows]
    view_rows = is_view[rows]
    arrays = [
        _uuid_strings(raw_ids.view(np.complex128)[:, 0][rows].view(np.uint8).reshape(-1, _UUID_BYTES)),
        _strings(EVENT_TYPES, etype),
        pa.array(cust.astype(np.int64) + 1, mask=no_customer),
        emails.take(pa.array(cust, mask=no_customer)),
        pa.array(plant.astype(np.int64) + 1),
        pa.array(quantity[rows], mask=view_rows),
        pa.array(price[rows], mask=view_rows),
        _strings(REGIONS, region[rows]),
        _strings(DEVICES, device[rows]),
        pa.array(event_time[rows], type=_TS),
        pa.array(landed, type=_TS),
    ]
    return pa.Table.from_arrays(arrays, schema=EVENTS_SCHEMA)
