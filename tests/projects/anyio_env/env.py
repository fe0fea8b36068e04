"""An async env.py written for an application that runs Alembic from an AnyIO worker thread
(anyio.to_thread.run_sync): it hands its coroutine back to the event loop with
anyio.from_thread.run, which fails (NoEventLoopError) anywhere else, plain alembic included."""
import anyio.from_thread
from alembic import context
from sqlalchemy import pool
from sqlalchemy.ext.asyncio import async_engine_from_config

config = context.config


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
