"""No revision left unlinted: a revision that reads the database in ``upgrade()`` cannot be
rendered offline, so lint runs it on a scratch database brought to its parent and lints the
statements the run sent, at the same Python lines. The scratch database is made beside
``--url`` (the database itself never changes) or on a throwaway cluster; an env.py that
migrates another database is refused, never reported clean."""

from __future__ import annotations

import json

from conftest import query, schema_of, write_revision

# Reads the database: offline mode has no connection to inspect, so it cannot render this.
INSPECTING = (
    "    bind = op.get_bind()\n"
    '    names = [ix["name"] for ix in sa.inspect(bind).get_indexes("users")]\n'
    '    if "ix_users_name" not in names:\n'
    '        op.create_index("ix_users_name", "users", ["name"])  # <-\n'
    '    op.add_column("users", sa.Column("nick", sa.Text))\n'
    '    for (user_id,) in bind.execute(sa.text("SELECT id FROM users ORDER BY id")).fetchall():\n'
    '        bind.execute(sa.text("UPDATE users SET nick = upper(name) WHERE id = :id"), {"id": user_id})\n'
    # many rows at once: executemany, and SQLAlchemy's one-INSERT-for-many-rows form
    '    rows = [{"sku": f"k{n}", "title": "t", "price_cents": n} for n in range(3)]\n'
    '    bind.execute(sa.text("INSERT INTO products (sku, title, price_cents) VALUES (:sku, :title, :price_cents)"),'
    " rows)\n"
    '    products = sa.table("products", sa.column("sku"), sa.column("title"), sa.column("price_cents"))\n'
    '    bind.execute(sa.insert(products), [{**row, "sku": row["sku"] + "x"} for row in rows])\n'
)
UNDO = (  # reads the database too: captured from the run, and it drops a column that was there before
    "    bind = op.get_bind()\n"
    '    if "nick" in [c["name"] for c in sa.inspect(bind).get_columns("users")]:\n'
    '        op.drop_column("users", "nick")\n'
    '    op.drop_index("ix_users_name")\n'
    '    op.drop_column("users", "email")  # down<\n'
)


def _marked(path, mark: str = "# <-") -> int:
    (line,) = [n for n, text in enumerate(path.read_text().splitlines(), 1) if mark in text]
    return line


def _whole(url: str) -> dict:
    return {
        "users": query(url, "SELECT * FROM users ORDER BY id"),
        "products": query(url, "SELECT * FROM products ORDER BY id"),
        "version": query(url, "SELECT version_num FROM alembic_version"),
        "schema": schema_of(url),
    }


def test_a_revision_that_reads_the_database_is_linted_from_a_run_beside_url(demo, run_cli):
    path = demo.add_revision("003", "002", INSPECTING, UNDO)
    before = _whole(demo.url)
    databases = query(demo.url, "SELECT datname FROM pg_database ORDER BY 1")

    code, out, err = run_cli("lint", demo.plan, "--url", demo.url, "--format", "json")
    assert code == 1, out + err
    report = json.loads(out)
    assert report["captured"] == ["003"]
    (hit,) = [f for f in report["findings"] if f["rule"] == "create-index-not-concurrently"]
    assert (hit["revision"], hit["path"], hit["line"]) == ("003", "migrations/versions/003_test.py", _marked(path))
    assert hit["message"].endswith("[SQL captured from a run on a scratch database]")
    assert hit["sql"] == "CREATE INDEX ix_users_name ON users (name)"
    assert "not-linted" not in {f["rule"] for f in report["findings"]}
    # the row-by-row data migration ran under the ADD COLUMN's lock: found too, from the run
    under = [f for f in report["findings"] if f["rule"] == "statement-under-access-exclusive"]
    sqls = [f["sql"] for f in under]
    assert any(sql.startswith("UPDATE users SET nick = upper(name) WHERE id = ") for sql in sqls), sqls
    # parameters inlined: an executemany is one statement per row (reported once for its line,
    # counted), insertmanyvalues one for all rows
    (rows,) = [f for f in under if f["sql"] == "INSERT INTO products (sku, title, price_cents) VALUES ('k0', 't', 0)"]
    assert rows["message"].endswith("(3 statements from this line)"), rows
    assert any("('k0x', 't', 0), ('k1x', 't', 1), ('k2x', 't', 2)" in sql for sql in sqls), sqls
    # the downgrade ran too (on the scratch database) and its drop of a column 003 did not add is found
    (drops,) = [f for f in report["findings"] if f["rule"] == "downgrade-drops-data"]
    assert (drops["line"], drops["sql"]) == (_marked(path, "# down<"), "ALTER TABLE users DROP COLUMN email")

    assert "planrun-secret-pw" in demo.url and "planrun-secret-pw" not in out + err  # the URL's password
    assert _whole(demo.url) == before  # the live database: not one row, revision or index changed
    assert query(demo.url, "SELECT datname FROM pg_database ORDER BY 1") == databases  # scratch dropped

    # a pre-commit hook's --files: a revision whose findings will not be shown is not run
    other = demo.versions / "002_add_products_description_new.py"
    code, out, err = run_cli("lint", demo.plan, "--url", demo.url, "--format", "json", "--files", other)
    assert json.loads(out)["captured"] == [] and json.loads(out)["revisions"] == ["002"]

    code, out, err = run_cli("lint", demo.plan, "--url", demo.url, "--no-run", "--format", "json")
    report = json.loads(out)
    messages = [f["message"] for f in report["findings"] if f["rule"] == "not-linted"]
    assert len(messages) == 2 and "(upgrade: could not render its SQL offline" in messages[0]
    assert "(downgrade: could not render its SQL offline" in messages[1]
    assert report["captured"] == []


def test_without_url_the_run_is_on_a_throwaway_cluster(tmp_path, run_cli):
    from conftest import copy_demo_migrations

    copy_demo_migrations(tmp_path / "migrations")
    path = write_revision(tmp_path / "migrations" / "versions", "003", "002", INSPECTING, UNDO)
    code, out, err = run_cli("lint", "--alembic-config", tmp_path / "migrations" / "alembic.ini", "--format", "json")
    assert code == 1, out + err
    report = json.loads(out)
    assert report["captured"] == ["003"]
    lines = {(f["rule"], f["line"]) for f in report["findings"] if f["revision"] == "003"}
    assert ("create-index-not-concurrently", _marked(path)) in lines


def test_an_env_py_that_migrates_another_database_is_refused_not_linted_clean(demo, run_cli, tmp_path):
    """The env.py ignores the connection planrun gives it and migrates the database its own
    setting names (here the demo's live database): the run is refused before anything changes
    there, and the revision stays not-linted with the reason."""
    env = demo.root / "migrations" / "env.py"
    elsewhere = demo.url.replace("postgresql://", "postgresql+psycopg2://", 1)
    text = env.read_text()
    start = text.index("    connectable = config.attributes")
    end = text.index("    with connectable.connect()")
    env.write_text(
        text[:start]
        + "    from sqlalchemy import create_engine\n\n"
        + f"    connectable = create_engine({elsewhere!r}, poolclass=pool.NullPool)\n"
        + text[end:]
    )
    demo.add_revision("003", "002", INSPECTING, UNDO)
    before = _whole(demo.url)

    code, out, err = run_cli("lint", demo.plan, "--url", demo.url, "--format", "json")
    report = json.loads(out)
    assert report["captured"] == []
    hit, _ = [f for f in report["findings"] if f["rule"] == "not-linted" and f["revision"] == "003"]
    assert "could not be brought to 002" in hit["message"] or "could not run on a scratch database" in hit["message"]
    assert "refused" in hit["message"], hit["message"]
    assert "planrun-secret-pw" not in out + err  # the refusal names the database without its password
    assert _whole(demo.url) == before


def test_a_run_that_fails_on_the_generated_rows_is_tried_again_without_them(demo, run_cli):
    """A data migration that parses what it reads (JSON in a text column) fails on generated
    names: lint runs it once more on a database without generated rows, and lints that run."""
    path = demo.add_revision(
        "003",
        "002",
        "    import json\n\n"
        "    bind = op.get_bind()\n"
        '    for (name,) in bind.execute(sa.text("SELECT name FROM users")).fetchall():\n'
        "        json.loads(name)\n"
        '    if "ix_users_name" not in [ix["name"] for ix in sa.inspect(bind).get_indexes("users")]:\n'
        '        op.create_index("ix_users_name", "users", ["name"])  # <-\n',
        '    op.drop_index("ix_users_name")\n',
    )
    code, out, err = run_cli("lint", demo.plan, "--url", demo.url, "--format", "json")
    report = json.loads(out)
    assert report["captured"] == ["003"], out + err
    (hit,) = [f for f in report["findings"] if f["rule"] == "create-index-not-concurrently"]
    assert hit["line"] == _marked(path)
