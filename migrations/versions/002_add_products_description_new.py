"""add products.description_new (expand): new column, dual-write trigger, batched backfill

The safe way to replace products.description with products.description_new while the
application keeps running. This revision only adds: the new column (nullable, so adding it is
instant), a trigger that keeps the two columns equal whichever one a writer uses (old and new
application versions run side by side), and a batched backfill of the existing rows (short
transactions; resumable: a row already equal is skipped). The demo application
(migrations/demo_app) reads the new column when USE_NEW_DESCRIPTION=true. Revision 003 (the
contract step) removes the old column once every reader has switched.

Revision ID: 002
Revises: 001
"""
from alembic import op
import sqlalchemy as sa

from planrun import zdt

revision = "002"
down_revision = "001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("products", sa.Column("description_new", sa.Text, nullable=True), if_not_exists=True)
    zdt.dual_write("products", "description", "description_new")
    zdt.batched_backfill("products", set={"description_new": "description"}, batch_size=1000)


def downgrade() -> None:
    zdt.drop_dual_write("products", "description", "description_new")
    op.execute("ALTER TABLE products DROP COLUMN IF EXISTS description_new")
