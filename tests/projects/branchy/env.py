"""env.py that ignores alembic.ini's URL and reads DATABASE_URL, as many applications do."""
import os

from alembic import context
from sqlalchemy import MetaData, create_engine, pool

target_metadata = None


def url() -> str:
    value = os.environ["DATABASE_URL"]
    return value.replace("postgresql://", "postgresql+psycopg2://", 1)


if context.is_offline_mode():
    context.configure(url=url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
