"""An env.py that sets its own timeouts on the connection before migrating."""
from alembic import context
from sqlalchemy import engine_from_config, pool, text

config = context.config

if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connectable = config.attributes.get("connection") or engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with connectable.connect() as connection:
        connection.execute(text("SET lock_timeout = '3s'"))
        connection.execute(text("SET statement_timeout TO '60s'"))
        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()
