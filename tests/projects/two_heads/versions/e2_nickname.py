"""expand: users get a nickname"""
import sqlalchemy as sa
from alembic import op

revision = "e2"
down_revision = "e1"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("nickname", sa.Text))


def downgrade():
    op.drop_column("users", "nickname")
