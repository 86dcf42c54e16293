"""End to end on the embedded default: a signed GitHub push -> the real s2i and engine ->
the real registry -> commit statuses on the (fake) GitHub."""

from __future__ import annotations

import re
import signal
import uuid
from collections.abc import Callable

import httpx
import pytest

from tests.fakes.github import FakeGitHub
from tests.support.apps import APPS, app_files, app_repo, slow_go_app
from tests.support.bot_process import BotProcess
from tests.support.deliveries import push_main
from tests.support.forges import GitHubHarness
from tests.support.images import diff_ids, running, skopeo_inspect
from tests.support.outcomes import FINAL_STATES, delivery, final_status, log_of
from tests.support.testenv import ProvisionedEnv
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e
StartBot = Callable[..., BotProcess]


@pytest.mark.parametrize("engine", ["docker", "buildah"])
def test_a_push_builds_a_runnable_image_whose_digest_is_in_the_status(
    github: FakeGitHub, github_forge: GitHubHarness, start_builder_bot: StartBot,
    testenv: ProvisionedEnv, engine: str,
) -> None:  # fmt: skip
    bot = start_builder_bot(engine=engine)
    repo, image, sha = app_repo(github_forge, testenv.registry, "hello", app_files("go-hello"))
    push_main(github, bot, repo, sha)

    status = final_status(github_forge, repo, sha)
    log = log_of(status)
    assert status.state == "success", log
    # pending (queued, then building) first; the outbox may skip a state already superseded.
    *pending, last = [(s["state"], s["description"]) for s in github.statuses(repo, sha)]
    assert pending and set(pending) <= {("pending", "queued"), ("pending", "building")}
    assert last == (status.state, status.description)
    match = re.fullmatch(r"(sha256:[0-9a-f]{64}) \([0-9.]+ MB\)", status.description)
    assert match, status.description
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
    assert "s2i build --as-dockerfile" in log and f"pushed {image}:main@{digest}" in log
    assert github.token not in log and testenv.password not in log


def test_a_compile_error_fails_the_status_and_the_log_shows_the_compiler(
    github: FakeGitHub, github_forge: GitHubHarness, start_builder_bot: StartBot,
    testenv: ProvisionedEnv,
) -> None:  # fmt: skip
    bot = start_builder_bot()
    main = (APPS / "go-hello" / "main.go").read_text().replace("greet.Hello(", "greet.Helo(")
    files = app_files("go-hello") | {"main.go": main}
    repo, _, sha = app_repo(github_forge, testenv.registry, "broken", files)
    push_main(github, bot, repo, sha)

    status = final_status(github_forge, repo, sha)
    assert status.state == "failure"
    # The status names the failing s2i script and the compiler's own line, not the engine's
    # "The command '/bin/sh -c /usr/libexec/s2i/assemble' returned a non-zero code: 2".
    expected = r"assemble failed: main\.go:\d+:\d+: undefined: greet\.Helo"
    assert re.fullmatch(expected, status.description), status.description
    assert "undefined: greet.Helo" in log_of(status)


def test_a_registry_refusing_the_credentials_is_an_error_naming_the_registry(
    github: FakeGitHub, github_forge: GitHubHarness, start_builder_bot: StartBot,
    testenv: ProvisionedEnv,
) -> None:  # fmt: skip
    bot = start_builder_bot(registry_password="not-the-password")
    repo, _, sha = app_repo(github_forge, testenv.registry, "denied", app_files("go-hello"))
    push_main(github, bot, repo, sha)

    status = final_status(github_forge, repo, sha)
    assert status.state == "error"
    assert status.description.startswith(f"registry {testenv.registry} refused the credentials")
    assert "not-the-password" not in log_of(status)


def test_a_push_redelivered_while_it_builds_builds_nothing_more(
    github: FakeGitHub, github_forge: GitHubHarness, start_builder_bot: StartBot,
    testenv: ProvisionedEnv,
) -> None:  # fmt: skip
    """GitHub delivers again (same X-GitHub-Delivery) when an answer is late, and on "Redeliver"
    in its UI. The bot answers "duplicate", and nothing it does afterwards shows a second
    build: the forge sees no second read of .s2i.yaml and no second queued or final status."""
    bot = start_builder_bot()
    repo, _, sha = app_repo(github_forge, testenv.registry, "twice", slow_go_app())
    delivery_id = str(uuid.uuid4())

    def config_reads() -> int:
        return sum(1 for r in github.requests if f"/repos/{repo}/contents/" in r.path)

    def descriptions() -> list[str]:
        return [s.description for s in github_forge.statuses(repo, sha)]

    assert push_main(github, bot, repo, sha, delivery_id) == {"accepted": delivery_id}
    github.wait_for(lambda: "building" in descriptions(), timeout=120)
    reads = config_reads()
    assert reads >= 1
    assert push_main(github, bot, repo, sha, delivery_id) == {"duplicate": delivery_id}

    status = final_status(github_forge, repo, sha)
    assert status.state == "success", log_of(status)
    # A duplicate taken for new would have read the config again and queued a second build,
    # which supersedes the first (its final status would be an error) or follows it.
    assert config_reads() == reads
    assert descriptions().count("queued") <= 1 and descriptions().count("building") == 1
    finals = [s for s in github_forge.statuses(repo, sha) if s.state in FINAL_STATES["github"]]
    assert finals == [status]
    assert len(delivery(bot, delivery_id)["builds"]) == 1


def test_a_bot_killed_while_it_compiles_builds_again_after_a_restart(
    github: FakeGitHub, github_forge: GitHubHarness, start_builder_bot: StartBot,
    testenv: ProvisionedEnv,
) -> None:  # fmt: skip
    """SIGKILL while the Go builder's assemble is compiling (its log says it began and has not
    ended; the generated sources make that take seconds): the build is left running, no final
    status. The next start builds it again, to the end."""
    bot = start_builder_bot()
    repo, image, sha = app_repo(github_forge, testenv.registry, "crash", slow_go_app())
    push_main(github, bot, repo, sha)
    started, ended = "---> Building package", "---> Built "  # builders/go/s2i/assemble

    def compiling() -> bool:
        building = [s for s in github.statuses(repo, sha) if s["description"] == "building"]
        if not building:
            return False
        log = httpx.get(f"{building[-1]['target_url']}/log", timeout=10).text
        return started in log and ended not in log

    # The log is not a forge request: poll it (wait_until), not the fake's request log.
    wait_until(compiling, timeout=300, what="the Go builder to start compiling")
    bot.stop(signal.SIGKILL)
    # Killed mid-build: the newest status is still "building", the log has no end.
    newest = github.statuses(repo, sha)[-1]
    assert (newest["state"], newest["description"]) == ("pending", "building")

    bot.start()
    status = final_status(github_forge, repo, sha)
    log = log_of(status)
    assert status.state == "success", log
    digest = status.description.split()[0]
    assert skopeo_inspect(testenv, f"{image}:main")["Digest"] == digest
    # Built again after the restart: the compile began twice and the push is in the log.
    assert log.count(started) >= 2 and f"pushed {image}:main@{digest}" in log
