"""accounts get a city"""
import sqlalchemy as sa
from alembic import op

revision = "f4"
down_revision = "f3"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("accounts", sa.Column("city", sa.Text))


def downgrade():
    op.drop_column("accounts", "city")
