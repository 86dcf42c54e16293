"""Every door of the running bot fails closed: a forge without a webhook secret does not start,
a forge that is not configured has no route, unsigned or wrongly signed deliveries are 401,
bodies over 25 MiB are refused while they arrive (the bot's memory measured), and any body
that is not the forge's JSON object is a 400 with a one-line reason, never a 500. A payload
naming a repository the forge does not have builds nothing and contacts nothing it names."""

from __future__ import annotations

import json
import logging
import sqlite3
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.store import Delivery, Store
from tests.fakes.credential_trap import CredentialTrap
from tests.fakes.github import FakeGitHub
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.gitlab_webhooks import gitlab_headers
from tests.fakes.gitlab_webhooks import push_payload as gitlab_push_payload
from tests.fakes.webhooks import ZERO_SHA, github_headers, load_example, push_payload, sign
from tests.support import http
from tests.support.bot_in_process import InProcessBot, InProcessBotFactory
from tests.support.bot_process import BotFactory, BotProcess, RunningBot
from tests.support.forges import GITHUB_TOKEN, WEBHOOK_SECRET
from tests.support.names import unique
from tests.support.wait import wait_until

MIB = 1024 * 1024
GITLAB_TOKEN = "glpat-doors-" + "x" * 12


def post(bot: RunningBot, forge: str, body: Any, headers: dict[str, str]) -> httpx.Response:
    return http.post(f"{bot.url}/webhooks/{forge}", content=body, headers=headers, timeout=60)


def signed(event: str, body: bytes, **extra: str) -> dict[str, str]:
    return github_headers(event, body, WEBHOOK_SECRET) | extra


def stored_deliveries(bot: RunningBot) -> int:
    with sqlite3.connect(bot.data_dir / "s2i-bot.db") as db:
        return int(db.execute("select count(*) from deliveries").fetchone()[0])


def processed(bot: RunningBot, delivery: str) -> dict[str, Any]:
    info: dict[str, Any] = {}

    def done() -> bool:
        nonlocal info
        info = http.get(f"{bot.url}/deliveries/{delivery}", timeout=5).json()
        return bool(info.get("processed"))

    wait_until(done, timeout=30, what=f"delivery {delivery} to be processed")
    return info


@pytest.fixture
def gitlab() -> Iterator[FakeGitLab]:
    with FakeGitLab(GITLAB_TOKEN) as fake:
        yield fake
        assert fake.errors == []


def bot_with(tmp_path: Path, settings: dict[str, Any]) -> BotProcess:
    """`s2i-bot serve` with these settings, not started: for what only a process shows."""
    workdir = tmp_path / unique("bot")
    workdir.mkdir()
    return BotProcess(workdir, {"forge_write_interval": 0, **settings})


def served_with(tmp_path: Path, settings: dict[str, Any]) -> InProcessBot:
    """The bot with these settings, started in this process."""
    workdir = tmp_path / unique("bot")
    workdir.mkdir()
    return InProcessBot(workdir, {"forge_write_interval": 0, **settings}).start()


# -- configuration ---------------------------------------------------------------------------
def test_github_without_a_webhook_secret_stops_the_start_naming_the_setting(
    tmp_path: Path, github: FakeGitHub
) -> None:
    bot = bot_with(tmp_path, {"github": {"api_url": github.api_url, "token": GITHUB_TOKEN}})
    code, output = bot.start_expecting_exit()
    assert code == 2
    assert (
        "github.webhook_secret (or S2I_BOT_GITHUB__WEBHOOK_SECRET, or "
        "github.webhook_secret_file) is not set" in output
    )
    assert "Traceback" not in output


def test_gitlab_without_a_webhook_secret_stops_the_start_naming_the_setting(
    tmp_path: Path, gitlab: FakeGitLab
) -> None:
    bot = bot_with(tmp_path, {"gitlab": {"url": gitlab.url, "token": GITLAB_TOKEN}})
    code, output = bot.start_expecting_exit()
    assert code == 2
    assert (
        "gitlab.webhook_secret (or S2I_BOT_GITLAB__WEBHOOK_SECRET, or "
        "gitlab.webhook_secret_file) is not set" in output
    )


def test_no_forge_configured_stops_the_start_before_making_a_database(tmp_path: Path) -> None:
    bot = bot_with(tmp_path, {})
    code, output = bot.start_expecting_exit()
    assert code == 2 and "no forge is configured" in output
    assert not bot.data_dir.exists()  # refused before the store made its database there


def test_insecure_unsigned_webhooks_starts_warning_at_every_start_and_takes_unsigned_ones(
    tmp_path: Path, github: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    workdir = tmp_path / "bot"
    workdir.mkdir()
    settings = {
        "forge_write_interval": 0,
        "insecure_unsigned_webhooks": True,
        "github": {"api_url": github.api_url, "token": GITHUB_TOKEN},
    }
    bot = InProcessBot(workdir, settings)  # started twice on the same data
    for start in (1, 2):
        bot.start()
        try:
            warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
            assert len([w for w in warnings if "INSECURE: github has no webhook secret" in w]) == (
                start
            )
            body = json.dumps(load_example("ping")).encode()
            assert post(bot, "github", body, github_headers("ping", body, None)).status_code == 200
        finally:
            bot.stop()


def test_the_github_route_is_404_when_only_gitlab_is_configured(
    tmp_path: Path, gitlab: FakeGitLab
) -> None:
    settings = {"gitlab": {"url": gitlab.url, "token": GITLAB_TOKEN, "webhook_secret": "s"}}
    bot = served_with(tmp_path, settings)
    try:
        body = json.dumps(load_example("ping")).encode()
        response = post(bot, "github", body, signed("ping", body))
        assert response.status_code == 404
        assert stored_deliveries(bot) == 0
    finally:
        bot.stop()


# -- signatures ------------------------------------------------------------------------------
def test_unsigned_and_wrongly_signed_deliveries_are_401_on_both_forges(
    tmp_path: Path, github: FakeGitHub, gitlab: FakeGitLab
) -> None:
    bot = served_with(
        tmp_path,
        {
            "github": {"api_url": github.api_url, "token": GITHUB_TOKEN,
                       "webhook_secret": WEBHOOK_SECRET},
            "gitlab": {"url": gitlab.url, "token": GITLAB_TOKEN, "webhook_secret": "gl-secret"},
        },
    )  # fmt: skip
    try:
        body = json.dumps(load_example("ping")).encode()
        assert post(bot, "github", body, github_headers("ping", body, None)).status_code == 401
        assert post(bot, "github", body, github_headers("ping", body, "guess")).status_code == 401
        project = gitlab.create_project("group/app")
        sha = project.commit({"a": "1"}, "one")
        push = json.dumps(gitlab_push_payload(project, "refs/heads/main", ZERO_SHA, sha)).encode()
        assert post(bot, "gitlab", push, gitlab_headers("Push Hook", None)).status_code == 401
        assert post(bot, "gitlab", push, gitlab_headers("Push Hook", "guess")).status_code == 401
        assert stored_deliveries(bot) == 0
    finally:
        bot.stop()


# -- sizes -----------------------------------------------------------------------------------
def test_a_30_mib_body_is_413_before_it_is_read_and_costs_no_memory(
    start_bot: BotFactory,
) -> None:
    bot = start_bot(builds=False)  # the process, for its memory; nothing is built
    idle = bot.peak_memory()
    body = b"x" * (30 * MIB)
    declared = post(bot, "github", body, {"X-GitHub-Event": "push", "X-Hub-Signature-256": "x"})
    assert declared.status_code == 413
    assert "at most 26214400" in declared.json()["error"]

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(30):
            yield b"y" * MIB

    streamed = post(bot, "github", chunked(), {"X-GitHub-Event": "push"})
    assert streamed.status_code == 413
    grown = bot.peak_memory() - idle
    print(f"peak memory: idle {idle // 1024} KiB, after two 30 MiB bodies +{grown // 1024} KiB")
    assert grown < 8 * MIB, f"the bot's peak memory grew by {grown // 1024} KiB"
    assert stored_deliveries(bot) == 0


# -- bodies ----------------------------------------------------------------------------------
MALFORMED = {
    b'{"ref": "refs/heads/main",': "not JSON",  # truncated
    b"[" * 100_000 + b"]" * 100_000: "nests deeper than",  # past json's recursion limit
    b'{"a":' * 40 + b"1" + b"}" * 40: "nests deeper than",  # past the bot's own limit
    b"[1, 2, 3]": "a JSON array, not a JSON object",
    b'"push"': "a JSON string, not a JSON object",
    b"null": "a JSON null, not a JSON object",
    b"\xff\xfe{}": "not JSON",
    json.dumps({"ref": ["refs/heads/main"]}).encode(): "push payload has ref as a JSON array",
    json.dumps(load_example("push") | {"after": "--upload-pack=x"}).encode(): "not a commit",
}


def test_a_malformed_signed_body_is_400_with_a_one_line_reason(
    start_bot_in_process: InProcessBotFactory,
) -> None:
    bot = start_bot_in_process()
    for body, reason in MALFORMED.items():
        response = post(bot, "github", body, signed("push", body))
        assert response.status_code == 400, (body[:60], response.text)
        error = response.json()["error"]
        assert reason in error and "\n" not in error, (body[:60], error)
    assert stored_deliveries(bot) == 0


def form(payload: str | None, **fields: str) -> bytes:
    values = dict(fields) | ({"payload": payload} if payload is not None else {})
    return urllib.parse.urlencode(values).encode()


def test_a_form_encoded_delivery_is_parsed_and_a_bad_one_is_400(
    github: FakeGitHub, start_bot_in_process: InProcessBotFactory
) -> None:
    # GitHub's "application/x-www-form-urlencoded" content type: the JSON in a `payload` field.
    bot = start_bot_in_process()
    repo = github.create_repo(unique("acme/form"))
    sha = repo.commit({"README": "no config"}, "one")
    push = json.dumps(push_payload(repo, ref="refs/heads/main", before=ZERO_SHA, after=sha))
    content_type = {"Content-Type": "application/x-www-form-urlencoded"}
    body = form(push)
    headers = signed("push", body, **content_type)
    accepted = post(bot, "github", body, headers)
    assert accepted.status_code == 202, accepted.text
    assert str(processed(bot, headers["X-GitHub-Delivery"])["outcome"]).startswith("no .s2i.yaml")
    bad = {
        form(None, other="x"): "no `payload` field",
        form("{not json"): "not JSON",
        form("[1]"): "not a JSON object",
        b"payload=%7B%7D&payload=%7B%7D": "more than one `payload` field",
        b"payload": "not valid",
        b"payload=%E9": "not valid",
    }
    for bad_body, reason in bad.items():
        refused = post(bot, "github", bad_body, signed("push", bad_body, **content_type))
        assert refused.status_code == 400, (bad_body, refused.text)
        assert reason in refused.json()["error"], (bad_body, refused.text)


# -- where the payload points ----------------------------------------------------------------
def test_a_push_naming_a_repository_the_forge_lacks_builds_nothing_and_contacts_nothing(
    github: FakeGitHub, start_bot_in_process: InProcessBotFactory
) -> None:
    bot = start_bot_in_process()
    real = github.create_repo(unique("acme/real"))
    sha = real.commit({".s2i.yaml": "builds: []\n"}, "one")
    with CredentialTrap(host="localhost") as trap:
        for full_name, repo_id in ((unique("ghost/app"), 4242), (real.full_name, 999_999)):
            payload = push_payload(real, ref="refs/heads/main", before=ZERO_SHA, after=sha)
            payload["repository"].update(
                full_name=full_name, id=repo_id, clone_url=f"{trap.url}/{full_name}.git"
            )
            body = json.dumps(payload).encode()
            headers = signed("push", body)
            assert post(bot, "github", body, headers).status_code == 202
            info = processed(bot, headers["X-GitHub-Delivery"])
            assert info["builds"] == []
            assert full_name in str(info["outcome"])
    assert trap.seen == []
    assert not [r for r in github.requests if "/contents/" in r.path]
    assert github.statuses(real.full_name, sha) == []


def test_the_signature_is_checked_over_the_raw_bytes(
    start_bot_in_process: InProcessBotFactory,
) -> None:
    # The same JSON with one more space is another body: its old signature does not fit.
    bot = start_bot_in_process()
    body = json.dumps(load_example("ping")).encode()
    headers = signed("ping", body)
    assert post(bot, "github", body + b" ", headers).status_code == 401
    assert headers["X-Hub-Signature-256"] == sign(body, WEBHOOK_SECRET)
    assert post(bot, "github", body, headers).status_code == 200


def test_the_gitlab_token_is_never_stored_and_rows_stored_before_are_sealed_at_start(
    tmp_path: Path, gitlab: FakeGitLab
) -> None:
    # GitLab proves a delivery by sending the secret itself: stored as received, the
    # database would hold the webhook secret (readable by whoever reads a backup).
    secret = unique("gl-webhook-secret")
    bot = served_with(
        tmp_path, {"gitlab": {"url": gitlab.url, "token": GITLAB_TOKEN, "webhook_secret": secret}}
    )
    project = gitlab.create_project("group/app")
    sha = project.commit({"a": "1"}, "one")
    push = json.dumps(gitlab_push_payload(project, "refs/heads/main", ZERO_SHA, sha)).encode()
    database = bot.data_dir / "s2i-bot.db"

    def rows() -> list[tuple[str, str, bytes]]:
        with sqlite3.connect(database) as db:
            return [tuple(row) for row in db.execute("select id, headers, body from deliveries")]

    try:
        headers = gitlab_headers("Push Hook", secret) | {"X-Gitlab-Event-UUID": "new-one"}
        assert post(bot, "gitlab", push, headers).status_code == 202
        assert processed(bot, "new-one")["outcome"]
    finally:
        bot.stop()
    [(_, stored, _)] = rows()
    assert secret not in stored and "x-gitlab-token" not in stored
    # A row as an older bot stored it, token and all, waiting to be processed.
    older = {k.lower(): v for k, v in gitlab_headers("Push Hook", secret).items()}
    older["x-gitlab-event-uuid"] = "stored-before"
    Store(f"sqlite:///{database}").add_delivery(
        Delivery("stored-before", "gitlab", "Push Hook", older, push)
    )
    bot.start()
    try:
        assert processed(bot, "stored-before")["outcome"]  # still verified, and processed
    finally:
        bot.stop()
    assert all(secret not in headers for _, headers, _ in rows()), rows()
