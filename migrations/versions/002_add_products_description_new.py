"""add products.description_new: add, backfill from description, NOT NULL

Revision ID: 002
Revises: 001
"""
from alembic import op
import sqlalchemy as sa

revision = "002"
down_revision = "001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("products", sa.Column("description_new", sa.Text, nullable=True))
    op.execute("UPDATE products SET description_new = COALESCE(description, '')")
    op.alter_column("products", "description_new", nullable=False)


def downgrade() -> None:
    op.drop_column("products", "description_new")
