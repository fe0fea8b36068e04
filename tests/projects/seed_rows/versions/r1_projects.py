"""projects, with the default project seeded"""
import sqlalchemy as sa
from alembic import op

revision = "r1"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    projects = op.create_table(
        "projects",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("uid", sa.Uuid, server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("stamped", sa.DateTime, server_default=sa.text("CURRENT_TIMESTAMP")),
    )
    op.bulk_insert(projects, [{"name": "default"}])


def downgrade():
    op.drop_table("projects")
