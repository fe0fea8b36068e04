"""longer handles (varchar(50) -> varchar(100): no rewrite, when the old type is known)"""
import sqlalchemy as sa
from alembic import op

revision = "o2"
down_revision = "o1"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("members", sa.Column("bio", sa.Text))
    with op.batch_alter_table("members") as batch_op:
        batch_op.alter_column("handle", type_=sa.String(100), existing_type=sa.String(50))


def downgrade():
    op.drop_column("members", "bio")
