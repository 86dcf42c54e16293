"""`s2i-bot trigger`: ask a running bot to build a branch or tag head (POST /api/builds,
bot/manual_trigger.py), from a shell or a CronJob (manifests/cronjob-rebuild.yaml).

Where the bot answers: `--url`, else the settings' `public_url` (S2I_BOT_PUBLIC_URL, or
`public_url` in the --config file). The bearer token: the settings' `api_token`
(S2I_BOT_API_TOKEN, or `api_token` in the --config file): the same setting the bot checks, so
never on the command line, where `ps` shows it. Only the standard library: the call is one
POST.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

TIMEOUT = 60.0  # seconds: the bot asks the forge for the head and .s2i.yaml first


class TriggerFailed(Exception):
    """The trigger was not accepted; `code` is the command's exit code (1 refused by the
    bot, 2 the bot could not be asked)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Accepted:
    delivery_id: str
    delivery_url: str
    forge: str
    repo: str
    ref: str
    sha: str
    builds: tuple[str, ...]

    def summary(self) -> str:
        builds = ", ".join(self.builds) or "as detected"
        return (
            f"accepted: {self.forge} {self.repo} {self.ref} at {self.sha[:12]} "
            f"(builds: {builds}); follow it at {self.delivery_url}"
        )


def request_body(repo: str, ref: str | None, name: str | None, forge: str | None) -> bytes:
    fields = {"repo": repo, "ref": ref, "name": name, "forge": forge}
    return json.dumps({k: v for k, v in fields.items() if v is not None}).encode()


def trigger(url: str, token: str | None, body: bytes) -> Accepted:
    """POST the trigger; Accepted, or TriggerFailed with one line saying what to fix."""
    if token is None:
        raise TriggerFailed(
            "no api_token: set S2I_BOT_API_TOKEN (or api_token in --config) to the bot's", 2
        )
    endpoint = f"{url.rstrip('/')}/api/builds"
    request = urllib.request.Request(
        endpoint, data=body, method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            answer = _json(response.read())
    except urllib.error.HTTPError as exc:
        raise TriggerFailed(_refusal(exc.code, exc.read(), endpoint), 1) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TriggerFailed(
            f"cannot reach the bot at {endpoint}: {reason}; set --url or public_url", 2
        ) from None
    try:
        return Accepted(
            str(answer["accepted"]), str(answer["delivery"]), str(answer["forge"]),
            str(answer["repo"]), str(answer["ref"]), str(answer["sha"]),
            tuple(str(b) for b in answer["builds"]),
        )  # fmt: skip
    except (KeyError, TypeError):
        raise TriggerFailed(f"{endpoint} answered something that is not s2i-bot's", 2) from None


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _refusal(status: int, body: bytes, endpoint: str) -> str:
    answer = _json(body)
    error = answer.get("error") if isinstance(answer, dict) else None
    if status == 401:
        return "the bot refused the token (401): set S2I_BOT_API_TOKEN to the bot's api_token"
    if status == 404 and error == "not found":
        return f"{endpoint}: no triggers there (404): the bot has no api_token configured"
    return f"the bot refused the trigger ({status}): {error or body[:200].decode(errors='replace')}"
