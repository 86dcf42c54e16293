"""The GitHub webhook endpoint of a running bot, against the fake GitHub: bad input gets a
clear answer and loses nothing; repositories without a valid .s2i.yaml get no build."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.fakes.github import FakeGitHub
from tests.fakes.webhooks import ZERO_SHA, github_headers, load_example, push_payload
from tests.support import http
from tests.support.bot_in_process import InProcessBot, InProcessBotFactory
from tests.support.forges import WEBHOOK_SECRET
from tests.support.names import unique
from tests.support.outcomes import processed

HELLO = Path(__file__).resolve().parents[1] / "apps" / "go-hello"


def post(bot: InProcessBot, event: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return http.post(f"{bot.url}/webhooks/github", content=body, headers=headers, timeout=10)


def stored_deliveries(bot: InProcessBot) -> int:
    import sqlite3

    with sqlite3.connect(bot.data_dir / "s2i-bot.db") as db:
        return int(db.execute("select count(*) from deliveries").fetchone()[0])


def push_to(github: FakeGitHub, files: dict[str, str | bytes | None]) -> tuple[str, bytes]:
    repo = github.create_repo(unique("acme/app"))
    sha = repo.commit(files, "a commit")
    payload = push_payload(repo, ref="refs/heads/main", before=ZERO_SHA, after=sha)
    return repo.full_name, json.dumps(payload).encode()


def test_a_wrong_or_missing_signature_is_401_and_nothing_is_stored(
    github: FakeGitHub, start_bot_in_process: InProcessBotFactory
) -> None:
    bot = start_bot_in_process()
    _, body = push_to(github, {"README": "hi"})
    wrong = github_headers("push", body, "not the secret")
    missing = github_headers("push", body, None)
    assert post(bot, "push", body, wrong).status_code == 401
    response = post(bot, "push", body, missing)
    assert response.status_code == 401
    assert "X-Hub-Signature-256" in response.json()["error"]
    assert stored_deliveries(bot) == 0
    assert github.requests == []


def test_malformed_json_is_400(start_bot_in_process: InProcessBotFactory) -> None:
    bot = start_bot_in_process()
    body = b'{"ref": "refs/heads/main",'
    response = post(bot, "push", body, github_headers("push", body, WEBHOOK_SECRET))
    assert response.status_code == 400
    assert "not JSON" in response.json()["error"]
    assert stored_deliveries(bot) == 0


def test_an_unknown_event_is_accepted_and_ignored(
    start_bot_in_process: InProcessBotFactory,
) -> None:
    bot = start_bot_in_process()
    body = json.dumps(load_example("star", "created")).encode()
    response = post(bot, "star", body, github_headers("star", body, WEBHOOK_SECRET))
    assert response.status_code == 202
    assert response.json() == {"ignored": "event 'star' is not handled"}


def test_ping_is_answered(start_bot_in_process: InProcessBotFactory) -> None:
    bot = start_bot_in_process()
    body = json.dumps(load_example("ping")).encode()
    response = post(bot, "ping", body, github_headers("ping", body, WEBHOOK_SECRET))
    assert response.status_code == 200
    assert response.json()["pong"] is True


def test_a_repo_without_s2i_yaml_gets_no_build_and_no_status(
    github: FakeGitHub, start_bot_in_process: InProcessBotFactory
) -> None:
    bot = start_bot_in_process()
    _, body = push_to(github, {"README": "no config here"})
    headers = github_headers("push", body, WEBHOOK_SECRET)
    assert post(bot, "push", body, headers).status_code == 202
    info = processed(bot, headers["X-GitHub-Delivery"])
    assert info["builds"] == []
    assert str(info["outcome"]).startswith("no .s2i.yaml")
    assert [r for r in github.requests if "/statuses/" in r.path] == []


def test_a_broken_s2i_yaml_fails_with_the_line_and_reason(
    github: FakeGitHub, start_bot_in_process: InProcessBotFactory
) -> None:
    bot = start_bot_in_process()
    config = (
        "builds:\n  - name: web\n    template: go\n    imag: 127.0.0.1:5000/a/b\n"
        "    triggers: {branches: [main]}\n"
    )
    full_name, body = push_to(github, {".s2i.yaml": config})
    headers = github_headers("push", body, WEBHOOK_SECRET)
    assert post(bot, "push", body, headers).status_code == 202
    processed(bot, headers["X-GitHub-Delivery"])
    sha = json.loads(body)["after"]
    github.wait_for(lambda: bool(github.statuses(full_name, sha)))
    (status,) = github.statuses(full_name, sha)
    assert status["state"] == "failure"
    assert status["context"] == "s2i/config"
    assert status["description"] == ".s2i.yaml line 2, column 5: missing required key 'image'"
    log = http.get(f"{status['target_url']}/log", timeout=5).text
    assert "line 4, column 5: unknown key 'imag'; allowed: binary, context, env, image," in log


def test_a_delivery_the_forge_could_not_answer_for_is_processed_later(
    github: FakeGitHub, start_bot_in_process: InProcessBotFactory
) -> None:
    bot = start_bot_in_process(delivery_retry_interval=0.2)
    full_name, body = push_to(github, {".s2i.yaml": "builds: [\n"})
    github.fail_next("GET", r"/contents/", 401, body={"message": "Bad credentials"}, times=2)
    headers = github_headers("push", body, WEBHOOK_SECRET)
    assert post(bot, "push", body, headers).status_code == 202
    info = processed(bot, headers["X-GitHub-Delivery"])  # after the forge answered again
    assert info["outcome"] == "invalid .s2i.yaml"
    sha = json.loads(body)["after"]
    github.wait_for(lambda: bool(github.statuses(full_name, sha)))
    assert github.statuses(full_name, sha)[0]["state"] == "failure"
    contents = [r for r in github.requests if "/contents/" in r.path]
    assert [r.status for r in contents][:2] == [401, 401] and contents[-1].status == 200
