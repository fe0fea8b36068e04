"""the free plan is now called basic (the old name is gone)"""
import sqlalchemy as sa
from alembic import op

revision = "h4"
down_revision = "h3"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("UPDATE users SET plan = 'basic' WHERE plan = 'free'")


def downgrade():
    # planrun: allow empty-downgrade reason="free and basic cannot be told apart any more; restore the backup"
    pass
