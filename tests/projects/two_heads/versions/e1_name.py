"""expand: users get a display name"""
import sqlalchemy as sa
from alembic import op

revision = "e1"
down_revision = "b1"
branch_labels = ("expand",)
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("display_name", sa.Text))


def downgrade():
    op.drop_column("users", "display_name")
