"""tickets get a priority"""
import sqlalchemy as sa
from alembic import op

revision = "s3"
down_revision = "s2"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("tickets", sa.Column("priority", sa.Integer))


def downgrade():
    op.drop_column("tickets", "priority")
