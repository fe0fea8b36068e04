"""prices get a note"""
import sqlalchemy as sa
from alembic import op

revision = "i3"
down_revision = "i2"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("prices", sa.Column("note", sa.Text))


def downgrade():
    op.drop_column("prices", "note")
