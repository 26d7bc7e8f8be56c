"""Running one Delta commit to its end: lost races retried, delta-rs failures named.

delta-rs reports a lost race with another writer, a broken constraint, a schema that
does not fit and its own failures as a handful of exception types whose text says which;
:func:`run_commit` retries the first (refreshing the handle, with backoff) and turns the
others into :mod:`glashaus.errors` that name the table and say that nothing was written.

>>> from deltalake import DeltaTable
>>> handle = DeltaTable(table.storage_location)
>>> run_commit(lambda: handle.version(), handle, "main.shop.orders")
1
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError, DeltaError, DeltaProtocolError
from deltalake.exceptions import SchemaMismatchError as DeltaSchemaMismatch

from glashaus.errors import (
    ConcurrentWriteError,
    ConstraintViolationError,
    InvalidArgumentError,
    SchemaMismatchError,
    StorageError,
)
from glashaus.storage.schema import arrow_schema, constraints_of

_T = TypeVar("_T")

#: Attempts before a write that keeps losing races gives up (nothing committed).
MAX_ATTEMPTS = 40


def run_commit(attempt: Callable[[], _T], handle: DeltaTable, table_name: str, *, retry: bool = True) -> _T:
    """Run ``attempt`` until it commits, refreshing ``handle`` after each lost race.

    Without ``retry`` (a write computed from one pinned version) a lost race is final.
    """
    for n in range(MAX_ATTEMPTS):
        try:
            return attempt()
        except CommitFailedError:
            if not retry:
                raise _conflict(table_name) from None
            time.sleep(min(0.5, 0.005 * 2 ** min(n, 7)) * (0.5 + random.random()))
            handle.update_incremental()
        except DeltaSchemaMismatch as exc:
            raise SchemaMismatchError(f"data does not fit {table_name}: {exc}") from None
        except DeltaError as exc:
            text = str(exc)
            if "failed validation check" in text or "Invariant violations" in text:
                raise ConstraintViolationError(
                    f"rows break a NOT NULL or CHECK constraint of {table_name} "
                    f"({_constraint_list(handle)}); nothing was written. "
                    f"First offending rows: {_preview(text)}"
                ) from None
            if "Transaction failed" in text or "version already exists" in text.lower():
                if not retry:
                    raise _conflict(table_name) from None
                time.sleep(0.01 * (1 + random.random()))
                handle.update_incremental()
                continue
            if "multiple source rows" in text:
                raise InvalidArgumentError(
                    f"merge into {table_name}: a target row matches more than one source row; "
                    "nothing was written. Deduplicate the source on the merge keys."
                ) from None
            if "Schema error" in text or "Cast error" in text:
                detail = text.split("Schema error:")[-1].split("Cast error:")[-1].strip()
                raise SchemaMismatchError(
                    f"the change does not fit {table_name}'s columns and types: {detail} Nothing was written."
                ) from None
            first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
            raise StorageError(f"{table_name}: {first}; nothing was written.") from None
        except DeltaProtocolError as exc:
            raise InvalidArgumentError(f"{table_name}: {exc}") from None
        except Exception as exc:
            # delta-rs raises a bare Exception for data its expressions cannot cast
            # (DELETE ... WHERE id = 'x' on a BIGINT id): the caller's mistake, not a bug.
            text = str(exc)
            if type(exc) is Exception and ("Cast error" in text or "Schema error" in text):
                detail = text.split("Schema error:")[-1].split("Cast error:")[-1].strip().splitlines()[0]
                raise SchemaMismatchError(
                    f"the change does not fit {table_name}'s columns and types: {detail}. Nothing was written."
                ) from None
            raise
    raise ConcurrentWriteError(
        f"{table_name} kept changing under this write ({MAX_ATTEMPTS} attempts); "
        "nothing was committed. Retry the write."
    )


def _conflict(table_name: str) -> ConcurrentWriteError:
    return ConcurrentWriteError(
        f"{table_name} changed under this statement in a conflicting way; nothing was "
        "committed. Run the statement again."
    )


def _constraint_list(handle: DeltaTable) -> str:
    found = [f"{k}: {v}" for k, v in constraints_of(handle).items()]
    not_null = [f.name for f in arrow_schema(handle) if not f.nullable]
    if not_null:
        found.append(f"NOT NULL: {', '.join(not_null)}")
    return "; ".join(found) or "no named constraint"


def _preview(text: str) -> str:
    """delta-rs's ASCII table of offending rows, as one line: ``q=-1; q=-7``."""
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.split("Preview of invalid data:")[-1].splitlines()
        if line.strip().startswith("|")
    ]
    if len(rows) < 2:
        return "(not shown)"
    header, body = rows[0], rows[1:6]
    return "; ".join(", ".join(f"{h}={v}" for h, v in zip(header, row, strict=False)) for row in body)
