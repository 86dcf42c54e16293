"""Build links are capabilities: every link the bot publishes names a build by its random key;
ids (or anything else) open nothing, and listing builds needs the API token or a repository
the operator made public."""

from __future__ import annotations

import json

import httpx

from tests.fakes.github import FakeGitHub
from tests.fakes.webhooks import ZERO_SHA, github_headers, push_payload
from tests.support import http
from tests.support.bot_in_process import InProcessBot, InProcessBotFactory
from tests.support.forges import WEBHOOK_SECRET
from tests.support.names import unique

BROKEN = "builds: [\n"
API_TOKEN = "listing-" + "t" * 30


def failed_config(github: FakeGitHub, bot: InProcessBot, repo_name: str) -> dict[str, object]:
    """Push a broken .s2i.yaml; the failed s2i/config status it gets."""
    repo = github.create_repo(repo_name)
    sha = repo.commit({".s2i.yaml": BROKEN}, "broken")
    body = json.dumps(push_payload(repo, ref="refs/heads/main", before=ZERO_SHA, after=sha))
    response = http.post(
        f"{bot.url}/webhooks/github", content=body.encode(),
        headers=github_headers("push", body.encode(), WEBHOOK_SECRET),
    )  # fmt: skip
    assert response.status_code == 202
    github.wait_for(lambda: bool(github.statuses(repo.full_name, sha)), timeout=10)
    (status,) = github.statuses(repo.full_name, sha)
    return status


def test_builds_are_reached_by_their_key_and_ids_answer_404(
    github: FakeGitHub, start_bot_in_process: InProcessBotFactory
) -> None:
    bot = start_bot_in_process()
    statuses = [failed_config(github, bot, unique("acme/app")) for _ in range(3)]
    for status in statuses:
        page_url = str(status["target_url"])  # the build page
        assert page_url.startswith(f"{bot.url}/builds/")
        key = page_url.removeprefix(f"{bot.url}/builds/")
        assert len(key) >= 22 and "/" not in key  # at least 128 bits of secrets.token_urlsafe
        assert "is not valid" in http.get(f"{page_url}/log").text
        build = http.get(page_url).json()
        assert (build["key"], build["state"], build["url"], build["log_url"]) == (
            key, "failed", page_url, f"{page_url}/log",
        )  # fmt: skip
    for build_id in range(0, 10):  # three builds exist: none is reachable by its id
        for path in (f"/builds/{build_id}", f"/builds/{build_id}/log"):
            assert http.get(bot.url + path).status_code == 404, path
    for other in ("/builds/x", "/builds/../deliveries", "/builds/%2e%2e/1/log"):
        assert http.get(bot.url + other).status_code == 404, other
    # Without api_token or public repositories there is no listing at all.
    assert http.get(f"{bot.url}/builds", params={"repo": "acme/app"}).status_code == 404


def test_listing_builds_needs_the_api_token_unless_the_repository_is_public(
    github: FakeGitHub, start_bot_in_process: InProcessBotFactory
) -> None:
    public, private = unique("acme/public"), unique("acme/private")
    bot = start_bot_in_process(api_token=API_TOKEN, public_repositories=[public])
    private_status = failed_config(github, bot, private)
    failed_config(github, bot, public)

    def listing(repo: str, token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return http.get(f"{bot.url}/builds", params={"repo": repo}, headers=headers)

    assert listing(private, None).status_code == 401
    assert listing(private, "wrong").status_code == 401
    answer = listing(private, API_TOKEN)
    assert answer.status_code == 200
    (build,) = answer.json()["builds"]
    assert build["repo"] == private and build["url"] == private_status["target_url"]
    (public_build,) = listing(public, None).json()["builds"]
    assert public_build["repo"] == public
