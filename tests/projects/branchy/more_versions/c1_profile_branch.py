"""profile branch: accounts.email via batch_alter_table, backfilled

Revision ID: c1
"""
from alembic import op
import sqlalchemy as sa

revision = "c1"
down_revision = "a1"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("email", sa.Text))
    op.execute("UPDATE accounts SET email = name || '@example.com'")


def downgrade():
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("email")
