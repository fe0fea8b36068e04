"""Migrates the application's own store, wherever planrun points it."""
import os

from alembic import context
from sqlalchemy import create_engine

engine = create_engine(f"sqlite:///{os.environ['OWN_SQLITE_STORE']}")
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
