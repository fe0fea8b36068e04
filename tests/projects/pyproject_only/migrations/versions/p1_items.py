"""items

Revision ID: p1
"""
from alembic import op
import sqlalchemy as sa

revision = "p1"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("items", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("items")
