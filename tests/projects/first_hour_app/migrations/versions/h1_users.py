"""users"""
import sqlalchemy as sa
from alembic import op

revision = "h1"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("full_name", sa.Text),
        sa.Column("plan", sa.Text),
    )


def downgrade():
    op.drop_table("users")
