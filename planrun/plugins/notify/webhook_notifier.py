"""The ``webhook`` notifier: each event as a JSON POST to any URL, optionally signed with
HMAC-SHA256 so the receiver can tell it came from planrun (header ``X-Planrun-Signature:
sha256=<hex of HMAC(secret, body)>``, GitHub's scheme)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

from pydantic import Field, SecretStr

from planrun.plugin import Duration, NotifierConfig

from .http import post_json

SIGNATURE_HEADER = "X-Planrun-Signature"


class WebhookNotifier(NotifierConfig):
    """POST every event as JSON to a URL of yours."""

    url: SecretStr = Field(..., description="Where to POST, usually ${WEBHOOK_URL}; kept out of every log.")
    secret: SecretStr | None = Field(
        None, description="HMAC-SHA256 key for the X-Planrun-Signature header, e.g. ${WEBHOOK_SECRET}."
    )
    headers: dict[str, str] = Field({}, description="Extra HTTP headers.")
    timeout: Duration = Field(timedelta(seconds=5), description="How long to wait for an answer, per attempt.")

    def deliver(self, ctx, event) -> None:
        body = ctx.redact(json.dumps(event.payload(), default=str, sort_keys=True)).encode()
        headers = dict(self.headers)
        if self.secret is not None:
            headers[SIGNATURE_HEADER] = signature(self.secret.get_secret_value(), body)
        post_json(self.url.get_secret_value(), json.loads(body), timeout=self.timeout.total_seconds(), headers=headers)


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
