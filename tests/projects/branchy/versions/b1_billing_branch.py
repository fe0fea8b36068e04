"""billing branch: invoices

Revision ID: b1
"""
from alembic import op
import sqlalchemy as sa

revision = "b1"
down_revision = "a1"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("invoices", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False))


def downgrade():
    op.drop_table("invoices")
