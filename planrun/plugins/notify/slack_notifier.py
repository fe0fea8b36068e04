"""The ``slack`` notifier: a message to a Slack incoming webhook with what the team needs to act:
plan, database (no credentials), revisions, duration, backup, rollback and the first error."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr

from planrun.plugin import Duration, NotifierConfig

from .http import post_json

_ICONS = {
    "start": ":rocket:",
    "success": ":white_check_mark:",
    "failure": ":x:",
    "rollback": ":leftwards_arrow_with_hook:",
    "alert": ":warning:",
}


class SlackNotifier(NotifierConfig):
    """Post to a Slack channel through an incoming webhook."""

    webhook: SecretStr = Field(
        ..., description="The incoming-webhook URL, usually ${SLACK_WEBHOOK_URL}; kept out of every log."
    )
    channel: str | None = Field(None, description="Override the webhook's channel.")
    timeout: Duration = Field(timedelta(seconds=5), description="How long to wait for Slack, per attempt.")

    def deliver(self, ctx, event) -> None:
        message = slack_message(event.payload())
        if self.channel:
            message["channel"] = self.channel
        post_json(self.webhook.get_secret_value(), message, timeout=self.timeout.total_seconds(), redact=ctx.redact)


def slack_message(payload: dict) -> dict:
    """Slack's ``text`` (shown in notifications) plus a block of fields."""
    rollback = payload.get("rollback")
    fields = {
        "Plan": payload["plan"],
        "Database": payload["database"],
        "Revisions": f"{payload.get('revision_from') or '?'} → {payload.get('revision_to') or '?'}",
        "Duration": f"{payload['duration_seconds']:.1f}s" if payload.get("duration_seconds") is not None else None,
        "Backup": payload.get("backup_location"),
        "Rollback": (
            f"{'ok' if rollback['ok'] else 'FAILED'} by {rollback['method'] or '-'} in {rollback['duration_seconds']}s"
            if rollback
            else None
        ),
        "Error": payload.get("error"),
        "Run": payload["run_id"],
    }
    text = f"{_ICONS.get(payload['event'], '')} {payload['message']}".strip()
    shown = [{"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in fields.items() if value]
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    for start in range(0, len(shown), 10):  # Slack allows ten fields per section
        blocks.append({"type": "section", "fields": shown[start : start + 10]})
    return {"text": text, "blocks": blocks}
