"""The ``Product`` model and the few functions the demo application uses.

Which column holds the description is decided by the feature flag ``USE_NEW_DESCRIPTION``,
read on every call: flipping it switches reads and writes without a restart and without a
schema change. While both columns exist (after 002, before 003) the dual-write trigger keeps
them equal, so old and new versions of this code can run side by side. Once every instance
runs with the flag on, the contract revision (003) drops the old column.
"""
from __future__ import annotations

import os

from sqlalchemy import Integer, String, Text, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    price_cents: Mapped[int] = mapped_column(Integer)
    description_old: Mapped[str | None] = mapped_column("description", Text)  # gone after 003
    description_new: Mapped[str | None] = mapped_column("description_new", Text)  # added by 002


def use_new_description() -> bool:
    return os.environ.get("USE_NEW_DESCRIPTION", "false").strip().lower() in ("1", "true", "yes", "on")


def _description_column():
    return Product.description_new if use_new_description() else Product.description_old


def get_description(connection: Connection, product_id: int) -> str | None:
    return connection.execute(select(_description_column()).where(Product.id == product_id)).scalar_one()


def set_description(connection: Connection, product_id: int, text: str | None) -> None:
    column = _description_column()
    connection.execute(update(Product).where(Product.id == product_id).values({column.key: text}))


def add_product(connection: Connection, sku: str, title: str, price_cents: int, description: str | None) -> int:
    values = {"sku": sku, "title": title, "price_cents": price_cents, _description_column().key: description}
    return connection.execute(insert(Product).values(values).returning(Product.id)).scalar_one()
