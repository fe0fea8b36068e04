"""notes (postgresql)

Revision ID: d1
"""
from alembic import op
import sqlalchemy as sa

revision = "d1"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("notes_postgresql", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("notes_postgresql")
