"""users get last_seen_at"""
import sqlalchemy as sa
from alembic import op

revision = "h5"
down_revision = "h4"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("last_seen_at", sa.DateTime(timezone=True)))


def downgrade():
    op.drop_column("users", "last_seen_at")
