"""add users.status: NOT NULL with a constant default, indexed concurrently

A constant default needs no table rewrite (PostgreSQL 11+ stores it once in the catalog), so
adding the column NOT NULL is instant; the index is built CONCURRENTLY, without blocking
writes.

Revision ID: 001
Revises: 000
"""
from alembic import op
import sqlalchemy as sa

from planrun import zdt

revision = "001"
down_revision = "000"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("status", sa.String(20), nullable=False, server_default="active"))
    zdt.create_index_concurrently("ix_users_status", "users", ["status"])


def downgrade() -> None:
    zdt.drop_index_concurrently("ix_users_status")
    op.drop_column("users", "status")
