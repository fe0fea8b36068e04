"""tasks, with the same status enum (created again: fine inside one command only)"""
import sqlalchemy as sa
from alembic import op

revision = "s2"
down_revision = "s1"
branch_labels = None
depends_on = None

STATUS = sa.Enum("open", "closed", name="status")


def upgrade():
    op.create_table("tasks", sa.Column("id", sa.Integer, primary_key=True), sa.Column("status", STATUS))


def downgrade():
    op.drop_table("tasks")
