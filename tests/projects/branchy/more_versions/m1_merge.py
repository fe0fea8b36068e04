"""merge billing and profile

Revision ID: m1
"""
revision = "m1"
down_revision = ("b1", "c1")
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
