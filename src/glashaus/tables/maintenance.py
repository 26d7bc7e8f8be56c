"""Table maintenance: restore an old version, compact small files, vacuum unreferenced ones.

Each rewrites the table's files (or makes another version current) and needs MODIFY; each
asks the store's rewrite gate, so a writer whose view is filtered or masked may do none.
Vacuum keeps every version a recorded lineage edge read.

>>> svc.vacuum(alice, "main.shop.orders")   # a dry run unless dry_run=False: nothing old enough yet
[]
"""

from __future__ import annotations

import datetime as dt

from glashaus.access import Principal
from glashaus.access.guard import Check, Guard
from glashaus.lineage import LineageStore
from glashaus.storage.delta import DeltaStore
from glashaus.tables.checks import location
from glashaus.tables.results import OptimizeResult
from glashaus.tables.writes import Commit

#: Vacuum never removes files younger than this, whatever is asked.
MIN_RETENTION_HOURS = 168

RESTORE = Check("MODIFY", "table.restore", kinds=("table",), system="restore")
OPTIMIZE = Check("MODIFY", "table.optimize", kinds=("table",), system="optimize")
VACUUM = Check("MODIFY", "table.vacuum", kinds=("table",), system="vacuum")


class Maintenance:
    """restore, optimize, vacuum."""

    def __init__(self, *, guard: Guard, store: DeltaStore, lineage: LineageStore) -> None:
        self.guard = guard
        self.store = store
        self.lineage = lineage

    def restore(self, who: Principal, name: str, *, version: int) -> Commit:
        """Make an old version current again (a new commit; history is kept)."""
        with self.guard.require(who, RESTORE, name, details={"version": version}) as allowed:
            securable, full = allowed.found, allowed.name.full
            grant = self.store.rewrites.admit(who, securable, kind="restore", operation=f"RESTORE to {version}")
            new = self.store.restore(location(securable), grant=grant, version=version, table_name=full)
            return Commit(full, new, f"RESTORE to {version}")

    def optimize(self, who: Principal, name: str, *, zorder_by: list[str] | None = None) -> OptimizeResult:
        """Compact the table's small files (``zorder_by``: cluster them by these columns); rows stay as they are."""
        with self.guard.require(who, OPTIMIZE, name) as allowed:
            operation = "OPTIMIZE" + (f" ZORDER BY {', '.join(zorder_by)}" if zorder_by else "")
            grant = self.store.rewrites.admit(who, allowed.found, kind="optimize", operation=operation)
            return OptimizeResult.from_dict(
                self.store.optimize(location(allowed.found), grant=grant, zorder_by=zorder_by)
            )

    def vacuum(
        self, who: Principal, name: str, *, retention_hours: int | None = None, dry_run: bool = True
    ) -> list[str]:
        """Unreferenced files older than the retention (at least 7 days; never a version lineage uses): listed,
        and removed only with ``dry_run=False`` (a dry run by default, as in delta-rs since 0.2: a vacuum
        cannot be undone).

        Retention is at least :data:`MIN_RETENTION_HOURS` and is stretched so that the
        oldest version any recorded write read stays readable.

        >>> lh.vacuum("main.shop.orders")                 # what would go (nothing old enough yet)
        []
        >>> lh.vacuum("main.shop.orders", dry_run=False)  # remove them
        []
        """
        with self.guard.require(who, VACUUM, name) as allowed:
            grant = self.store.rewrites.admit(who, allowed.found, kind="vacuum", operation="VACUUM")
            where = location(allowed.found)
            hours = max(30 * 24 if retention_hours is None else retention_hours, MIN_RETENTION_HOURS)
            pinned = self.lineage.pinned_versions(allowed.name.full)
            if pinned:
                oldest = pinned[0]
                for entry in self.store.history(where):
                    if entry.get("version") == oldest + 1 or entry.get("version") == oldest:
                        age = dt.datetime.now(dt.UTC) - dt.datetime.fromtimestamp(entry["timestamp"] / 1000, dt.UTC)
                        hours = max(hours, int(age.total_seconds() // 3600) + 1)
            return self.store.vacuum(where, grant=grant, retention_hours=hours, dry_run=dry_run)
