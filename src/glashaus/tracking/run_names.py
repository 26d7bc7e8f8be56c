"""Memorable names for runs and logged models that were not given one: ``hardy-fern-482``.

MLflow clients show a run's name everywhere, so a run started without one gets an
``adjective-noun-number`` name, as MLflow's own server gives. The words are Glashaus's
own (a glasshouse's plants); the number, 0 to 999, keeps repeats rare.

>>> import random
>>> memorable_name(rng=random.Random(7))
'merry-heather-404'
"""

from __future__ import annotations

import random

ADJECTIVES = (
    "amber",
    "bold",
    "brisk",
    "bright",
    "calm",
    "clever",
    "crisp",
    "dapper",
    "eager",
    "fancy",
    "gentle",
    "glad",
    "golden",
    "hardy",
    "humble",
    "jolly",
    "keen",
    "lively",
    "lucky",
    "mellow",
    "merry",
    "misty",
    "nimble",
    "noble",
    "plucky",
    "proud",
    "quiet",
    "rapid",
    "rosy",
    "shy",
    "silver",
    "sleek",
    "sunny",
    "swift",
    "tidy",
    "vivid",
    "warm",
    "wise",
    "witty",
    "zesty",
)
NOUNS = (
    "aloe",
    "basil",
    "birch",
    "cactus",
    "cedar",
    "clover",
    "dahlia",
    "fern",
    "hazel",
    "heather",
    "iris",
    "ivy",
    "jasmine",
    "juniper",
    "kale",
    "laurel",
    "lavender",
    "lily",
    "lotus",
    "lupin",
    "maple",
    "marigold",
    "mint",
    "moss",
    "nettle",
    "oak",
    "orchid",
    "peony",
    "poppy",
    "quince",
    "rose",
    "sage",
    "sedge",
    "sorrel",
    "thyme",
    "tulip",
    "violet",
    "willow",
    "yarrow",
    "zinnia",
)


def memorable_name(*, rng: random.Random | None = None) -> str:
    """``<adjective>-<noun>-<0..999>``; pass ``rng`` for a repeatable name (tests)."""
    pick = rng or random
    return f"{pick.choice(ADJECTIVES)}-{pick.choice(NOUNS)}-{pick.randint(0, 999)}"
