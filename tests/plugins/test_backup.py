"""Backups on a real Postgres, to a local folder and to S3 (moto's server): manifests,
verification at each depth, damaged backups that stop the run, unreachable storage, rollback by
restore, retention, and no password anywhere."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path

import psycopg2
import pytest
import yaml
from corrupt_backup import damage

from conftest import current_revision, query, schema_of, table_contents
from planrun.plugins.pg.fingerprint import schema_fingerprint

MANIFEST_FIELDS = {
    "writer",
    "backup_id",
    "plan",
    "run_id",
    "created_at",
    "database",
    "server_version",
    "pg_dump_version",
    "revision",
    "format",
    "compression",
    "files",
    "size",
    "row_counts",
    "schema_fingerprint",
}

# Lint refuses a DROP COLUMN unless the plan allows it and its backup is verified by restore.
ALLOW_DROP_COLUMN = {"lint": {"allow": {"drop-column": "the test drops products.description on purpose"}}}


def backup_plan(
    demo,
    *,
    to: str | None = None,
    verify: str = "restore",
    storage_options: dict | None = None,
    strategy: str = "downgrade-then-restore",
    extra: dict | None = None,
    name: str = "test.yaml",
    **backup,
) -> Path:
    plan = yaml.safe_load(demo.plan.read_text())
    plan["name"] = "backup-test"
    plan["notify"] = [{"log": {}}]  # (yaml.safe_load would read the key `on` as True)
    plan["backup"] = {"verify": verify, **backup}
    if to:
        plan["backup"]["to"] = to
    if storage_options:
        plan["backup"]["storage_options"] = storage_options
    plan["rollback"] = {"strategy": strategy, "within": "5m"}
    plan.update(extra or {})
    return demo.write_plan(yaml.safe_dump(plan, sort_keys=False), name)


def manifests(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.rglob("manifest.json"))]


@pytest.mark.parametrize("verify", ["checksum", "read", "restore"])
def test_local_backup_is_verified_and_described_by_its_manifest(demo, run_cli, tmp_path, verify):
    store = tmp_path / "backups"
    plan = backup_plan(demo, to=f"{store}/{{name}}/{{run_id}}/", verify=verify)
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    (manifest,) = manifests(store)
    assert MANIFEST_FIELDS <= set(manifest)
    assert manifest["plan"] == "backup-test" and manifest["revision"] == "000"
    assert manifest["row_counts"] == {"public.products": 4, "public.users": 5}
    assert manifest["compression"] == "zstd" and manifest["files"][0]["name"] == "dump.pgc.zst"
    stored = store / "backup-test" / manifest["run_id"] / "dump.pgc.zst"
    assert stored.stat().st_size == manifest["files"][0]["size"] == manifest["size"]
    assert "127.0.0.1" in manifest["database"] and "@" not in manifest["database"]
    assert {
        "checksum": "checksum: 1 file(s)",
        "read": "read: every block read back",
        "restore": "restored into a scratch database",
    }[verify] in out
    assert current_revision(demo.url) == ["002"]
    assert not [db for (db,) in query(demo.url, "SELECT datname FROM pg_database") if db.startswith("planrun_verify_")]


@pytest.mark.parametrize("fmt,compression", [("directory", "gzip"), ("custom", "none")])
def test_other_formats_and_compressions_restore(demo, run_cli, tmp_path, fmt, compression):
    plan = backup_plan(demo, to=f"{tmp_path}/b/{{run_id}}", format=fmt, compression=compression)
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    (manifest,) = manifests(tmp_path / "b")
    assert manifest["format"] == fmt and manifest["compression"] == compression
    assert "restored into a scratch database: 2 tables, 9 rows and the schema match" in out


def test_s3_backup_verify_list_and_reverify(demo, run_cli, moto):
    plan = backup_plan(demo, to="s3://planrun-test/{name}/{run_id}/", storage_options=moto.storage_options)
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    fs = moto.filesystem()
    (run_folder,) = fs.ls("planrun-test/backup-test")
    assert sorted(Path(p).name for p in fs.ls(run_folder)) == ["dump.pgc.zst", "manifest.json"]
    manifest = json.loads(fs.cat_file(f"{run_folder}/manifest.json"))
    assert MANIFEST_FIELDS <= set(manifest) and manifest["row_counts"]["public.users"] == 5
    code, out, err = run_cli("backups", plan)
    assert code == 0 and manifest["backup_id"] in out and "2 tables, 9 rows" in out
    code, out, err = run_cli("verify-backup", plan, "--backup", manifest["backup_id"], "--depth", "read")
    assert code == 0, err
    assert "every block read back" in out


@pytest.mark.parametrize(
    "mode,depth,message",
    [
        ("flip", "checksum", "dump.pgc.zst: checksum mismatch"),
        ("truncate", "read", "the stored manifest is not the one this run wrote"),
    ],
)
def test_damaged_backup_stops_the_run_before_migrating(demo, run_cli, tmp_path, monkeypatch, mode, depth, message):
    monkeypatch.setenv("PLANRUN_TEST_CORRUPT", mode)
    plan = backup_plan(demo, to=f"{tmp_path}/b/{{run_id}}", verify=depth, extra={"plugins": ["corrupt_backup"]})
    before = table_contents(demo.url)
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 1, out + err
    assert "verify-backup" in out and message in out
    assert "it stopped before any step that changes the target" in out
    assert current_revision(demo.url) == ["000"] and table_contents(demo.url) == before


def test_truncated_backup_with_a_rewritten_manifest_passes_checksum_but_not_read(demo, run_cli, tmp_path):
    plan = backup_plan(demo, to=f"{tmp_path}/b/{{run_id}}", verify="checksum")
    assert run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)[0] == 0
    (manifest,) = manifests(tmp_path / "b")
    damage(str(tmp_path / "b" / manifest["run_id"]), "truncate")
    assert run_cli("verify-backup", plan, "--backup", manifest["run_id"], "--depth", "checksum")[0] == 0
    code, out, err = run_cli("verify-backup", plan, "--backup", manifest["run_id"], "--depth", "read")
    assert code == 1 and "pg_restore" in err


def test_unreachable_storage_stops_the_run_before_migrating(demo, run_cli, stoppable_moto):
    plan = backup_plan(demo, to="s3://planrun-test/{name}/{run_id}/", storage_options=stoppable_moto.storage_options)
    stoppable_moto.stop()
    before = table_contents(demo.url)
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 1, out + err
    assert "run failed at backup" in out and "it stopped before any step that changes the target" in out
    assert current_revision(demo.url) == ["000"] and table_contents(demo.url) == before


def test_downgrade_then_restore_brings_a_dropped_columns_data_back(demo, run_cli, tmp_path):
    # 003 drops products.description (committed: one transaction per revision), 004 fails. The
    # downgrade re-adds an empty column: the schema matches but the data proof fails, so the
    # runner restores from the verified backup.
    demo.add_revision(
        "003",
        "002",
        '    op.drop_column("products", "description")\n',
        '    op.add_column("products", sa.Column("description", sa.Text))\n',
    )
    demo.add_revision("004", "003", '    op.execute("SELECT 1/0")\n')
    plan = backup_plan(demo, to=f"{tmp_path}/b/{{run_id}}", extra=ALLOW_DROP_COLUMN)
    conn = psycopg2.connect(demo.url)
    before_schema = schema_fingerprint(conn)
    conn.close()
    before = table_contents(demo.url)
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 1, out + err
    assert "rollback: downgrade" in out and "data: " in out
    assert "rollback: restore" in out and "proven" in out
    assert current_revision(demo.url) == ["000"]
    assert table_contents(demo.url) == before
    conn = psycopg2.connect(demo.url)
    assert schema_fingerprint(conn) == before_schema
    conn.close()
    records = [
        json.loads(item) for p in Path(demo.state_dir, "runs").glob("*.jsonl") for item in p.read_text().splitlines()
    ]
    rollback = next(r for r in records if r["event"] == "rollback_end")
    assert rollback["method"] == "restore" and rollback["ok"] and rollback["within"] == 300
    assert [a["method"] for a in rollback["attempts"]] == ["downgrade", "restore"]


def test_manual_restore_and_refusal_of_a_damaged_backup(demo, run_cli, tmp_path):
    plan = backup_plan(demo, to=f"{tmp_path}/b/{{run_id}}", verify="checksum")
    before = table_contents(demo.url)
    assert run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)[0] == 0
    (manifest,) = manifests(tmp_path / "b")
    code, out, err = run_cli("restore", plan, "--backup", manifest["run_id"], "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    assert current_revision(demo.url) == ["000"] and table_contents(demo.url) == before
    assert run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)[0] == 0
    damage(str(tmp_path / "b" / manifest["run_id"]), "flip")
    code, out, err = run_cli("restore", plan, "--backup", manifest["run_id"], "--yes", "--state-dir", demo.state_dir)
    assert code == 1 and "checksum mismatch" in out
    assert current_revision(demo.url) == ["002"]


@pytest.mark.parametrize("head", ["default", 64], ids=["toc-in-the-head", "toc-longer-than-the-head"])
def test_restore_keeps_only_the_archives_head_locally_and_falls_back_to_a_full_copy(
    demo, run_cli, tmp_path, monkeypatch, head
):
    """Post-data is built from a local file holding only the archive's table of contents; when
    the contents are longer than that head, pg_restore's listings differ and a full copy is used."""
    from planrun.plugins.backup import restore

    full_copies = []
    real_local_archive = restore.local_archive
    monkeypatch.setattr(restore, "local_archive", lambda *a: full_copies.append(a) or real_local_archive(*a))
    if head != "default":
        monkeypatch.setattr(restore, "TOC_HEAD", head)
    plan = backup_plan(demo, to=f"{tmp_path}/b/{{run_id}}", verify="checksum")
    before, schema = table_contents(demo.url), schema_of(demo.url)
    assert run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)[0] == 0
    (manifest,) = manifests(tmp_path / "b")
    code, out, err = run_cli("restore", plan, "--backup", manifest["run_id"], "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    assert table_contents(demo.url) == before and schema_of(demo.url) == schema  # indexes and constraints included
    assert len(full_copies) == (0 if head == "default" else 1)


def test_retention_keeps_what_the_policy_says_and_nothing_it_did_not_write(demo, run_cli, tmp_path):
    root = tmp_path / "b" / "backup-test"
    foreign = root / "not-ours"
    foreign.mkdir(parents=True)
    (foreign / "data.bin").write_bytes(b"x")
    other_plan = root / "other-plan-backup"
    other_plan.mkdir()
    plan = backup_plan(demo, to=f"{tmp_path}/b/{{name}}/{{run_id}}", verify="checksum", keep={"last": 2})
    run_ids = []
    for _ in range(4):
        assert run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)[0] == 0
        run_ids.append(max(p.name for p in root.iterdir() if p.name not in ("not-ours", "other-plan-backup")))
    (other_plan / "manifest.json").write_text(
        (root / run_ids[-1] / "manifest.json").read_text().replace('"plan": "backup-test"', '"plan": "another"')
    )
    assert run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)[0] == 0
    kept = sorted(p.name for p in root.iterdir())
    newest = max(set(kept) - {"not-ours", "other-plan-backup"})
    assert kept == sorted([run_ids[-1], newest, "not-ours", "other-plan-backup"])
    assert (foreign / "data.bin").exists()


def test_retention_policy_by_age_and_count():
    from datetime import datetime, timedelta

    from planrun.plugins.backup.manifest import Manifest
    from planrun.plugins.backup.retention import expired

    now = datetime(2026, 11, 24, tzinfo=UTC)

    def made(days_ago: int, run_id: str):
        return (
            run_id,
            Manifest(
                backup_id=run_id,
                plan="p",
                run_id=run_id,
                created_at=(now - timedelta(days=days_ago)).isoformat(),
                database="h/db",
                server_version="15",
                pg_dump_version="15",
                format="custom",
                compression="zstd",
                files=[],
                size=0,
                row_counts={},
                schema_fingerprint="",
            ),
        )

    backups = [made(d, f"r{d}") for d in (0, 5, 20, 40, 60)]
    assert [b[0] for b in expired(backups, last=2, days=30, current="r0", now=now)] == ["r40", "r60"]
    assert [b[0] for b in expired(backups, last=1, days=None, current="r60", now=now)] == ["r5", "r20", "r40"]
    assert expired(backups, last=None, days=None, current="r0", now=now) == []


def test_no_password_in_output_manifest_journal_or_arguments(demo, run_cli, tmp_path):
    from planrun.plugins.pg.tools import libpq_env

    demo.add_revision("003", "002", '    op.drop_column("products", "description")\n    op.execute("SELECT 1/0")\n')
    plan = backup_plan(demo, to=f"{tmp_path}/b/{{run_id}}", extra=ALLOW_DROP_COLUMN)
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 1
    password = psycopg2.extensions.parse_dsn(demo.url)["password"]
    assert password not in out + err
    files = [p for folder in (tmp_path / "b", Path(demo.state_dir)) for p in folder.rglob("*") if p.is_file()]
    assert any(p.name == "manifest.json" for p in files) and any(p.suffix == ".jsonl" for p in files)
    for path in files:
        if path.suffix in (".json", ".jsonl"):
            assert password not in path.read_text(), path
    with libpq_env(demo.url) as env:
        # the password reaches pg_dump/pg_restore in their own environment only: no file can outlive them
        assert env["PGPASSWORD"] == password
        assert password not in " ".join(f"{k}={v}" for k, v in env.items() if k != "PGPASSWORD")
        assert "PGPASSFILE" not in env
