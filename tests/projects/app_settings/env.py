"""The application's env.py: its own setting for the URL, Alembic's cookbook for a shared connection."""
import os

from alembic import context
from sqlalchemy import create_engine, pool

config = context.config


def do_run_migrations(connection):
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    connectable = config.attributes.get("connection", None)
    if connectable is None:
        engine = create_engine(os.environ["MYAPP_DATABASE_URL"], poolclass=pool.NullPool)
        with engine.connect() as connection:
            do_run_migrations(connection)
            connection.commit()
    else:
        do_run_migrations(connectable)


if context.is_offline_mode():
    context.configure(url=os.environ.get("MYAPP_DATABASE_URL", "postgresql://offline/none"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
