"""tickets, with a status enum"""
import sqlalchemy as sa
from alembic import op

revision = "s1"
down_revision = None
branch_labels = None
depends_on = None

STATUS = sa.Enum("open", "closed", name="status")


def upgrade():
    op.create_table("tickets", sa.Column("id", sa.Integer, primary_key=True), sa.Column("status", STATUS))


def downgrade():
    op.drop_table("tickets")
    STATUS.drop(op.get_bind())
