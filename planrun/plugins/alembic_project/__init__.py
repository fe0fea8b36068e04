"""What every plugin that works with an Alembic project shares (migrate, the stairway, lint):
loading the project, running its commands in-process against the right database, and the
run facts about revisions. A shared module, not a plugin: plugins import it, never each other."""
