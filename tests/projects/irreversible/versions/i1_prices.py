"""prices in euros"""
import sqlalchemy as sa
from alembic import op

revision = "i1"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    prices = op.create_table("prices", sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("amount", sa.Numeric(12, 2)))
    op.bulk_insert(prices, [{"id": 1, "amount": 12.5}, {"id": 2, "amount": 3}])


def downgrade():
    op.drop_table("prices")
