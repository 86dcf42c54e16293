import json
from typing import Any

import pytest

from bot.events import EventKind
from bot.forges.base import Ignored, PayloadError, Ping, SignatureError
from bot.forges.github import parse
from tests.fakes.webhooks import github_headers, load_example

SECRET = "It's a Secret to Everybody"


def signed(event: str, payload: object) -> tuple[dict[str, str], bytes]:
    body = json.dumps(payload).encode()
    return github_headers(event, body, SECRET), body


def test_the_signature_matches_githubs_documented_example() -> None:
    # GitHub docs, "Validating webhook deliveries": secret "It's a Secret to Everybody",
    # payload "Hello, World!" -> this exact signature.
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    headers = {"X-Hub-Signature-256": expected, "X-GitHub-Event": "ping"}
    with pytest.raises(PayloadError):  # the signature passes; the body is not JSON
        parse(headers, b"Hello, World!", SECRET)


def test_a_wrong_or_missing_signature_is_refused() -> None:
    headers, body = signed("push", load_example("push"))
    with pytest.raises(SignatureError):
        parse(headers, body + b" ", SECRET)
    del headers["X-Hub-Signature-256"]
    with pytest.raises(SignatureError, match="missing"):
        parse(headers, body, SECRET)


def test_every_real_push_example_becomes_an_event_or_is_ignored() -> None:
    payloads = [p for p in load_all("push")]
    assert payloads, "the @octokit/webhooks-examples push examples are missing"
    for payload in payloads:
        headers, body = signed("push", payload)
        webhook = parse(headers, body, SECRET)
        if payload["deleted"]:
            assert isinstance(webhook, Ignored)
            continue
        assert not isinstance(webhook, Ignored | Ping)
        assert webhook.sha == payload["after"]
        assert webhook.repo.full_name == payload["repository"]["full_name"]
        assert webhook.repo.clone_url == payload["repository"]["clone_url"]
        kind = EventKind.TAG if payload["ref"].startswith("refs/tags/") else EventKind.PUSH
        assert webhook.kind is kind
        assert webhook.delivery_id == headers["X-GitHub-Delivery"]


def test_ping_and_unhandled_events() -> None:
    assert isinstance(parse(*signed("ping", load_example("ping")), SECRET), Ping)
    ignored = parse(*signed("star", load_example("star", "created")), SECRET)
    assert ignored == Ignored("event 'star' is not handled")


def test_a_push_payload_without_its_fields_is_a_payload_error() -> None:
    with pytest.raises(PayloadError, match="push payload lacks"):
        parse(*signed("push", {"ref": "refs/heads/main"}), SECRET)


def load_all(event: str) -> list[dict[str, Any]]:
    from tests.fakes.webhooks import _examples

    return [json.loads(json.dumps(p)) for p in _examples()[event]]
