"""End to end (issue 12: 2): a builder image re-pushed with a change -> the registry's
notification -> the bot rebuilds the branch's latest build from the same commit -> its tag
points at a new digest, built on the new builder, and the commit's status says so.

The builder is a test-only copy of the static builder in a registry of the test's own
(tests/support/registry.py: the same docker-registry, on a free port, its notifications sent
to this bot): the shared registry and its builder images stay as they are."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from bot.base_images import registry_digests
from bot.build_result import BuildResult
from tests.fakes.executor import QuickBuilds
from tests.fakes.github import FakeGitHub
from tests.support.apps import app_files, s2i_yaml
from tests.support.bot_in_process import InProcessBotFactory
from tests.support.bot_process import BotFactory, free_port
from tests.support.deliveries import push_main
from tests.support.forges import GitHubHarness
from tests.support.images import skopeo_inspect
from tests.support.names import unique
from tests.support.outcomes import final_status, log_of
from tests.support.registry import LocalRegistry
from tests.support.testenv import ProvisionedEnv

pytestmark = pytest.mark.e2e
REGISTRY_TOKEN = "registry-" + "n" * 30
BUILD_SECONDS = 300


def test_a_re_pushed_builder_image_rebuilds_the_branch_on_the_new_builder(
    github: FakeGitHub, github_forge: GitHubHarness, start_bot: BotFactory,
    testenv: ProvisionedEnv, tmp_path: Path,
) -> None:  # fmt: skip
    own = LocalRegistry(tmp_path, port=free_port())
    bot = start_bot(
        builder_registry=own.host, registry_auth_file=str(testenv.auth_file(tmp_path)),
        s2i=testenv.s2i, image_policy={"registries": [own.host]},
        registry_webhook_token=REGISTRY_TOKEN, base_image_check_interval=0,
    )  # fmt: skip
    builder = f"{own.host}/s2i-bot/static:latest"  # config/templates/static.yaml's, here
    with own.running(f"{bot.url}/webhooks/registry", REGISTRY_TOKEN):
        subprocess.run(
            ["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
             "--src-creds", testenv.creds, f"docker://{testenv.images['static']}",
             f"docker://{builder}"],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        first_builder = own.digest(builder)
        repo = github_forge.create_repo(unique("acme/rebase"))
        image = f"{own.host}/{repo}".lower()
        files = app_files("static-hello") | {".s2i.yaml": s2i_yaml(image, template="static")}
        sha = github_forge.commit(repo, files)
        push_main(github, bot, repo, sha)
        status = final_status(github_forge, repo, sha, timeout=BUILD_SECONDS)
        assert status.state == "success", log_of(status)
        first = own.digest(f"{image}:main")
        assert status.description.startswith(first)
        assert f"builder image {builder}@{first_builder}" in log_of(status)

        # The builder patched: one more layer, pushed under the same tag.
        patch = tmp_path / "patch"
        patch.mkdir()
        (patch / "patched.txt").write_text(f"patched {unique('base')}\n")
        (patch / "Dockerfile").write_text(f"FROM {builder}\nCOPY patched.txt /etc/patched.txt\n")
        try:
            for argv in (["build", "--pull", "-q", "-t", builder, str(patch)], ["push", builder]):
                subprocess.run(["docker", *argv], check=True, capture_output=True, timeout=300)
        finally:
            subprocess.run(["docker", "rmi", "-f", builder], capture_output=True, check=False)
        new_builder = own.digest(builder)
        assert new_builder != first_builder

        def rebuilt() -> bool:
            return any(
                s["state"] == "success" and ", rebuilt on " in s["description"]
                for s in github.statuses(repo, sha)
            )

        github_forge.wait_for(rebuilt, timeout=BUILD_SECONDS)
        status = final_status(github_forge, repo, sha, timeout=BUILD_SECONDS)
        on = re.escape(f"{builder.removesuffix(':latest')}@{new_builder[:19]}")
        match = re.fullmatch(rf"(sha256:[0-9a-f]{{64}}), rebuilt on {on}", status.description)
        assert match, status.description
        second = own.digest(f"{image}:main")
        assert second == match.group(1) and second != first
        # Built on the new builder: its layers, the patch included, under the app's.
        layers, base = own.diff_ids(f"{image}@{second}"), own.diff_ids(builder)
        assert layers[: len(base)] == base
        assert f"builder image {builder}@{new_builder}" in log_of(status)


def test_the_periodic_check_asks_the_registry_and_rebuilds_what_no_notification_told(
    github: FakeGitHub, github_forge: GitHubHarness, start_bot_in_process: InProcessBotFactory,
    testenv: ProvisionedEnv, tmp_path: Path,
) -> None:  # fmt: skip
    """The fallback for registries that send no notifications: the `base-images` duty asks
    the real registry (skopeo, registry_auth_file) where the builder's tag points. The builds
    end at once (tests/fakes/executor.QuickBuilds), recording a builder digest the shared
    registry's static builder does not have: the tag moved since, as far as the bot knows."""
    recorded = "sha256:" + "0" * 64
    executor = QuickBuilds(
        BuildResult(state="succeeded", digest="sha256:" + "d" * 64, builder_digest=recorded)
    )
    bot = start_bot_in_process(
        executor, builder_registry=testenv.builder_registry,
        registry_auth_file=str(testenv.auth_file(tmp_path)),
        image_policy={"registries": [testenv.registry]}, base_image_check_interval=0.5,
    )  # fmt: skip
    builder = testenv.images["static"]
    now = registry_digests(testenv.auth_file(tmp_path), [])(builder)
    assert now is not None and now == skopeo_inspect(testenv, builder)["Digest"]
    # The bot's container image has crane, not skopeo: the same answer.
    assert registry_digests(testenv.auth_file(tmp_path), [], tool="crane")(builder) == now
    repo = github_forge.create_repo(unique("acme/periodic"))
    image = f"{testenv.registry}/{repo}".lower()
    sha = github_forge.commit(repo, {".s2i.yaml": s2i_yaml(image, template="static")})
    push_main(github, bot, repo, sha)

    def rebuilt() -> bool:
        return any(", rebuilt on " in s["description"] for s in github.statuses(repo, sha))

    github_forge.wait_for(rebuilt, timeout=60)
    status = final_status(github_forge, repo, sha, timeout=60)
    on = f"{builder.removesuffix(':latest')}@{now[:19]}"
    assert status.description == f"sha256:{'d' * 64}, rebuilt on {on}"
    assert executor.runs_of(repo, sha) == 2
