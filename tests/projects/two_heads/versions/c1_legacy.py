"""contract: the legacy table goes"""
import sqlalchemy as sa
from alembic import op

revision = "c1"
down_revision = "b1"
branch_labels = ("contract",)
depends_on = None


def upgrade():
    op.execute("CREATE TABLE legacy_sessions (id bigint PRIMARY KEY)")


def downgrade():
    op.execute("DROP TABLE legacy_sessions")
