"""env.py that sets version_locations while it runs: one folder of revisions per dialect."""
import os

from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
dialect = (config.get_main_option("sqlalchemy.url") or "postgresql").split(":", 1)[0].split("+", 1)[0]
config.set_main_option("version_locations", os.path.join(os.path.dirname(__file__), "versions", dialect))

if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connectable = config.attributes.get("connection") or engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()
