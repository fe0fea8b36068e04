"""members"""
import sqlalchemy as sa
from alembic import op

revision = "o1"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("members", sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("handle", sa.String(50)))


def downgrade():
    op.drop_table("members")
