"""accounts

Revision ID: a1
"""
from alembic import op
import sqlalchemy as sa

revision = "a1"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("accounts", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.Text, nullable=False))
    op.execute("INSERT INTO accounts (id, name) VALUES (1, 'alpha'), (2, 'beta')")


def downgrade():
    op.drop_table("accounts")
