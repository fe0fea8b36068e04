"""prices in cents, rounded (the fractions of a cent are gone: no way back but the backup)"""
from alembic import op

revision = "i2"
down_revision = "i1"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("UPDATE prices SET amount = round(amount * 100) WHERE amount IS NOT NULL")


def downgrade():
    # planrun: allow empty-downgrade reason="rounded cents cannot become the old euros; restore the backup"
    pass
