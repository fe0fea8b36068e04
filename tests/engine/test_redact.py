"""Redaction is of the secret where it stands as a secret (issue 26): a password shared by
letters of another name (``shop`` in ``shop_prod``) once made every message, the journal and
``history`` show ``***_prod``."""

from __future__ import annotations

from planrun.engine.redact import Redactor


def test_a_secret_is_redacted_where_it_stands_as_a_value():
    redact = Redactor(["shop"])
    assert redact("postgresql://app:shop@db:5432/shop_prod") == "postgresql://app:***@db:5432/shop_prod"
    assert redact("password=shop dbname=shop_prod") == "password=*** dbname=shop_prod"
    assert redact("PGPASSWORD='shop'") == "PGPASSWORD='***'"
    assert redact("connecting with shop") == "connecting with ***"
    assert redact("database shop_prod, table workshop, shopping") == "database shop_prod, table workshop, shopping"


def test_any_url_password_is_redacted_even_unknown():
    assert Redactor()("postgresql://u:s3cr%40t@h/db") == "postgresql://u:***@h/db"


def test_a_secret_with_regex_characters_is_matched_literally():
    redact = Redactor(["p.ss+(x)"])
    assert redact("password=p.ss+(x)") == "password=***"
    assert redact("password=pXss+(x)") == "password=pXss+(x)"
