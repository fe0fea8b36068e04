"""tasks get a due date"""
import sqlalchemy as sa
from alembic import op

revision = "s4"
down_revision = "s3"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("tasks", sa.Column("due", sa.Date))


def downgrade():
    op.drop_column("tasks", "due")
