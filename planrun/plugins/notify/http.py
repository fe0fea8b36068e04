"""One JSON POST with a timeout, for the HTTP notifiers. A non-2xx answer or no answer raises;
the engine retries with backoff and, in the end, records a warning."""

from __future__ import annotations

import json
from typing import Any


class DeliveryFailed(Exception):
    pass


def post_json(
    url: str, payload: Any, *, timeout: float, headers: dict[str, str] | None = None, redact=lambda s: s
) -> bytes:
    """POST ``payload`` as JSON (after passing its text through ``redact``); return the body sent."""
    import urllib.error  # with http.client, email and ssl: a fifth of ``planrun --help`` when imported at the top
    import urllib.request

    body = redact(json.dumps(payload, default=str, sort_keys=True)).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "planrun", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryFailed(f"no answer: {reason}") from None
    return body
