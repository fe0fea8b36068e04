"""Every proof covers what it claims (issue 24). A rollback says "proven" only when every table
the run wrote was compared with its pre-run state; the backup's scope decides what is saved,
never what is proven. Each test compares the whole contents of every schema before and after.

The faults: a capitalised table name lost between the parser and the catalog; tables written by
an existing trigger; a scope that misses a table (a plugin that answers wrongly) caught by the
run's own write record; a schema-only proof worded as if the data were back; the history store
pointed at ``public``; revision code that ends the process."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import ROOT, execute, table_contents, upgrade, write_revision

# the application, on its own connection, while the migration runs
APP_WRITES = (
    "    if not op.get_context().as_sql:\n"
    "        import os, psycopg2\n"
    '        app = psycopg2.connect(os.environ["DATABASE_URL"])\n'
    "        with app, app.cursor() as cursor:\n"
    "            cursor.execute({sql!r})\n"
    "        app.close()\n"
)
FAILING_POST_CHECK = "checks:\n  post:\n    - {name: the release is refused, sql: 'SELECT 1', expect: 2}\n"


def _project(
    tmp_path: Path,
    db_url: str,
    monkeypatch,
    setup: str,
    rows: str,
    change: str,
    *,
    scope: str = "touched",
    strategy: str = "downgrade-then-restore",
    extra: str = "",
    undo: str | None = None,
    app_writes: str = "",
) -> Path:
    """A project whose revision a1 runs ``setup`` (SQL), loaded with ``rows`` (SQL), and whose
    revision a2 runs ``change`` (SQL; its downgrade runs ``undo``, or nothing); a post-check always fails,
    so every apply rolls a2 back."""
    root = tmp_path / "project"
    shutil.copytree(ROOT / "migrations", root, ignore=shutil.ignore_patterns("__pycache__", "versions"))
    (root / "versions").mkdir()
    write_revision(root / "versions", "a1", None, f"    op.execute({setup!r})\n")
    body = f"    op.execute({change!r})\n" + (APP_WRITES.format(sql=app_writes) if app_writes else "")
    if undo is None:
        write_revision(root / "versions", "a2", "a1", body)
    else:
        write_revision(root / "versions", "a2", "a1", body, f"    op.execute({undo!r})\n")
    upgrade(root / "alembic.ini", db_url, "a1")
    execute(db_url, rows)
    monkeypatch.setenv("DATABASE_URL", db_url)
    plan = root / "plan.yaml"
    plan.write_text(
        "version: 1\nname: proofs\ntarget: {url: '${DATABASE_URL}', alembic: {config: alembic.ini}}\n"
        "migrate: {to: a2}\n"
        f"backup: {{to: '{tmp_path}/backups/{{run_id}}/', scope: '{scope}'}}\n"
        f"rollback: {{strategy: {strategy}}}\n" + FAILING_POST_CHECK + extra
    )
    return plan


def _journal(state: Path) -> list[dict]:
    return [json.loads(line) for path in state.rglob("*.jsonl") for line in path.read_text().splitlines()]


def _items_project(tmp_path: Path, db_url: str, monkeypatch, **options) -> Path:
    """The smallest project: table ``items`` with 5 rows, and a revision that deletes one."""
    return _project(
        tmp_path,
        db_url,
        monkeypatch,
        "CREATE TABLE items (id int PRIMARY KEY)",
        "INSERT INTO items SELECT generate_series(1, 5)",
        "DELETE FROM items WHERE id = 3",
        **options,
    )


def _with_a_way_down(plan: Path) -> None:
    """Revision a1 gets a real downgrade, so the stairway can go down to base."""
    first = plan.parent / "versions" / "a1_test.py"
    first.write_text(
        first.read_text().rsplit("def downgrade():", 1)[0] + 'def downgrade():\n    op.drop_table("items")\n'
    )


def _upgrade_ends_with(plan: Path, line: str, module: str = "") -> None:
    """Revision a2's upgrade gets ``line`` as its last statement (and ``import module`` first)."""
    revision = plan.parent / "versions" / "a2_test.py"
    text = revision.read_text().replace("def downgrade():", f"    {line}\n\n\ndef downgrade():")
    revision.write_text((f"import {module}\n" if module else "") + text)


def _rolled_back(tmp_path: Path, db_url: str, run_cli, plan: Path) -> tuple[str, list[dict]]:
    """Apply ``plan`` (its post-check fails): exit 1, and every table of every schema exactly
    as before. Returns what it printed and its journal."""
    before = table_contents(db_url)
    state = tmp_path / "state"
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", state)
    assert code == 1, out + err
    assert table_contents(db_url) == before
    return out + err, _journal(state)


def test_a_capitalised_table_is_in_the_scope_and_restored(tmp_path, db_url, monkeypatch, run_cli):
    """``UPDATE "Accounts"``: the scope once resolved the name as ``accounts`` (folded), found
    no table, and the run said "proven" with the rows still changed."""
    plan = _project(
        tmp_path,
        db_url,
        monkeypatch,
        'CREATE TABLE "Accounts" (id int PRIMARY KEY, balance int NOT NULL); CREATE SCHEMA "Billing"; '
        'CREATE TABLE "Billing"."Invoices" (id int PRIMARY KEY, v text); CREATE TABLE accounts (id int PRIMARY KEY)',
        'INSERT INTO "Accounts" SELECT g, 10 * g FROM generate_series(1, 5) g; '
        "INSERT INTO \"Billing\".\"Invoices\" VALUES (1, 'one'), (2, 'two'); INSERT INTO accounts VALUES (1)",
        'UPDATE "Accounts" SET balance = balance + 100 WHERE id <= 2; '
        'UPDATE "Billing"."Invoices" SET v = \'changed\' WHERE id > 0',
    )
    _, journal = _rolled_back(tmp_path, db_url, run_cli, plan)
    backup = next(r for r in journal if r["event"] == "backup")
    # exactly the two tables written, not the lower-case accounts beside them
    assert sorted(backup["scope"]) == ['"Billing"."Invoices"', 'public."Accounts"']  # as SQL: never ambiguous


TRIGGERED = (
    "CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL); "
    "CREATE TABLE ledger (id serial PRIMARY KEY, account int, delta int); "
    "CREATE TABLE totals (name text PRIMARY KEY, total int); "
    "CREATE FUNCTION book() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "INSERT INTO ledger (account, delta) VALUES (NEW.id, NEW.balance - OLD.balance); "
    "UPDATE totals SET total = total + NEW.balance - OLD.balance WHERE name = 'all'; "
    "RETURN NEW; END $$; "
    "CREATE TRIGGER book AFTER UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION book()"
)
TRIGGERED_ROWS = (
    "INSERT INTO accounts SELECT g, 100 FROM generate_series(1, 5) g; INSERT INTO totals VALUES ('all', 500)"
)


def test_tables_an_existing_trigger_writes_are_in_the_scope(tmp_path, db_url, monkeypatch, run_cli):
    """An AFTER UPDATE trigger on accounts writes ledger and totals: the scope once held
    accounts alone, and the rollback left ledger with 3 extra rows and totals wrong."""
    plan = _project(
        tmp_path, db_url, monkeypatch, TRIGGERED, TRIGGERED_ROWS, "UPDATE accounts SET balance = 0 WHERE id <= 3"
    )
    _, journal = _rolled_back(tmp_path, db_url, run_cli, plan)
    backup = next(r for r in journal if r["event"] == "backup")
    assert backup["scope"] == ["public.accounts", "public.ledger", "public.totals"]


def _trigger_rewritten_project(tmp_path: Path, db_url: str, monkeypatch) -> Path:
    """The trigger function starts quiet (it writes nothing); the revision gives it the body
    that writes ledger and totals, then updates accounts: a scope read from the SQL holds
    accounts alone, while the run's transactions write all three."""
    quiet = TRIGGERED.replace(
        "INSERT INTO ledger (account, delta) VALUES (NEW.id, NEW.balance - OLD.balance); "
        "UPDATE totals SET total = total + NEW.balance - OLD.balance WHERE name = 'all'; ",
        "",
    )
    assert quiet != TRIGGERED

    def body(setup: str) -> str:  # the function's signature and body, after CREATE FUNCTION
        return setup.split("CREATE TRIGGER")[0].split("CREATE FUNCTION")[1]

    return _project(
        tmp_path,
        db_url,
        monkeypatch,
        quiet,
        TRIGGERED_ROWS,
        "CREATE OR REPLACE FUNCTION" + body(TRIGGERED) + "UPDATE accounts SET balance = 0 WHERE id <= 3",
        undo="CREATE OR REPLACE FUNCTION" + body(quiet).rstrip("; "),
    )


def test_a_scope_that_misses_a_table_is_caught_by_the_runs_own_write_record(tmp_path, db_url, monkeypatch, run_cli):
    """A blind spot of any reading of SQL: the revision replaces the body of the trigger
    function, which then writes ledger and totals; the scope read the function as it was before
    (it wrote nothing) and holds accounts alone. The run's transactions themselves say they
    wrote ledger and totals too: the rollback is not called proven, and the run ends with exit
    3 naming them."""
    plan = _trigger_rewritten_project(tmp_path, db_url, monkeypatch)
    state = tmp_path / "state"
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", state)
    printed = out + err
    assert code == 3, printed
    assert "not proven: the run wrote public.ledger, public.totals, outside the backup's scope" in printed
    assert "proven: " not in printed.replace("not proven: ", "")
    assert "back where it started" not in printed
    upgrade_wrote = [r["tables"] for r in _journal(state) if r["event"] == "tables_written" and r["verb"] == "upgrade"]
    assert upgrade_wrote == [["public.accounts", "public.ledger", "public.totals"]]


def test_a_schema_only_proof_does_not_claim_the_data_is_back(tmp_path, db_url, monkeypatch, run_cli):
    """strategy: downgrade proves the schema only: the end says so, and names what the run
    wrote, instead of "the database is back where it started"."""
    plan = _items_project(tmp_path, db_url, monkeypatch, strategy="downgrade", scope="database")
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", tmp_path / "state")
    printed = out + err
    assert code == 1, printed
    assert "back where it started" not in printed and "pre-run state is back" not in printed
    assert (
        "schema is as before; data was not compared (strategy downgrade proves the schema only; add restore to "
        "prove data); the run wrote public.items" in printed
    )


def test_a_full_proof_says_schema_and_every_tables_data(tmp_path, db_url, monkeypatch, run_cli):
    plan = _items_project(tmp_path, db_url, monkeypatch, scope="database")
    printed, _ = _rolled_back(tmp_path, db_url, run_cli, plan)
    assert "proven: the schema and every table's data are as before" in printed


def test_the_history_store_cannot_be_an_application_schema(tmp_path, db_url, monkeypatch, run_cli):
    """``history: {schema: public}`` once validated; planrun then marked public as its own and
    left it out of every fingerprint and backup."""
    plan = _project(
        tmp_path,
        db_url,
        monkeypatch,
        "CREATE TABLE items (id int PRIMARY KEY); CREATE SCHEMA app",
        "INSERT INTO items SELECT generate_series(1, 5)",
        "DELETE FROM items WHERE id = 3",
    )
    text = plan.read_text()
    plan.write_text(text + "history: {schema: public}\n")
    code, out, err = run_cli("validate", plan)
    assert code == 2, out + err
    assert f"{plan}:10:19: history.schema: 'public' is PostgreSQL's default schema" in err, err
    # an application schema that exists: refused before anything runs, and left unmarked
    before = table_contents(db_url)
    plan.write_text(text + "history: {schema: app}\n")
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", tmp_path / "state")
    assert code == 2, out + err
    assert "history.schema: schema app exists and is not planrun's" in out + err
    assert table_contents(db_url) == before
    from conftest import query

    assert query(db_url, "SELECT obj_description('app'::regnamespace, 'pg_namespace')") == [(None,)]


def test_a_revision_that_exits_on_import_fails_the_run(tmp_path, db_url, monkeypatch, run_cli):
    """``sys.exit(0)`` in a revision module once made apply exit 0 with nothing migrated, and
    ``planrun test`` exit 0 with no report: a CI gate passing falsely."""
    plan = _items_project(tmp_path, db_url, monkeypatch)
    revision = plan.parent / "versions" / "a2_test.py"
    revision.write_text("import sys\nsys.exit(0)\n" + revision.read_text())
    before = table_contents(db_url)
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", tmp_path / "state")
    assert code == 2, out + err
    assert "versions/a2_test.py" in out + err and "ended the process (SystemExit(0))" in out + err
    assert table_contents(db_url) == before
    report = tmp_path / "report.json"
    code, out, err = run_cli("test", plan, "--json-report", report)
    assert code == 2, out + err
    assert "ended the process (SystemExit(0))" in out + err


def test_a_revision_that_interrupts_itself_is_rolled_back(tmp_path, db_url, monkeypatch, run_cli):
    """``raise KeyboardInterrupt`` (or ``sys.exit()``) inside a revision's upgrade, after it
    changed rows: the run fails, rolls back and proves it, never leaves half-way."""
    plan = _items_project(tmp_path, db_url, monkeypatch, scope="database")
    _upgrade_ends_with(plan, "raise KeyboardInterrupt")
    printed, _ = _rolled_back(tmp_path, db_url, run_cli, plan)
    assert "revision a2 (versions/a2_test.py) failed during upgrade: KeyboardInterrupt" in printed


ACCOUNTS = "CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)"
ACCOUNT_ROWS = "INSERT INTO accounts SELECT g, 100 FROM generate_series(1, 10) g"
RUN_CHANGES = "UPDATE accounts SET balance = 0 WHERE id <= 3; DELETE FROM accounts WHERE id = 10"
# the application's writes, during the run, to the table the restore replaces
APPLICATION = "INSERT INTO accounts VALUES (11, 111); UPDATE accounts SET balance = 555 WHERE id = 5"


def _concurrent(tmp_path, db_url, monkeypatch, policy: str | None, scope: str = "touched") -> Path:
    extra = f"rollback_extra: {policy}" if policy else ""
    plan = _project(
        tmp_path, db_url, monkeypatch, ACCOUNTS, ACCOUNT_ROWS, RUN_CHANGES, scope=scope, app_writes=APPLICATION
    )
    if policy:
        plan.write_text(plan.read_text().replace("rollback: {", f"rollback: {{concurrent_writes: {policy}, "))
    assert not extra or "concurrent_writes" in plan.read_text()
    return plan


def _with_application_writes(before: dict) -> dict:
    rows = [r for r in before["public.accounts"]["rows"] if r[0] != 5] + [(5, 555), (11, 111)]
    return {**before, "public.accounts": {**before["public.accounts"], "rows": sorted(rows, key=repr)}}


def test_writes_by_others_are_not_restored_over_by_default(tmp_path, db_url, monkeypatch, run_cli):
    """The table-scoped restore once deleted the application's rows written during the run
    without a word. By default (refuse) nothing is restored over them: exit 3, named."""
    plan = _concurrent(tmp_path, db_url, monkeypatch, None)
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", tmp_path / "state")
    printed = out + err
    assert code == 3, printed
    assert (
        "not restored: other transactions wrote to the tables the restore would replace since the backup "
        "(public.accounts: 2 row(s) written); nothing was restored over them" in printed
    )
    rows = dict(table_contents(db_url)["public.accounts"]["rows"])
    assert rows[11] == 111 and rows[5] == 555  # the application's writes are there


def test_writes_by_others_are_kept_and_the_runs_own_undone(tmp_path, db_url, monkeypatch, run_cli):
    plan = _concurrent(tmp_path, db_url, monkeypatch, "keep")
    before = table_contents(db_url)
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", tmp_path / "state")
    printed = out + err
    assert code == 1, printed
    assert table_contents(db_url) == _with_application_writes(before)
    assert "kept the writes of other transactions: public.accounts: 2 row(s) written" in printed
    assert "except table public.accounts: other transactions' writes kept there" in printed


def test_writes_by_others_discarded_when_the_plan_says_so(tmp_path, db_url, monkeypatch, run_cli):
    plan = _concurrent(tmp_path, db_url, monkeypatch, "discard")
    printed, _ = _rolled_back(tmp_path, db_url, run_cli, plan)  # back to before: the other writes discarded
    assert (
        "discarded writes of other transactions (rollback.concurrent_writes: discard): public.accounts: 2 row(s) "
        "written" in printed
    )


def test_a_whole_database_restore_refuses_over_writes_by_others(tmp_path, db_url, monkeypatch, run_cli):
    plan = _concurrent(tmp_path, db_url, monkeypatch, None, scope="database")
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", tmp_path / "state")
    printed = out + err
    assert code == 3, printed
    assert "(public.accounts: 2 row(s) written); nothing was restored over them" in printed
    assert "keep needs a table-scoped backup (backup.scope: touched)" in printed
    rows = dict(table_contents(db_url)["public.accounts"]["rows"])
    assert rows[11] == 111 and rows[5] == 555


def test_a_revision_that_ends_the_process_uncatchably_never_looks_like_success(tmp_path, db_url, monkeypatch):
    """``os._exit(0)`` in a revision ends the process past every ``except``: run as a command,
    apply and test are watched by a parent that says so and exits 3 instead of 0."""
    import os
    import subprocess
    import sys

    plan = _items_project(tmp_path, db_url, monkeypatch)
    _with_a_way_down(plan)
    _upgrade_ends_with(plan, "os._exit(0)", "os")
    env = dict(os.environ, DATABASE_URL=db_url)
    for verb in (["apply", str(plan), "--yes", "--state-dir", str(tmp_path / "state")], ["test", str(plan)]):
        done = subprocess.run(
            [sys.executable, "-m", "planrun.engine.cli", *verb], env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 3, done.stdout + done.stderr
        assert (
            f"planrun: the {verb[0]} process ended with exit code 0 before the run finished (code run inside it "
            "ended the process, as os._exit() does, or it crashed)" in done.stderr
        )


def test_a_trigger_the_revision_creates_is_followed_by_the_scope(tmp_path, db_url, monkeypatch, run_cli):
    """A revision adds an audit trigger, then updates: the scope reads the trigger's function
    (created in the same revision, or already on the target) and holds what it writes."""
    plan = _project(
        tmp_path,
        db_url,
        monkeypatch,
        TRIGGERED.replace(
            "CREATE TRIGGER book AFTER UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION book()", "SELECT 1"
        ),
        TRIGGERED_ROWS,
        "CREATE TRIGGER book AFTER UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION book(); "
        "UPDATE accounts SET balance = 0 WHERE id <= 3",
        undo="DROP TRIGGER book ON accounts",
    )
    _, journal = _rolled_back(tmp_path, db_url, run_cli, plan)
    backup = next(r for r in journal if r["event"] == "backup")
    assert backup["scope"] == ["public.accounts", "public.ledger", "public.totals"]


def test_a_correct_restore_of_an_in_list_schema_is_proven_not_a_false_alarm(tmp_path, db_url, monkeypatch, run_cli):
    """SQLAlchemy's ``Enum(native_enum=False)`` and ``CheckConstraint("x IN (...)")`` on
    varchar, partial indexes ``WHERE status <> ALL (ARRAY[...])``: PostgreSQL prints them
    differently after pg_dump and pg_restore. Compared as text, ``verify: restore`` failed on an
    untouched database and a correct restore rollback ended in exit 3."""
    plan = _project(
        tmp_path,
        db_url,
        monkeypatch,
        "CREATE TABLE orders (id int PRIMARY KEY, status varchar(20) NOT NULL "
        "CHECK (status IN ('new', 'paid', 'gone')), kind varchar(8) CHECK (kind IN ('a', 'b')), note text); "
        "CREATE INDEX orders_open ON orders (status) WHERE status::text <> ALL (ARRAY['paid'::varchar, 'gone'])",
        "INSERT INTO orders SELECT g, 'new', 'a', 'note ' || g FROM generate_series(1, 20) g",
        "ALTER TABLE orders DROP COLUMN note",
        scope="database",
        undo="ALTER TABLE orders ADD COLUMN note text",
        extra="lint: {allow: {drop-column: 'the test drops it on purpose'}}\n",
    )
    plan.write_text(plan.read_text().replace("scope: 'database'}", "scope: 'database', verify: restore}"))
    before = table_contents(db_url)
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", tmp_path / "state")
    printed = out + err
    assert code == 1, printed
    assert "restored into a scratch database" in printed  # verify: restore passed on the untouched database
    assert "rolled back by restore" in printed and "proven: the schema and every table's data are as before" in printed
    assert table_contents(db_url) == before


def test_the_stairway_counts_a_revision_that_exits_as_a_failed_case(tmp_path, db_url, monkeypatch, run_cli):
    plan = _items_project(tmp_path, db_url, monkeypatch)
    _with_a_way_down(plan)
    _upgrade_ends_with(plan, "sys.exit(0)", "sys")
    report = tmp_path / "report.json"
    code, out, err = run_cli("test", plan, "--json-report", report)
    assert code == 1, out + err
    cases = {(c["suite"], c["name"]): c for c in json.loads(report.read_text())["cases"]}
    assert cases["stairway", "a2"]["outcome"] == "failed"
    assert cases["stairway", "a2"]["message"] == (
        "upgrade failed: revision a2 (versions/a2_test.py) failed during upgrade to a2: SystemExit: 0"
    )


def test_a_recovered_run_is_held_to_the_scope_of_the_backup_it_took(tmp_path, db_url, monkeypatch, run_cli):
    """The same blind spot, after a ``kill -9``: ``recover`` reads the dead run's pre-run
    snapshots back from the store, and they came back without what they cover (the backup's
    scope), so the restore of accounts alone was called proven while ledger and totals stayed
    changed. Read back, they keep their scope: the recovery is not called proven, and names
    the tables outside it."""
    from types import SimpleNamespace

    from faults import kill9, spawn_apply, wait_for_file, with_fault_plugin

    plan = _trigger_rewritten_project(tmp_path, db_url, monkeypatch)
    plan.write_text(with_fault_plugin(plan.read_text()))
    state, marker = tmp_path / "state", tmp_path / "paused"
    runner = spawn_apply(SimpleNamespace(url=db_url, state_dir=str(state)), plan, "pause:post-checks", marker)
    assert wait_for_file(marker), runner.communicate(timeout=5)[0]
    kill9(runner)  # migrated (ledger and totals written by the trigger), killed before its post-checks
    code, out, err = run_cli("recover", plan, "--yes", "--state-dir", state)
    printed = out + err
    assert "not proven: the run wrote public.ledger, public.totals, outside the backup's scope" in printed, printed
    assert "proven: " not in printed.replace("not proven: ", "")
    assert code == 3, printed
