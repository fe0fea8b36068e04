"""The slack, webhook and apprise notifiers against a local HTTP server that records what it
receives: the fields each carries, no secret in any of them, retries, and an endpoint that
never answers not changing the run's outcome."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from pathlib import Path

import psycopg2
import pytest

from planrun.engine import api
from planrun.engine.context import RunOptions

BROKEN = '    op.add_column("users", sa.Column("nickname", sa.String(50)))\n    op.execute("SELECT 1/0")\n'


def with_notifiers(demo, notifiers: str, extra: str = "") -> Path:
    text = demo.plan.read_text().replace("notify:\n  - log: {on: [start, success, failure, rollback]}\n", "")
    return demo.write_plan(text + "notify:\n" + notifiers + extra)


def apply(demo, plan: Path):
    out = io.StringIO()
    result = api.apply(str(plan), options=RunOptions(state_dir=demo.state_dir), stream=out)
    return result, out.getvalue()


def journal_text(state_dir: str) -> str:
    return "".join(p.read_text() for p in Path(state_dir).rglob("*.jsonl"))


def test_slack_and_webhook_carry_the_run_and_no_secret(demo, recorder, tmp_path, monkeypatch):
    secret = "hmac-key-s3cr3t"
    monkeypatch.setenv("HOOK_SECRET", secret)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", f"{recorder.url}/slack/T000/B000/XXXX")
    demo.add_revision("003", "002", BROKEN, '    op.drop_column("users", "nickname")\n')
    plan = with_notifiers(
        demo,
        (
            "  - slack: {webhook: '${SLACK_WEBHOOK_URL}', on: [failure]}\n"
            f"  - webhook: {{url: '{recorder.url}/hook', secret: '${{HOOK_SECRET}}', headers: {{X-Team: db}}}}\n"
        ),
        f"backup: {{to: '{tmp_path}/backups/{{run_id}}', verify: checksum}}\n",
    )
    result, out = apply(demo, plan)
    assert result.exit_code == 1 and result.rollback.ok

    password = psycopg2.extensions.parse_dsn(demo.url)["password"]
    everything = [r.body.decode() for r in recorder.requests]
    assert everything and not any(password in body or secret in body for body in everything)
    assert password not in out and secret not in out and "XXXX" not in out
    assert secret not in journal_text(demo.state_dir) and "/slack/T000" not in journal_text(demo.state_dir)

    hooks = recorder.at("/hook")
    assert [h.json()["event"] for h in hooks] == ["start", "rollback", "failure"]
    recorder.payloads("/hook")  # every key documented, every value of its documented type
    for request in hooks:
        expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["X-Planrun-Signature"] == expected
        assert request.headers["X-Team"] == "db"
    failure = hooks[-1].json()
    database = demo.url.rsplit("@", 1)[1]
    assert failure["plan"] == "demo-users-products" and failure["database"] == database
    assert (failure["revision_from"], failure["revision_to"]) == ("000", "003")
    assert failure["duration_seconds"] > 0
    assert failure["backup_location"].startswith(str(tmp_path / "backups"))
    assert failure["rollback"]["ok"] is True and failure["rollback"]["method"] == "downgrade"
    assert failure["rollback"]["duration_seconds"] >= 0
    assert (
        "revision 003 (versions/003_test.py) failed during upgrade: DivisionByZero: division by zero"
        in failure["error"]
    )

    (slack,) = recorder.at("/slack/T000/B000/XXXX")
    message = slack.json()
    assert message["text"].startswith(":x: demo-users-products: failed at migrate")
    fields = {f["text"].split("\n")[0]: f["text"].split("\n", 1)[1] for f in message["blocks"][1]["fields"]}
    assert fields["*Plan*"] == "demo-users-products" and fields["*Database*"] == database
    assert fields["*Revisions*"] == "000 → 003"
    assert fields["*Backup*"] == failure["backup_location"]
    assert fields["*Rollback*"].startswith("ok by downgrade in ")
    assert "DivisionByZero" in fields["*Error*"]


def test_a_500_is_retried_and_delivered(demo, recorder):
    recorder.answers["/hook"] = [500]
    plan = with_notifiers(demo, f"  - webhook: {{url: '{recorder.url}/hook', on: [success]}}\n")
    result, out = apply(demo, plan)
    assert result.exit_code == 0
    assert [r.status for r in recorder.at("/hook")] == [500, 200]
    assert [p["event"] for p in recorder.payloads("/hook")] == ["success", "success"]  # as the schema says
    records = [json.loads(line) for line in journal_text(demo.state_dir).splitlines()]
    (notified,) = [r for r in records if r["event"] == "notified"]
    assert notified["attempts"] == 2 and notified["kind"] == "success"
    assert "could not deliver" not in out


def test_an_endpoint_that_never_answers_does_not_change_the_outcome(demo, recorder):
    recorder.answers["/hook"] = ["hang"] * 10
    plan = with_notifiers(demo, f"  - webhook: {{url: '{recorder.url}/hook', timeout: 200ms, on: [success]}}\n")
    result, out = apply(demo, plan)
    assert result.exit_code == 0 and result.outcome == "success"
    assert len(recorder.at("/hook")) == 4  # the first try and three retries
    assert "notifier webhook could not deliver the success event: DeliveryFailed: no answer" in out
    records = [json.loads(line) for line in journal_text(demo.state_dir).splitlines()]
    assert [r["event"] for r in records if r["event"].startswith("notif")] == ["notify_failed"]


def test_apprise_delivers_through_its_own_url_scheme(demo, recorder):
    pytest.importorskip("apprise")
    host = recorder.url.removeprefix("http://")
    plan = with_notifiers(demo, f"  - apprise: {{urls: ['json://{host}/apprise'], on: [success]}}\n")
    result, out = apply(demo, plan)
    assert result.exit_code == 0, out
    (request,) = recorder.at("/apprise")
    body = request.json()
    assert body["title"].startswith("planrun success: demo-users-products on 127.0.0.1:")
    assert "revisions: 000 -> 002" in body["message"]
    assert psycopg2.extensions.parse_dsn(demo.url)["password"] not in request.body.decode()
