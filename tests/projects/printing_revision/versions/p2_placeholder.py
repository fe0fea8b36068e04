"""placeholder kept from a squashed history: nothing either way"""

revision = "p2"
down_revision = "p1"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
