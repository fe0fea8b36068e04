"""the audit table, named by the application's configuration"""
import sqlalchemy as sa
from alembic import op

from setupapp.config import CONF

revision = "a1"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        CONF.audit_table,
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("kept_days", sa.Integer, server_default=str(CONF.retention_days)),
    )


def downgrade():
    op.drop_table(CONF.audit_table)
