"""user names (alters a table the application created itself)

Revision ID: b1
"""
from alembic import op
import sqlalchemy as sa

revision = "b1"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("name", sa.Text))


def downgrade():
    op.drop_column("users", "name")
