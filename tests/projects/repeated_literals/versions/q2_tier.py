"""every subscription gets a tier"""
import sqlalchemy as sa
from alembic import op

revision = "q2"
down_revision = "q1"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("subscriptions", sa.Column("billing_interval", sa.Text))
    op.execute("UPDATE subscriptions SET subscription_tier = 'free' WHERE subscription_tier IS NULL")
    op.alter_column("subscriptions", "subscription_tier", nullable=False)


def downgrade():
    op.alter_column("subscriptions", "subscription_tier", nullable=True)
    op.drop_column("subscriptions", "billing_interval")
