"""full_name is now display_name"""
import sqlalchemy as sa
from alembic import op

revision = "h3"
down_revision = "h2"
branch_labels = None
depends_on = None


def upgrade():
    op.alter_column("users", "full_name", new_column_name="display_name")  # planrun: allow rename-column reason="the app reads both since v12"


def downgrade():
    op.alter_column("users", "display_name", new_column_name="full_name")
