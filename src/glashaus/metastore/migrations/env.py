"""Alembic environment: runs migrations on the connection Glashaus hands over."""

from alembic import context

from glashaus.metastore.base import Base

config = context.config
connection = config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
