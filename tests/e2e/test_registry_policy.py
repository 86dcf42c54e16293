"""The registry policy (bot/image_policy.py, docs/security.md) against the real registry: a
repository pushed to the fake GitHub asks to push over a builder image, over another
repository's image, or to build on a runtime image from elsewhere; each fails the s2i/config
status naming the rule, nothing is built, and the builder images' digests in the registry are
the ones they were. The runner's own check (its second line) is attacked directly: a spec
whose grants do not cover its image is refused before the engine builds anything.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.build_spec import BuildSpec, SourceSpec
from bot.image_policy import Grant, ImageGrants
from tests.fakes.github import FakeGitHub
from tests.support.apps import APPS, app_files
from tests.support.bot_process import REPO_ROOT, BotProcess
from tests.support.deliveries import push_main
from tests.support.images import image_exists, skopeo_inspect
from tests.support.names import unique
from tests.support.outcomes import final_status, log_of
from tests.support.testenv import ProvisionedEnv

pytestmark = pytest.mark.e2e
StartBot = Callable[..., BotProcess]


@pytest.fixture
def builder_digests(testenv: ProvisionedEnv) -> Iterator[dict[str, str]]:
    """The registry digest of every builder and runtime image, before the test; after it,
    each must be unchanged."""
    before = {
        name: skopeo_inspect(testenv, image)["Digest"] for name, image in testenv.images.items()
    }
    yield before
    after = {
        name: skopeo_inspect(testenv, image)["Digest"] for name, image in testenv.images.items()
    }
    assert after == before


def config(image: str, template: str = "static", extra: str = "") -> str:
    return (
        f"builds:\n  - name: web\n    template: {template}\n    image: {image}\n"
        f"    tags: [latest]\n{extra}    triggers: {{branches: [main]}}\n"
    )


def refused(github: FakeGitHub, bot: BotProcess, files: dict[str, str | bytes | None]) -> str:
    """Push a repository with `files`; the s2i/config status's description, after checking
    that it failed and that no build status was ever set."""
    repo = github.create_repo(unique("acme/policy"))
    sha = repo.commit(files, "a commit")
    push_main(github, bot, repo.full_name, sha)
    status = final_status(github, repo.full_name, sha, "s2i/config")
    assert status.state == "failure", status
    assert {s["context"] for s in github.statuses(repo.full_name, sha)} == {"s2i/config"}
    reason = status.description.removeprefix(".s2i.yaml ")
    # the whole reason is behind the link
    assert reason[:80] in log_of(status)
    return status.description


def test_pushing_over_a_builder_image_fails_the_config_status_naming_the_rule(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv,
    builder_digests: dict[str, str],
) -> None:  # fmt: skip
    bot = start_builder_bot()
    builder = f"{testenv.registry}/s2i-bot/static"
    files = app_files("static-hello") | {".s2i.yaml": config(builder)}
    assert refused(github, bot, files) == (
        f".s2i.yaml build 'web': {builder} is protected (builder image of template 'static')"
    )


def test_pushing_to_another_repositorys_image_fails_the_config_status_naming_the_rule(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv,
    builder_digests: dict[str, str],
) -> None:  # fmt: skip
    bot = start_builder_bot()
    victim = f"{testenv.registry}/{unique('acme/victim')}"
    files = app_files("static-hello") | {".s2i.yaml": config(victim)}
    description = refused(github, bot, files)
    assert description.startswith(f".s2i.yaml build 'web': {victim} is not in the push grants")
    assert "(image_policy" in description
    assert not image_exists(testenv, f"{victim}:latest")


def test_a_runtime_image_from_outside_the_pull_list_fails_the_config_status_naming_the_rule(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv,
    builder_digests: dict[str, str],
) -> None:  # fmt: skip
    bot = start_builder_bot()
    repo = github.create_repo(unique("acme/policy"))
    runtime = (
        "    runtime: {image: docker.io/evil/miner:latest, artifacts: ['/opt/app-root/app:/opt']}\n"
    )
    files = app_files("go-hello") | {
        ".s2i.yaml": config(f"{testenv.registry}/{repo.full_name}", "go", runtime)
    }
    sha = repo.commit(files, "a commit")
    push_main(github, bot, repo.full_name, sha)
    status = final_status(github, repo.full_name, sha, "s2i/config")
    assert status.state == "failure"
    assert status.description == (
        ".s2i.yaml build 'web': runtime image docker.io/evil/miner is not in image_policy.pull "
        f"({testenv.builder_registry}/s2i-bot)"
    )


def test_the_runner_refuses_a_spec_whose_grants_do_not_cover_its_image_before_building(
    testenv: ProvisionedEnv, tmp_path: Path, builder_digests: dict[str, str]
) -> None:
    """The second line: whatever the bot planned, the runner checks again before the engine
    builds (and so before it pulls or pushes anything)."""
    builder = f"{testenv.builder_registry}/s2i-bot/static"
    grants = ImageGrants(
        repo="acme/web",
        push=(Grant(image=f"{testenv.registry}/acme/web", rule="default"),),
        pull=(Grant(image=f"{testenv.builder_registry}/s2i-bot", rule="image_policy.pull"),),
        protected=(Grant(image=builder, rule="builder image of template 'static'"),),
    )
    tree = str(APPS / "static-hello")
    source = SourceSpec(git_url=tree, sha="0" * 40, ref="refs/heads/main", local_dir=tree)
    spec = BuildSpec(
        name="web", repo="acme/web", forge="github", source=source, template="static",
        builder_image=f"{builder}:latest", image=builder, tags=("latest",), images=grants,
    )  # fmt: skip
    (tmp_path / "spec.json").write_text(spec.model_dump_json())
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    (secrets / ".dockerconfigjson").write_text(testenv.auth_file(tmp_path).read_text())
    result_file = tmp_path / "result.json"
    run = subprocess.run(
        [sys.executable, "-m", "bot.runner", "--spec", str(tmp_path / "spec.json"),
         "--secrets", str(secrets), "--private-dir", str(secrets),
         "--workdir", str(tmp_path / "work"),
         "--result", str(result_file), "--s2i", testenv.s2i],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=600, check=False,
    )  # fmt: skip
    result = json.loads(result_file.read_text())
    assert run.returncode == 1, run.stdout + run.stderr
    assert result["state"] == "failed"
    assert result["reason"] == (
        f"image policy: {builder} is protected (builder image of template 'static')"
    )
    assert "==> build " not in run.stdout  # refused before the engine was started
