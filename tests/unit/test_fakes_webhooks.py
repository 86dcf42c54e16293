"""tests/fakes/webhooks.py: deliveries shaped and signed as GitHub's."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes import webhooks
from tests.fakes.git import ZERO_SHA, BareRepo
from tests.fakes.github_objects import FakeRepo


def test_sign_matches_githubs_documented_example() -> None:
    # From GitHub's "Validating webhook deliveries" docs.
    signature = webhooks.sign(b"Hello, World!", "It's a Secret to Everybody")
    assert signature == "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_headers_carry_event_delivery_and_signature() -> None:
    body = b'{"zen": "Keep it logically awesome."}'
    headers = webhooks.github_headers("ping", body, "s3cret", delivery="d-1")
    assert headers["X-GitHub-Event"] == "ping"
    assert headers["X-GitHub-Delivery"] == "d-1"
    assert headers["X-Hub-Signature-256"] == webhooks.sign(body, "s3cret")
    assert headers["User-Agent"].startswith("GitHub-Hookshot/")
    assert "X-Hub-Signature-256" not in webhooks.github_headers("ping", body, None)


def test_load_example_by_action_is_a_copy() -> None:
    first = webhooks.load_example("pull_request", "synchronize")
    assert first["action"] == "synchronize"
    first["action"] = "changed"
    assert webhooks.load_example("pull_request", "synchronize")["action"] == "synchronize"


def test_push_payload_points_at_the_fake_repo(tmp_path: Path) -> None:
    bare = BareRepo(tmp_path / "octo" / "app.git")
    repo = FakeRepo("octo", "app", 7, bare, "http://127.0.0.1:1", "http://127.0.0.1:1/api/v3")
    sha = repo.commit({"README": "hi\n"}, "Initial commit")
    payload = webhooks.push_payload(repo, ref="refs/heads/main", before=ZERO_SHA, after=sha)
    assert payload["repository"]["full_name"] == "octo/app"
    assert payload["repository"]["clone_url"] == "http://127.0.0.1:1/octo/app.git"
    assert payload["repository"]["owner"]["login"] == "octo"
    assert payload["head_commit"]["id"] == sha
    assert payload["head_commit"]["message"] == "Initial commit"
    assert payload["created"] is True
    assert "github.com" not in json.dumps(payload["repository"]).replace("noreply.github.com", "")
