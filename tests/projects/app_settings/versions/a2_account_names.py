"""account names

Revision ID: a2
"""
from alembic import op
import sqlalchemy as sa

revision = "a2"
down_revision = "a1"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("accounts", sa.Column("name", sa.Text))


def downgrade():
    op.drop_column("accounts", "name")
