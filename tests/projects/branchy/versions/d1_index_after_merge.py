"""index invoices by account

Revision ID: d1
"""
from alembic import op

revision = "d1"
down_revision = "m1"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_invoices_account", "invoices", ["account_id"])


def downgrade():
    op.drop_index("ix_invoices_account", table_name="invoices")
