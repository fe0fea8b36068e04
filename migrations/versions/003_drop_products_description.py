"""drop products.description (contract): the trigger and the old column go

Only once every reader uses description_new (the demo application with
USE_NEW_DESCRIPTION=true everywhere). Destructive: plans/demo-contract.yaml allows it, backs
up and verifies the backup by restoring it, and gates the run on the two columns being equal.

Revision ID: 003
Revises: 002
"""
from alembic import op
import sqlalchemy as sa

from planrun import zdt

revision = "003"
down_revision = "002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    zdt.drop_dual_write("products", "description", "description_new")
    op.drop_column("products", "description")


def downgrade() -> None:
    op.add_column("products", sa.Column("description", sa.Text, nullable=True))
    zdt.dual_write("products", "description", "description_new")
    zdt.batched_backfill("products", set={"description": "description_new"}, batch_size=1000)
