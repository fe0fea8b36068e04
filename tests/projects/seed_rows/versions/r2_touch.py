"""the default project is renamed with a timestamp (not repeatable)"""
from alembic import op

revision = "r2"
down_revision = "r1"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("UPDATE projects SET name = 'default ' || clock_timestamp()::text WHERE name = 'default'")


def downgrade():
    op.execute("UPDATE projects SET name = 'default' WHERE name LIKE 'default %'")
