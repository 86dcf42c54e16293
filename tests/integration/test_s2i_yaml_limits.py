"""`.s2i.yaml` bombs sent through the running bot: each ends as a failed s2i/config status that
quotes the problem, within seconds, and the bot's memory stays bounded."""

from __future__ import annotations

import functools
import json
import time

import pytest

from tests.fakes.github import FakeGitHub
from tests.fakes.webhooks import ZERO_SHA, github_headers, push_payload
from tests.support import http
from tests.support.bot_in_process import InProcessBotFactory
from tests.support.bot_process import BotFactory
from tests.support.forges import WEBHOOK_SECRET
from tests.support.names import unique

MEMORY_LIMIT = 300 * 1024 * 1024
STATUS_WITHIN = 10.0  # seconds from the webhook to the failed status


def laughs() -> str:
    """The "billion laughs": 9 levels of 9 aliases each, under 600 bytes, 9**9 strings."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [
        f"{x}: &{x} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]"
        for p, x in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    return "\n".join(lines) + "\n"


def build(tags: str) -> str:
    return (
        "builds:\n  - name: web\n    template: go\n    image: 127.0.0.1:5000/acme/web\n"
        f"    tags: {tags}\n    triggers: {{branches: [main], pull_requests: true}}\n"
    )


BOMBS = {
    "alias bomb": (laughs(), "line 2, column 8: YAML aliases (*a) are not supported"),
    "alias inside a build": (
        build('&t ["{branch}"]') + "  - name: api\n    tags: *t\n",
        "line 8, column 11: YAML aliases (*t) are not supported",
    ),
    "deep nesting": ("builds: " + "[" * 30000 + "]" * 30000 + "\n", "nested more than 16 levels"),
    "format spec": (
        build('["{sha:>2000000000}"]'),
        "line 5, column 11: tag '{sha:>2000000000}': '{sha:>2000000000}' is not a placeholder",
    ),
    "PR tag without its number": (
        build('{branch: [main], pull_request: ["latest{pr:.0}"]}'),
        "'{pr:.0}' is not a placeholder",
    ),
    "huge tag list": (
        build("[" + ",".join(f'"t{i}"' for i in range(8000)) + "]"),
        "the file has more than 5000 values",
    ),
    "1 MiB file": ("#" * (1024 * 1024) + "\n", "the file is 1048577 bytes; at most 65536"),
}


def test_s2i_yaml_bombs_fail_the_config_status_quickly_and_memory_stays_bounded(
    github: FakeGitHub, start_bot: BotFactory
) -> None:
    bot = start_bot(builds=False)  # the process, for its memory; a bomb builds nothing
    at_start = bot.peak_memory()
    for name, (config, reason) in BOMBS.items():
        repo = github.create_repo(unique("acme/bomb"))
        sha = repo.commit({".s2i.yaml": config}, name)
        body = json.dumps(
            push_payload(repo, ref="refs/heads/main", before=ZERO_SHA, after=sha)
        ).encode()
        sent = time.monotonic()
        headers = github_headers("push", body, WEBHOOK_SECRET)
        response = http.post(f"{bot.url}/webhooks/github", content=body, headers=headers)
        assert response.status_code == 202, response.text
        posted = functools.partial(github.statuses, repo.full_name, sha)
        github.wait_for(lambda: bool(posted()), timeout=STATUS_WITHIN)  # noqa: B023
        took = time.monotonic() - sent
        (status,) = github.statuses(repo.full_name, sha)
        assert (status["context"], status["state"]) == ("s2i/config", "failure"), name
        assert str(status["description"]).startswith(".s2i.yaml line "), status["description"]
        log = http.get(f"{status['target_url']}/log", timeout=5).text
        assert reason in log, (name, log)
        info = http.get(f"{bot.url}/deliveries/{headers['X-GitHub-Delivery']}").json()
        assert info["processed"] and info["outcome"] == "invalid .s2i.yaml", info
        print(f"{name}: failed status after {took:.2f}s")
    peak = bot.peak_memory()
    print(f"bot peak memory: {at_start / 2**20:.0f} MB at start, {peak / 2**20:.0f} MB after")
    assert peak < MEMORY_LIMIT


@pytest.mark.parametrize("tags", ['["{short_sha!r}"]', '["{branch[0]}"]', '["{branch.x}"]'])
def test_a_tag_template_reaching_into_values_is_a_config_error_not_a_crash(
    github: FakeGitHub, start_bot_in_process: InProcessBotFactory, tags: str
) -> None:
    bot = start_bot_in_process()
    repo = github.create_repo(unique("acme/tags"))
    sha = repo.commit({".s2i.yaml": build(tags)}, "a tag template")
    body = json.dumps(push_payload(repo, ref="refs/heads/main", before=ZERO_SHA, after=sha))
    headers = github_headers("push", body.encode(), WEBHOOK_SECRET)
    http.post(f"{bot.url}/webhooks/github", content=body.encode(), headers=headers)
    github.wait_for(lambda: bool(github.statuses(repo.full_name, sha)), timeout=STATUS_WITHIN)
    (status,) = github.statuses(repo.full_name, sha)
    assert status["state"] == "failure" and "is not a placeholder" in str(status["description"])
