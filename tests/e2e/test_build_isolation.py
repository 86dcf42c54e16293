"""A build is a trust boundary (issue 8, items 1-3 and 6): the attacks a repository writer
makes from inside the build, each on a repository pushed to the fake GitHub and built for
real (real git, s2i, docker and buildah, the registry with htpasswd auth), each judged from
outside: the commit status, the build log, the image as the registry serves it (every file of
every layer searched for the forge token, the registry password, the webhook secret and a
value only the bot's environment holds), and the bot's data directory afterwards.

The Kubernetes Job path of the same attacks is in test_build_isolation_kubernetes.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.build_spec import BuildSpec, SourceSpec
from bot.runner.credentials import Credentials, docker_config
from bot.templates import Artifact, RuntimeStage
from tests.fakes.artifact_host import ArtifactHost
from tests.fakes.github import FakeGitHub, FakeRepo
from tests.support import hostile_builds
from tests.support.bot_process import REPO_ROOT, BotProcess
from tests.support.deliveries import push_main
from tests.support.forges import GITHUB_TOKEN, GitHubHarness
from tests.support.git_tree import push_tree
from tests.support.hostile_builds import (
    SITE,
    assert_holds_no_secret,
    config_status,
    encoded_forms,
    hostile_repo,
    hunting_assemble,
    printing_assemble,
)
from tests.support.images import image_exists, skopeo_inspect
from tests.support.outcomes import build_of, final_status, log_of
from tests.support.testenv import ProvisionedEnv
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e
# Autouse: the bot's environment holds a canary value no image or log may show.
canary_in_the_bots_environment = hostile_builds.canary_in_the_bots_environment
StartBot = Callable[..., BotProcess]


def leftovers(bot: BotProcess) -> list[str]:
    """Whatever builds left in the bot's work and secrets directories."""
    return sorted(
        str(p.relative_to(bot.data_dir))
        for root in ("work", "secrets")
        for p in (bot.data_dir / root).rglob("*")
    )


# -- config time: a value that leaves the checkout or ends a Dockerfile instruction ----------


@pytest.mark.parametrize(
    "context",
    ["..", "../../secrets", "../../../../secrets", "public/../../../secrets", "/etc", "/"],
)
def test_a_context_leaving_the_checkout_fails_the_config_naming_its_line(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv, tmp_path: Path,
    context: str,
) -> None:  # fmt: skip
    bot = start_builder_bot()
    repo, image, sha = hostile_repo(
        github, testenv, tmp_path / "work", "traversal", SITE, context=context
    )
    push_main(github, bot, repo.full_name, sha)

    status = config_status(github, repo, sha)
    assert status.description.startswith(
        ".s2i.yaml line 8, column 12: 'context': must be a relative path inside the repository"
    )
    assert not image_exists(testenv, f"{image}:main")


INJECTED = "\nUSER root\nRUN cat /proc/1/environ > /leak"


@pytest.mark.parametrize(
    ("field", "build", "line"),
    [
        ("runtime.image", {"runtime": {"image": f"s2i-bot/static:latest{INJECTED}"}}, 9),
        ("runtime.artifacts source",
         {"runtime": {"image": "s2i-bot/static:latest",
                      "artifacts": [f"/opt/app-root/html{INJECTED}:/opt/app-root/html"]}}, 11),
        ("runtime.artifacts destination",
         {"runtime": {"image": "s2i-bot/static:latest",
                      "artifacts": [f"/opt/app-root/html:/opt/app-root/html{INJECTED}"]}}, 11),
        ("env name", {"env": {f"STATIC_DIR{INJECTED}": "public"}}, 9),
        ("env value", {"env": {"STATIC_DIR": f"public{INJECTED}"}}, 9),
        ("context", {"context": f"public{INJECTED}"}, 8),
        ("binary.url", {"template": "binary", "binary": {"url": f"https://example.com/x{INJECTED}"}},
         9),
    ],
)  # fmt: skip
def test_dockerfile_injection_in_each_field_fails_the_config_naming_its_line(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv, tmp_path: Path,
    field: str, build: dict[str, Any], line: int,
) -> None:  # fmt: skip
    bot = start_builder_bot()
    repo, image, sha = hostile_repo(github, testenv, tmp_path / "work", "injection", SITE, **build)
    push_main(github, bot, repo.full_name, sha)

    status = config_status(github, repo, sha)
    assert status.description.startswith(f".s2i.yaml line {line}, "), field
    assert "must not contain control characters (found U+000A)" in log_of(status), field
    assert not image_exists(testenv, f"{image}:main")


# -- the runner: symlinks, the context, what the build can see, what the log shows ------------


@pytest.mark.parametrize("context", ["", "public"])
def test_a_symlink_to_proc_self_environ_fails_the_build_naming_the_link(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv, tmp_path: Path,
    context: str,
) -> None:  # fmt: skip
    bot = start_builder_bot()
    build = {"context": context} if context else {}
    repo, image, sha = hostile_repo(
        github, testenv, tmp_path / "work", "environ", SITE,
        symlinks={"public/env.txt": "/proc/self/environ"}, **build,
    )  # fmt: skip
    push_main(github, bot, repo.full_name, sha)

    status = final_status(github, repo.full_name, sha, "s2i/web")
    assert status.state == "failure", log_of(status)
    assert str(build_of(status)["reason"]).startswith(
        "symlink public/env.txt -> /proc/self/environ points outside the repository"
    )
    assert "s2i build --as-dockerfile" not in log_of(status)  # refused before s2i saw it
    assert not image_exists(testenv, f"{image}:main")
    assert leftovers(bot) == []


@pytest.mark.parametrize("how", ["relative", "absolute"])
def test_a_symlink_to_the_secrets_fails_the_build_naming_the_link(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv, tmp_path: Path,
    how: str,
) -> None:  # fmt: skip
    bot = start_builder_bot()
    # From <data>/work/<id>/build/source/public up to <data>/secrets, where the credentials of
    # running builds are; or the same place named absolutely.
    target = "../../../../../secrets" if how == "relative" else str(bot.data_dir / "secrets")
    repo, image, sha = hostile_repo(
        github,
        testenv,
        tmp_path / "work",
        "secrets",
        SITE,
        symlinks={"public/keys": target},
        context="public",
    )
    push_main(github, bot, repo.full_name, sha)

    status = final_status(github, repo.full_name, sha, "s2i/web")
    assert status.state == "failure", log_of(status)
    assert str(build_of(status)["reason"]).startswith(
        f"symlink public/keys -> {target} points outside the repository"
    )
    assert not image_exists(testenv, f"{image}:main")
    assert leftovers(bot) == []


@pytest.mark.parametrize("engine", ["docker", "buildah"])
def test_a_symlink_to_a_sibling_directory_builds_and_the_image_holds_what_it_points_to(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv, tmp_path: Path,
    engine: str,
) -> None:  # fmt: skip
    bot = start_builder_bot(engine=engine)
    files = SITE | {"shared/logo.txt": "the shared logo\n"}
    repo, image, sha = hostile_repo(
        github, testenv, tmp_path / "work", "sibling", files,
        symlinks={"public/assets": "../shared"}, context="public",
    )  # fmt: skip
    push_main(github, bot, repo.full_name, sha)

    status = final_status(github, repo.full_name, sha, "s2i/web")
    assert status.state == "success", log_of(status)
    digest = status.description.split()[0]
    held = assert_holds_no_secret(testenv, f"{image}@{digest}")
    logos = [p for p in held if p.endswith("opt/app-root/html/assets/logo.txt")]
    assert logos and held[logos[-1]] == b"the shared logo\n"
    assert leftovers(bot) == []


@pytest.mark.parametrize("engine", ["docker", "buildah"])
def test_an_assemble_hunting_for_the_bots_secrets_finds_none(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv, tmp_path: Path,
    engine: str,
) -> None:  # fmt: skip
    bot = start_builder_bot(engine=engine)
    places = [str(bot.data_dir / "secrets"), str(bot.data_dir / "work"), "/var/run/s2i-bot"]
    hunt = hunting_assemble(*places)
    repo, image, sha = hostile_repo(
        github, testenv, tmp_path / "work", "hunt", SITE | {".s2i/bin/assemble": hunt}
    )
    push_main(github, bot, repo.full_name, sha)

    status = final_status(github, repo.full_name, sha, "s2i/web")
    log = log_of(status)
    assert status.state == "success", log
    assert "---> looted" in log, log
    digest = status.description.split()[0]
    held = assert_holds_no_secret(testenv, f"{image}@{digest}")
    assert [p for p in held if "/loot/env" in p]  # the hunt ran and its loot is in the image
    assert leftovers(bot) == []


def test_a_build_printing_its_secrets_base64_shows_only_masks_in_the_log(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv, tmp_path: Path
) -> None:
    bot = start_builder_bot()
    repo, _, sha = hostile_repo(
        github,
        testenv,
        tmp_path / "work",
        "printer",
        SITE | {".s2i/bin/assemble": printing_assemble(testenv)},
    )
    push_main(github, bot, repo.full_name, sha)

    status = final_status(github, repo.full_name, sha, "s2i/web")
    log = log_of(status)
    assert status.state == "success", log
    printed = log[log.index("printf") :] if "printf" in log else log
    assert "---> printed" in log
    assert printed.count("***") >= 6, printed[:3000]
    for form in encoded_forms(testenv):
        assert form not in log, form
    assert GITHUB_TOKEN not in log and testenv.password not in log


# -- B2I: where a download may go, how much it may bring -----------------------------------


def test_a_b2i_url_to_loopback_fails_the_build_before_any_request(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv, tmp_path: Path
) -> None:
    bot = start_builder_bot()
    with ArtifactHost() as host:
        url = host.add("tool", b"#!/bin/sh\necho pwned\n")
        repo, image, sha = hostile_repo(
            github,
            testenv,
            tmp_path / "work",
            "loopback",
            {},
            template="binary",
            binary={"url": url},
        )
        push_main(github, bot, repo.full_name, sha)
        status = final_status(github, repo.full_name, sha, "s2i/web")
        assert host.requests == []
    assert status.state == "failure", log_of(status)
    assert str(build_of(status)["reason"]).startswith(
        f"the artifact tool could not be downloaded from {url}: {url} leads to 127.0.0.1 at "
        "127.0.0.1, a loopback, link-local or private address"
    )
    assert not image_exists(testenv, f"{image}:main")


def test_a_5_gb_b2i_artifact_is_refused_while_it_streams(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv, tmp_path: Path
) -> None:
    limit = 64 << 20
    bot = start_builder_bot(artifact_allowed_hosts=["127.0.0.1"], max_artifact_bytes=limit)
    with ArtifactHost() as host:
        url = f"{host.url}/huge"
        repo, image, sha = hostile_repo(
            github,
            testenv,
            tmp_path / "work",
            "huge",
            {},
            template="binary",
            binary={"url": url},
        )
        push_main(github, bot, repo.full_name, sha)
        status = final_status(github, repo.full_name, sha, "s2i/web")
        assert host.requests == ["/huge"]
        sent = host.huge_sent
    assert status.state == "failure", log_of(status)
    assert str(build_of(status)["reason"]) == (
        f"the artifact huge from {url} is larger than max_artifact_bytes ({limit} bytes); "
        "the operator sets that limit"
    )
    assert limit < sent < 2 * limit  # the limit and the socket buffers, not 5 GB
    assert not image_exists(testenv, f"{image}:main")
    assert leftovers(bot) == []


# -- nothing left behind -----------------------------------------------------------------


def test_a_crashed_runs_directories_are_swept_at_start_and_each_build_removes_its_own(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv, tmp_path: Path
) -> None:
    bot = start_builder_bot()
    bot.stop()
    # What a bot killed mid-build leaves: a build's workdir and its credential copy.
    (bot.data_dir / "work" / "7" / "build" / "source").mkdir(parents=True)
    (bot.data_dir / "work" / "7" / "runner.pid").write_text("999999999")
    config = docker_config({testenv.registry: (testenv.username, testenv.password)})
    Credentials(GITHUB_TOKEN, config).write_dir(bot.data_dir / "secrets" / "7-abcdef")
    bot.start()
    assert leftovers(bot) == []

    # A build cancelled while it runs, one that fails, one that succeeds: none leaves a trace.
    work = tmp_path / "work"
    slow = "#!/bin/sh\necho '---> waiting'\nsleep 600\n"
    repo, _, first = hostile_repo(
        github, testenv, work, "cleanup", SITE | {".s2i/bin/assemble": slow}
    )
    push_main(github, bot, repo.full_name, first)
    wait_until(lambda: "---> waiting" in building_log(github, repo, first), timeout=300,
               what="the slow assemble to run")  # fmt: skip
    assert [p for p in leftovers(bot) if p.startswith("secrets/")]  # its copies, while it runs
    failing = "#!/bin/sh\necho '---> failing'\nexit 3\n"
    second = push_tree(repo.clone_url, GITHUB_TOKEN, work, {".s2i/bin/assemble": failing})
    push_main(github, bot, repo.full_name, second)
    assert "superseded" in final_status(github, repo.full_name, first, "s2i/web").description
    assert final_status(github, repo.full_name, second, "s2i/web").state == "failure"
    working = "#!/bin/sh\ncp -r /tmp/src/public/. /opt/app-root/html/\n"
    third = push_tree(repo.clone_url, GITHUB_TOKEN, work, {".s2i/bin/assemble": working})
    push_main(github, bot, repo.full_name, third)
    assert final_status(github, repo.full_name, third, "s2i/web").state == "success"
    assert leftovers(bot) == []


def building_log(github: FakeGitHub, repo: FakeRepo, sha: str) -> str:
    harness = GitHubHarness(github, GITHUB_TOKEN)
    building = [s for s in harness.statuses(repo.full_name, sha) if s.description == "building"]
    return log_of(building[-1]) if building else ""


# -- the runner on its own: its checks hold even when the bot's were bypassed --------------


@pytest.fixture
def runner_dirs(tmp_path: Path, testenv: ProvisionedEnv) -> Iterator[dict[str, Path]]:
    """The old layout the attack counted on: secrets beside the build's workdir."""
    root = tmp_path / "runner"
    dirs = {"workdir": root / "build", "secrets": root / "secrets", "result": root / "r.json"}
    config = docker_config({testenv.registry: (testenv.username, testenv.password)})
    Credentials(GITHUB_TOKEN, config).write_dir(dirs["secrets"])
    yield dirs


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"source": {"context_dir": "../../secrets"}}, "context '../../secrets' must stay inside"),
        ({"source": {"context_dir": "/etc"}}, "context '/etc' must be a relative path"),
        ({"env": {"A": f"x{INJECTED}"}}, "the value of env A must not contain control"),
        ({"runtime": RuntimeStage(image=f"reg/x:1{INJECTED}",
                                  artifacts=(Artifact("/a", "/b"),))},
         "an image reference must not contain control characters"),
    ],
)  # fmt: skip
def test_the_runner_itself_refuses_what_the_config_check_would_have(
    github: FakeGitHub, testenv: ProvisionedEnv, tmp_path: Path,
    runner_dirs: dict[str, Path], change: dict[str, Any], reason: str,
) -> None:  # fmt: skip
    repo, image, sha = hostile_repo(github, testenv, tmp_path / "work", "direct", SITE)
    source = SourceSpec(git_url=repo.clone_url, sha=sha, ref="refs/heads/main")
    spec = BuildSpec(
        name="web", repo=repo.full_name, forge="github", source=source, template="static",
        builder_image=testenv.images["static"], image=image, tags=("main",),
    )  # fmt: skip
    if "source" in change:
        change = {"source": source.model_copy(update=change["source"])}
    spec = spec.model_copy(update=change)
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(spec.model_dump_json())
    done = subprocess.run(
        [sys.executable, "-m", "bot.runner", "--spec", str(spec_file),
         "--secrets", str(runner_dirs["secrets"]), "--workdir", str(runner_dirs["workdir"]),
         "--result", str(runner_dirs["result"]), "--s2i", testenv.s2i],
        capture_output=True, text=True, check=False, cwd=REPO_ROOT,
    )  # fmt: skip
    result = json.loads(runner_dirs["result"].read_text())
    assert done.returncode == 1, done.stdout
    assert result["state"] == "failed" and reason in result["reason"], result
    assert not image_exists(testenv, f"{image}:main")
    # It read its credentials and removed the copy it was given.
    assert list(runner_dirs["secrets"].iterdir()) == []
    assert GITHUB_TOKEN not in done.stdout


# -- a value that reaches the Dockerfile through s2i's labels stays a label ----------------


@pytest.mark.parametrize("engine", ["docker", "buildah"])
def test_a_commit_subject_full_of_instructions_stays_a_label_of_the_runtime_image(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv, tmp_path: Path,
    engine: str,
) -> None:  # fmt: skip
    bot = start_builder_bot(engine=engine)
    subject = 'fix" \\" USER root RUN echo injected-$HOME > /injected "'
    runtime = {"image": "s2i-bot/static:latest",
               "artifacts": ["/opt/app-root/html:/opt/app-root/html"]}  # fmt: skip
    repo, image, sha = hostile_repo(
        github, testenv, tmp_path / "work", "subject", SITE, message=subject, runtime=runtime
    )
    push_main(github, bot, repo.full_name, sha)

    status = final_status(github, repo.full_name, sha, "s2i/web")
    assert status.state == "success", log_of(status)
    digest = status.description.split()[0]
    config = skopeo_inspect(testenv, f"{image}@{digest}", "--config")
    assert config["config"]["User"] == "1001"
    labels = config["config"]["Labels"]
    assert "USER root RUN echo injected" in labels["io.openshift.s2i.build.commit.message"]
    # The subject shows in the history only inside the LABEL instruction that holds it.
    history = [str(h.get("created_by", "")) for h in config.get("history", [])]
    assert [h for h in history if "injected" in h and "LABEL" not in h] == [], history
    held = assert_holds_no_secret(testenv, f"{image}@{digest}")
    assert not [p for p in held if p.endswith(":injected")]
