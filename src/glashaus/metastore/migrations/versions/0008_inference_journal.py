"""serving and tracking: inference rows written ahead (with their audit events), movers' leases,
the inference table each endpoint created and its owner's creation time, experiment ids never
given out twice

Revision ID: 0008
Revises: 0007
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "inference_journal",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("table_id", sa.String(32), nullable=False),
        sa.Column("writer", sa.String(255), nullable=False),
        sa.Column("batch", sa.BigInteger, nullable=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("event_time", sa.BigInteger, nullable=False),
        sa.Column("endpoint", sa.String(64), nullable=False),
        sa.Column("model", sa.String(400), nullable=False),
        sa.Column("model_version", sa.BigInteger, nullable=True),
        sa.Column("variant", sa.String(255), nullable=True),
        sa.Column("shadow", sa.Boolean, nullable=False),
        sa.Column("principal", sa.String(255), nullable=True),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("latency_ms", sa.Float(precision=53), nullable=True),
        sa.Column("request", sa.LargeBinary, nullable=True),
        sa.Column("response", sa.LargeBinary, nullable=True),
        sa.Column("error", sa.LargeBinary, nullable=True),
    )
    op.create_index("ix_inference_journal_table", "inference_journal", ["table_id", "batch", "id"])
    op.create_table(
        "inference_movers",
        sa.Column("table_id", sa.String(32), primary_key=True),
        sa.Column("holder", sa.String(32), nullable=True),
        sa.Column("until_us", sa.BigInteger, nullable=True),
        sa.Column("batch", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "ml_sequences",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    conn = op.get_bind()
    highest = conn.execute(sa.text("SELECT max(id) FROM ml_experiments")).scalar() or 0
    conn.execute(sa.text("INSERT INTO ml_sequences (name, value) VALUES ('experiment', :v)"), {"v": highest})
    # Endpoints remember the id of their inference table, so a table dropped and re-created under the
    # same name (by anyone) is never written to. Existing endpoints keep the table they write to today.
    # And their owner's creation time: a later principal of the owner's name does not inherit them.
    endpoints = sa.table(
        "serving_endpoints", sa.column("name", sa.String), sa.column("config", sa.JSON), sa.column("owner", sa.String)
    )
    principals = sa.table(
        "principals", sa.column("name", sa.String), sa.column("created_at", sa.DateTime(timezone=True))
    )
    securables = sa.table(
        "securables",
        sa.column("id", sa.String),
        sa.column("full_name", sa.String),
        sa.column("kind", sa.String),
        sa.column("owner", sa.String),
        sa.column("created_by", sa.String),
        sa.column("spec", sa.JSON),
    )
    rows = conn.execute(sa.select(endpoints.c.name, endpoints.c.config, endpoints.c.owner)).all()
    for name, config, owner in rows:
        config = dict(config or {})
        table = config.get("inference_table")
        if table and not config.get("inference_table_id"):
            found = conn.execute(
                sa.select(securables.c.id, securables.c.owner, securables.c.created_by, securables.c.spec).where(
                    securables.c.full_name == table, securables.c.kind == "table"
                )
            ).first()
            config["inference_table_id"] = found.id if found is not None else None
            if found is not None and found.owner == found.created_by == owner:
                # The endpoint's owner made and owns it: mark it as serving marks the tables it creates,
                # so the owner may re-create the endpoint on it (serving/service.py, INFERENCE_MARK).
                spec = {**(found.spec or {}), "serving_inference_table": {"endpoint": name, "created_for": owner}}
                conn.execute(sa.update(securables).where(securables.c.id == found.id).values(spec=spec))
        since = conn.execute(sa.select(principals.c.created_at).where(principals.c.name == owner)).scalar()
        if since is not None and not config.get("owner_since"):
            config["owner_since"] = (since if since.tzinfo else since.replace(tzinfo=dt.UTC)).isoformat()
        conn.execute(sa.update(endpoints).where(endpoints.c.name == name).values(config=config))


def downgrade() -> None:
    op.drop_table("ml_sequences")
    op.drop_table("inference_movers")
    op.drop_index("ix_inference_journal_table", table_name="inference_journal")
    op.drop_table("inference_journal")
