"""What the application's CLI does before it hands over to Alembic."""
from .config import CONF


def prepare():
    CONF.register(audit_table="audit_events", retention_days=30)
