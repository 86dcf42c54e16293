"""End to end on the embedded default: a signed GitHub push -> the real s2i and engine ->
the real registry -> commit statuses on the (fake) GitHub."""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import GITHUB_TOKEN, WEBHOOK_SECRET, unique
from tests.fakes.github import FakeGitHub, FakeRepo
from tests.fakes.webhooks import ZERO_SHA, github_headers, push_payload
from tests.support.apps import APPS, app_files
from tests.support.bot_process import BotProcess
from tests.support.images import diff_ids, running, skopeo_inspect
from tests.support.testenv import ProvisionedEnv

pytestmark = pytest.mark.e2e
BUILD_TIMEOUT = 900
StartBot = Callable[..., BotProcess]


def s2i_yaml(image: str) -> str:
    return (
        f"builds:\n  - name: web\n    template: go\n    image: {image}\n"
        "    triggers:\n      branches: [main]\n"
    )


def push(bot: BotProcess, repo: FakeRepo, sha: str, delivery: str | None = None) -> str:
    body = json.dumps(
        push_payload(repo, ref="refs/heads/main", before=ZERO_SHA, after=sha)
    ).encode()
    headers = github_headers("push", body, WEBHOOK_SECRET, delivery)
    response = httpx.post(f"{bot.url}/webhooks/github", content=body, headers=headers, timeout=10)
    assert response.status_code == 202, response.text
    return headers["X-GitHub-Delivery"]


def go_app_repo(
    github: FakeGitHub, testenv: ProvisionedEnv, name: str, **changes: str
) -> tuple[FakeRepo, str, str]:
    """A repository holding the Go sample (with `changes` applied) and its .s2i.yaml, whose
    image goes to the test registry; returns the repo, the image and the commit."""
    repo = github.create_repo(unique(f"acme/{name}"))
    image = f"{testenv.registry}/{repo.full_name}"
    files = app_files("go-hello") | dict(changes) | {".s2i.yaml": s2i_yaml(image)}
    return repo, image, repo.commit(files, name)


def final_status(github: FakeGitHub, repo: FakeRepo, sha: str, context: str) -> dict[str, object]:
    def finished() -> list[dict[str, object]]:
        return [
            s for s in github.statuses(repo.full_name, sha)
            if s["context"] == context and s["state"] != "pending"
        ]  # fmt: skip

    github.wait_for(lambda: bool(finished()), timeout=BUILD_TIMEOUT)
    (status,) = finished()
    return status


@pytest.mark.parametrize("engine", ["docker", "buildah"])
def test_a_push_builds_a_runnable_image_whose_digest_is_in_the_status(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv, engine: str
) -> None:
    bot = start_builder_bot(engine=engine)
    repo, image, sha = go_app_repo(github, testenv, "hello")
    push(bot, repo, sha)

    status = final_status(github, repo, sha, "s2i/web")
    assert status["state"] == "success", httpx.get(str(status["target_url"])).text
    # pending (queued, then building) first; the outbox may skip a state already superseded.
    *pending, last = [(s["state"], s["description"]) for s in github.statuses(repo.full_name, sha)]
    assert pending and set(pending) <= {("pending", "queued"), ("pending", "building")}
    assert last == (status["state"], status["description"])
    match = re.fullmatch(r"(sha256:[0-9a-f]{64}) \([0-9.]+ MB\)", str(status["description"]))
    assert match, status["description"]
    digest = match.group(1)

    # The digest the status reports is the digest the registry serves for the pushed tag.
    assert skopeo_inspect(testenv, f"{image}:main")["Digest"] == digest
    # The image runs and answers HTTP with the greeting from the vendored module.
    with running(testenv, f"{image}@{digest}") as url:
        assert httpx.get(url, timeout=5).text.startswith("Hello, s2i-bot! (greeting from vendored")
    # It is the slim runtime image plus the binary, not the builder with the Go toolchain.
    layers = diff_ids(testenv, f"{image}@{digest}")
    runtime_layers = diff_ids(testenv, testenv.images["go-runtime"])
    builder_layers = diff_ids(testenv, testenv.images["go"])
    assert layers[: len(runtime_layers)] == runtime_layers
    assert len(layers) == len(runtime_layers) + 1
    assert not set(builder_layers) - set(runtime_layers) & set(layers)
    # The log link serves the build's log, and it never shows the forge token.
    log = httpx.get(str(status["target_url"]), timeout=5).text
    assert "s2i build --as-dockerfile" in log and f"pushed {image}:main@{digest}" in log
    assert GITHUB_TOKEN not in log and testenv.password not in log


def test_a_compile_error_fails_the_status_and_the_log_shows_the_compiler(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv
) -> None:
    bot = start_builder_bot()
    main = (APPS / "go-hello" / "main.go").read_text().replace("greet.Hello(", "greet.Helo(")
    repo, _, sha = go_app_repo(github, testenv, "broken", **{"main.go": main})
    push(bot, repo, sha)

    status = final_status(github, repo, sha, "s2i/web")
    assert status["state"] == "failure"
    assert str(status["description"]).startswith("the build failed")
    log = httpx.get(str(status["target_url"]), timeout=5).text
    assert "undefined: greet.Helo" in log


def test_a_registry_refusing_the_credentials_is_an_error_naming_the_registry(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv
) -> None:
    bot = start_builder_bot(registry_password="not-the-password")
    repo, _, sha = go_app_repo(github, testenv, "denied")
    push(bot, repo, sha)

    status = final_status(github, repo, sha, "s2i/web")
    assert status["state"] == "error"
    assert str(status["description"]).startswith(
        f"registry {testenv.registry} refused the credentials"
    )
    assert "not-the-password" not in httpx.get(str(status["target_url"]), timeout=5).text


def test_a_redelivered_push_builds_once(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv
) -> None:
    bot = start_builder_bot()
    repo, _, sha = go_app_repo(github, testenv, "twice")
    delivery = push(bot, repo, sha)
    assert push(bot, repo, sha, delivery=delivery) == delivery

    assert final_status(github, repo, sha, "s2i/web")["state"] == "success"
    info = httpx.get(f"{bot.url}/deliveries/{delivery}", timeout=5).json()
    assert len(info["builds"]) == 1
    building = [s for s in github.statuses(repo.full_name, sha) if s["description"] == "building"]
    assert len(building) <= 1


def test_a_bot_killed_mid_build_finishes_the_build_after_a_restart(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv
) -> None:
    bot = start_builder_bot()
    repo, image, sha = go_app_repo(github, testenv, "crash")
    push(bot, repo, sha)
    github.wait_for(
        lambda: any(s["description"] == "building" for s in github.statuses(repo.full_name, sha)),
        timeout=60,
    )
    bot.stop(signal.SIGKILL)
    bot.start()

    status = final_status(github, repo, sha, "s2i/web")
    assert status["state"] == "success"
    digest = str(status["description"]).split()[0]
    assert skopeo_inspect(testenv, f"{image}:main")["Digest"] == digest
