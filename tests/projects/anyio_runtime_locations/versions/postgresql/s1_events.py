"""events

Revision ID: s1
"""
from alembic import op
import sqlalchemy as sa

revision = "s1"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("events", sa.Column("id", sa.Integer, primary_key=True), sa.Column("kind", sa.Text))


def downgrade():
    op.drop_table("events")
