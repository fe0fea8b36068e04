"""Zero-downtime helpers to call inside Alembic migrations.

    from planrun import zdt

    def upgrade():
        op.add_column("products", sa.Column("description_new", sa.Text, nullable=True), if_not_exists=True)
        zdt.dual_write("products", "description", "description_new")
        zdt.batched_backfill("products", set={"description_new": "description"}, batch_size=10_000)
        zdt.add_not_null_safely("products", "description_new")

Each helper keeps locks short: DDL under a short ``lock_timeout`` retried with backoff instead of
queueing every query behind it; long work in batches, each committed on its own, outside the
migration's transaction (Alembic's ``autocommit_block``); constraints added ``NOT VALID`` and
validated without blocking writes. Under ``planrun apply`` they report progress, pause and
abort between batches, and slow down when the monitor sees pressure; under plain
``alembic upgrade`` they work the same, unsteered. In offline mode (``--sql``, and
``planrun lint``) they emit the SQL they would run.
"""

from .backfill import batched_backfill
from .dual_write import drop_dual_write, dual_write
from .indexes import create_index_concurrently, drop_index_concurrently
from .locks import retry_on_lock_timeout
from .not_null import add_not_null_safely

__all__ = [
    "add_not_null_safely",
    "batched_backfill",
    "create_index_concurrently",
    "drop_dual_write",
    "drop_index_concurrently",
    "dual_write",
    "retry_on_lock_timeout",
]
