"""Projects shaped like real ones (tests/projects/): planrun migrates and round-trips the
database it means, and only that one, whatever the application's env.py reads."""
from __future__ import annotations

from pathlib import Path

from conftest import query

PROJECTS = Path(__file__).resolve().parent.parent / "projects"


def _untouched(url: str) -> bool:
    return query(url, "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace") == [(0,)]


def test_env_py_with_its_own_setting_that_honours_the_connection(run_cli, pg_cluster, db_url, monkeypatch, tmp_path):
    """Its URL comes from MYAPP_DATABASE_URL (here: another database, as a developer's shell
    would have it); planrun hands env.py its connection, so test and apply touch only theirs."""
    app_db = pg_cluster.create_database("myapp_" + tmp_path.name[-6:].lower().replace("-", "_"))
    monkeypatch.setenv("MYAPP_DATABASE_URL", app_db.replace("postgresql:", "postgresql+psycopg2:"))
    monkeypatch.setenv("DATABASE_URL", db_url)
    project = PROJECTS / "app_settings"
    code, out, err = run_cli("test", "--alembic-config", project / "alembic.ini", "--url", pg_cluster.url("postgres"))
    assert code == 0, out + err
    assert "2 of 2 revisions round-tripped; all passed" in out
    assert _untouched(app_db)
    code, out, err = run_cli("apply", project / "plan.yaml", "--yes", "--state-dir", tmp_path / "state")
    assert code == 0, out + err
    assert query(db_url, "SELECT version_num FROM alembic_version") == [("a2",)]
    assert query(db_url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'accounts' ORDER BY 1") == [
        ("email",), ("id",), ("name",)]
    assert _untouched(app_db)
