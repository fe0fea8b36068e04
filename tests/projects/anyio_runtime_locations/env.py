"""An async env.py that sets version_locations while it runs, from inside the AnyIO worker thread
the application runs Alembic in (anyio.to_thread.run_sync): both the folder of revisions and the
migration are reached through anyio.from_thread.run, which fails (NoEventLoopError) anywhere
else, plain alembic included."""
import os

import anyio.from_thread
from alembic import context
from sqlalchemy import pool
from sqlalchemy.ext.asyncio import async_engine_from_config

config = context.config


async def _revisions_folder() -> str:  # the application's own setup, reachable from its worker thread only
    return os.path.join(os.path.dirname(__file__), "versions", "postgresql")


config.set_main_option("version_locations", anyio.from_thread.run(_revisions_folder))


def do_run_migrations(connection):
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations():
    connectable = async_engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
                                           poolclass=pool.NullPool)
    async with connectable.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await connectable.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    anyio.from_thread.run(run_async_migrations)
