"""No delivery loops forever: one whose processing always fails is tried a bounded number of
times, with back-off, then given up with an `error` status on its commit naming the cause."""

from __future__ import annotations

import json

from tests.fakes.github import FakeGitHub
from tests.fakes.webhooks import ZERO_SHA, github_headers, push_payload
from tests.support import http
from tests.support.bot_in_process import InProcessBotFactory
from tests.support.forges import WEBHOOK_SECRET
from tests.support.names import unique
from tests.support.wait import wait_until


def test_a_delivery_that_always_fails_ends_in_an_error_status_after_the_bounded_retries(
    github: FakeGitHub, start_bot_in_process: InProcessBotFactory
) -> None:
    bot = start_bot_in_process(delivery_retry_interval=0.1, max_delivery_attempts=3)
    repo = github.create_repo(unique("acme/app"))
    sha = repo.commit({".s2i.yaml": "builds: []\n"}, "a commit")
    # The forge never answers for the config file.
    github.fail_next("GET", r"/contents/", 401, body={"message": "Bad credentials"}, times=1000)
    body = json.dumps(push_payload(repo, ref="refs/heads/main", before=ZERO_SHA, after=sha))
    headers = github_headers("push", body.encode(), WEBHOOK_SECRET)
    answer = http.post(f"{bot.url}/webhooks/github", content=body, headers=headers)
    assert answer.status_code == 202

    github.wait_for(lambda: bool(github.statuses(repo.full_name, sha)), timeout=30)
    (status,) = github.statuses(repo.full_name, sha)
    assert (status["context"], status["state"]) == ("s2i/config", "error")
    assert str(status["description"]).startswith(
        "not processed after 3 attempts: GitHub answered 401"
    )
    delivery = headers["X-GitHub-Delivery"]
    info: dict[str, object] = {}

    def given_up() -> bool:
        nonlocal info
        info = http.get(f"{bot.url}/deliveries/{delivery}").json()
        return bool(info["processed"])

    wait_until(given_up, timeout=10, what="the delivery to be marked processed")
    assert info["attempts"] == 3
    assert str(info["last_error"]).startswith("GitHub answered 401")
    assert str(info["outcome"]).startswith("error: not processed after 3 attempts")
    contents = [r for r in github.requests if "/contents/" in r.path]
    assert [r.status for r in contents] == [401, 401, 401]  # no fourth attempt
    log = http.get(f"{status['target_url']}/log").text
    assert f"delivery {delivery} (push of {repo.full_name}@{sha}) was given up" in log
