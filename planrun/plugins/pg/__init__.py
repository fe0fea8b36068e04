"""What every Postgres-facing plugin shares: one way to open a connection (with timeouts and
a name), and one schema and data fingerprint."""

from .connect import connect, libpq_url
from .fingerprint import data_fingerprint, schema_fingerprint

__all__ = ["connect", "libpq_url", "schema_fingerprint", "data_fingerprint"]
