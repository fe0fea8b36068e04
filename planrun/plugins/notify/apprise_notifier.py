"""The ``apprise`` notifier: any Apprise URL (email, Teams, PagerDuty, Discord, ntfy...). Apprise
is an optional dependency (``pip install 'planrun[apprise]'``); a plan that uses it without it
installed gets a clear delivery warning, never a failed run."""

from __future__ import annotations

from pydantic import Field, SecretStr

from planrun.plugin import NotifierConfig


class AppriseNotifier(NotifierConfig):
    """Send through Apprise to one or more services."""

    urls: list[SecretStr] = Field(
        ..., min_length=1, description="Apprise URLs, e.g. ${TEAMS_URL}; kept out of every log."
    )

    def deliver(self, ctx, event) -> None:
        try:
            import apprise
        except ImportError:
            raise RuntimeError("the apprise notifier needs Apprise: pip install 'planrun[apprise]'") from None
        payload = event.payload()
        sender = apprise.Apprise()
        for url in self.urls:
            if not sender.add(url.get_secret_value()):
                raise RuntimeError("Apprise does not understand one of the notifier's URLs")
        title = ctx.redact(f"planrun {payload['event']}: {payload['plan']} on {payload['database']}")
        if not sender.notify(title=title, body=ctx.redact(_body(payload))):
            raise RuntimeError("Apprise could not deliver to every URL")


def _body(payload: dict) -> str:
    rollback = payload.get("rollback")
    lines = [
        payload["message"],
        "",
        f"plan: {payload['plan']}",
        f"database: {payload['database']}",
        f"revisions: {payload.get('revision_from') or '?'} -> {payload.get('revision_to') or '?'}",
    ]
    if payload.get("duration_seconds") is not None:
        lines.append(f"duration: {payload['duration_seconds']:.1f}s")
    if payload.get("backup_location"):
        lines.append(f"backup: {payload['backup_location']}")
    if rollback:
        lines.append(
            f"rollback: {'ok' if rollback['ok'] else 'FAILED'} by {rollback['method'] or '-'} in "
            f"{rollback['duration_seconds']}s"
        )
    if payload.get("error"):
        lines.append(f"error: {payload['error']}")
    lines.append(f"run: {payload['run_id']}")
    return "\n".join(lines)
