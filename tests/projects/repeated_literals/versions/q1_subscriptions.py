"""subscriptions and their events"""
import sqlalchemy as sa
from alembic import op

revision = "q1"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("subscription_tier", sa.Text),
    )
    op.create_table(
        "subscription_events",
        sa.Column("id", sa.Integer, primary_key=True),  # int-primary-key: this call, line 17
        sa.Column("subscription_tier", sa.Text),
    )


def downgrade():
    op.drop_table("subscription_events")
    op.drop_table("subscriptions")
