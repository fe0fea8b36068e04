"""a data migration that reads the database (linted from a run on a scratch database)"""
import sqlalchemy as sa
from alembic import op

revision = "q3"
down_revision = "q2"
branch_labels = None
depends_on = None


def upgrade():
    bind = op.get_bind()
    tiers = bind.execute(sa.text("SELECT DISTINCT subscription_tier FROM subscriptions")).scalars().all()
    op.add_column("subscription_events", sa.Column("subscription_note", sa.Text))
    for tier in tiers:
        bind.execute(sa.text("UPDATE subscription_events SET subscription_note = :t"), {"t": tier})


def downgrade():
    op.drop_column("subscription_events", "subscription_note")
