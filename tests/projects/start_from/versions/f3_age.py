"""accounts get an age"""
import sqlalchemy as sa
from alembic import op

revision = "f3"
down_revision = "f2"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("accounts", sa.Column("age", sa.Integer))


def downgrade():
    op.drop_column("accounts", "age")
