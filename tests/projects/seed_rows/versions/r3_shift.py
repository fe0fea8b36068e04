"""created_at moved a day on (its downgrade forgets to move it back)"""
from alembic import op

revision = "r3"
down_revision = "r2"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("UPDATE projects SET created_at = created_at + interval '1 day'")


def downgrade():
    op.execute("SELECT 1")
