"""planrun generate: rows that fit every type and constraint, the same rows for the same seed,
edge cases in the share asked for, refused rows counted instead of fatal."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from conftest import ROOT, execute, query, table_contents, upgrade
from planrun.plugins.datagen.generate import generate

EVERY_TYPE = (Path(__file__).parent.parent / "fixtures" / "generate" / "every_type.sql").read_text()

# name varchar(120) NOT NULL: the edge cases planrun mixes into it, written out here so that a
# change in the generator's list does not silently change what this test counts
NAME_EDGES = [
    "",
    " ",
    "Zoë Ünïcödé façade",
    "שלום עולם",
    "مرحبا بالعالم",
    "🙂🚀👩‍👩‍👧",
    "e\u0301\u0301",
    "tab\there\nnew line \\ backslash",
    'O\'Brien "quoted"',
    "Robert'); DROP TABLE students;--",
    "NULL",
    "x" * 120,
    "é" * 120,
    "🙂" * 120,
]


@pytest.fixture
def other_db(pg_cluster):
    name = "t_" + uuid.uuid4().hex[:12]
    yield pg_cluster.create_database(name)
    pg_cluster.drop_database(name)


def _counts(url: str) -> dict[str, int]:
    tables = [
        t
        for (t,) in query(
            url,
            "SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') AND relnamespace = "
            "'public'::regnamespace AND NOT relispartition AND relname <> 'alembic_version'",
        )
    ]
    return {t: query(url, f'SELECT count(*) FROM "{t}"')[0][0] for t in tables}


def test_every_type_and_constraint_is_filled_and_holds(db_url):
    execute(db_url, EVERY_TYPE)
    report = generate(db_url, 3000, seed=7)
    outcomes = {t.table: t for t in report.tables}
    counts = _counts(db_url)
    # what the report says was inserted is exactly what the tables hold
    assert {name: o.inserted for name, o in outcomes.items()} == counts
    assert report.problems == []
    # a CHECK planrun cannot read (odd_rule NOT LIKE '%a%') refuses some rows: counted, never fatal
    accounts = outcomes["accounts"]
    assert accounts.refused > 0 and accounts.inserted + accounts.refused == 3000
    assert "accounts_odd_rule_check" in accounts.note
    for name in ("categories", "teams", "events", "regions", "eggs", "chickens", "tickets"):
        assert counts[name] == 3000, (name, outcomes[name])
    # one-to-one (profiles.account_id is its primary key): one row per account at most
    assert counts["profiles"] == counts["accounts"]
    assert counts["memberships"] > 2900  # random (account, team) pairs; a repeated pair is refused
    # the checks planrun reads are met by construction (none of these rows was refused)
    assert query(
        db_url,
        "SELECT min(balance) >= 0, min(tiny) >= -5 AND max(tiny) <= 5, "
        "bool_and(status IN ('new', 'active', 'closed')), bool_and(handle <> '') FROM accounts",
    )[0] == (True, True, True, True)
    # the generated column is the server's; identity values are the server's
    assert query(db_url, "SELECT bool_and(handle_upper = upper(handle)) FROM accounts")[0][0] is True
    # rows routed into both range partitions and both list partitions
    assert sorted(r[0] for r in query(db_url, "SELECT DISTINCT tableoid::regclass::text FROM events")) == [
        "events_2024",
        "events_2025",
    ]
    assert sorted(r[0] for r in query(db_url, "SELECT DISTINCT tableoid::regclass::text FROM regions")) == [
        "regions_eu",
        "regions_us",
    ]
    # self-references point at rows of the same table; the NOT NULL cycle closed by deferral
    assert query(db_url, "SELECT count(*) FROM teams WHERE parent_id IS NOT NULL")[0][0] > 2000
    assert query(db_url, "SELECT count(*) FROM categories WHERE parent_code IS NOT NULL")[0][0] > 2000
    assert query(db_url, "SELECT count(*) FROM eggs e JOIN chickens c ON c.id = e.chicken_id")[0][0] == 3000
    # every type got values other than NULL
    nulls = query(
        db_url,
        "SELECT "
        + ", ".join(
            f"count({c})"
            for c in (
                "doc",
                "raw",
                "tags",
                "moods",
                "avatar",
                "ip",
                "net",
                "mac",
                "token",
                "initials",
                "opens",
                "opens_tz",
                "wait",
                "local_at",
                "born",
                "ratio",
                "score",
                "code",
            )
        )
        + " FROM accounts",
    )[0]
    assert all(n > 0 for n in nulls)


def _rows_as_text(url: str) -> dict[str, list[str]]:
    """Every table's rows as PostgreSQL prints them (NaN equals NaN there, unlike in Python)."""
    return {t: [r for (r,) in query(url, f'SELECT x::text FROM "{t}" x ORDER BY 1')] for t in _counts(url)}


def test_same_seed_same_rows_on_two_databases(db_url, other_db):
    for url in (db_url, other_db):
        execute(url, EVERY_TYPE)
        generate(url, 500, seed=11)
    first, second = _rows_as_text(db_url), _rows_as_text(other_db)
    assert first == second
    assert sum(len(rows) for rows in first.values()) > 4000


def test_another_seed_other_rows(db_url, other_db):
    for url, seed in ((db_url, 1), (other_db, 2)):
        execute(url, EVERY_TYPE)
        generate(url, 200, seed=seed)
    assert _rows_as_text(db_url)["accounts"] != _rows_as_text(other_db)["accounts"]


def _demo_at_head(tmp_path, url) -> None:
    import shutil

    shutil.copytree(ROOT / "migrations", tmp_path / "migrations", ignore=shutil.ignore_patterns("__pycache__"))
    upgrade(tmp_path / "migrations" / "alembic.ini", url, "head")


def test_edge_cases_in_the_share_asked_for(tmp_path, db_url, other_db):
    _demo_at_head(tmp_path, db_url)
    _demo_at_head(tmp_path / "again", other_db)
    generate(db_url, 20_000, seed=3, edge_share=0.2)
    generate(other_db, 20_000, seed=3, edge_share=0.0)
    names = [n for (n,) in query(db_url, "SELECT name FROM users")]
    edged = sum(n in NAME_EDGES for n in names)
    # 14 of the 15 edge values of the column are listed above (the 15th is a repeated hot value)
    assert 0.17 < edged / len(names) < 0.21, edged
    assert {n for n in names if n in NAME_EDGES} == set(NAME_EDGES)  # every kind is there
    assert not any(n in NAME_EDGES for (n,) in query(other_db, "SELECT name FROM users"))
    # unique columns get no edge case and never collide
    assert (
        query(
            db_url,
            "SELECT count(DISTINCT email) = count(*), count(DISTINCT sku) FROM users, "
            "(SELECT count(DISTINCT sku) AS sku FROM products) p",
        )[0][0]
        is True
    )


def test_only_empty_tables_are_topped_up(tmp_path, db_url):
    _demo_at_head(tmp_path, db_url)
    generate(db_url, 100, per_table={"products": 0})
    before = table_contents(db_url)
    report = generate(db_url, 50, only_empty=True)
    assert [t.table for t in report.tables] == ["products"]
    after = table_contents(db_url)
    assert after["public.users"] == before["public.users"]
    assert len(after["public.products"]["rows"]) == 50


def test_the_command(tmp_path, db_url, run_cli, pg_cluster):
    _demo_at_head(tmp_path, db_url)
    code, out, err = run_cli("generate", "--url", db_url, "--rows", "300", "--table", "products=40", "--seed", "5")
    assert code == 0, err
    assert query(db_url, "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM products)")[0] == (300, 40)
    assert "users" in out and "300" in out and "rows/s" in out
    assert pg_cluster.password not in out + err
    code, out, err = run_cli("generate", "--url", db_url, "--table", "nope=3")
    assert code == 2
    assert "no table named nope (tables: products, users)" in err
    code, out, err = run_cli("generate", "--url", db_url, "--table", "users=lots")
    assert code == 2 and "expected TABLE=ROWS like users=1000000, got 'users=lots'" in err
