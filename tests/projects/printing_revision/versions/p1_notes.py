"""notes"""
import sqlalchemy as sa
from alembic import op

revision = "p1"
down_revision = None
branch_labels = None
depends_on = None

print("p1: loaded")  # at import, as some histories' helpers do


def upgrade():
    print("warning: this creates the notes table")
    op.create_table("notes", sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("body", sa.Text))


def downgrade():
    print("dropping notes")
    op.drop_table("notes")
