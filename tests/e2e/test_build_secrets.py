"""Build secrets end to end (issue 12, item 1): sample applications that depend on a package
only a private server with auth has (tests/fakes/package_servers.py), pushed to the fake
GitHub and built by `s2i-bot serve` with the real s2i, engine and registry. Each builds with
the operator's secret and fails without it; the pushed image (every file of every layer, as
the registry serves it) and the build log hold no credential of the secret in any form.

docker's classic builder cannot mount secrets: with `engine: docker` such a build is built
with buildah (bot/runner/pipeline.py engine_for), whose chroot RUN steps share the host's
network, so the private servers on 127.0.0.1 are reachable from assemble.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml

from tests.fakes.github import FakeGitHub
from tests.fakes.go_proxy import GREETING as GO_GREETING
from tests.fakes.go_proxy import GoModuleProxy
from tests.fakes.package_servers import GREETING, PackageServers
from tests.support import http, private_builds
from tests.support.apps import app_files
from tests.support.bot_process import BotProcess
from tests.support.forges import GitHubHarness
from tests.support.image_files import image_files, secrets_in
from tests.support.images import image_exists, running
from tests.support.names import unique
from tests.support.outcomes import build_of, final_status, log_of
from tests.support.private_builds import (
    assert_no_secret_anywhere,
    project_npmrc,
    push_app,
    secret_settings,
)
from tests.support.testenv import ProvisionedEnv
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e
StartBot = Callable[..., BotProcess]
servers = private_builds.servers


@pytest.mark.parametrize("engine", ["docker", "buildah"])
def test_a_node_app_installs_a_private_package_with_the_npmrc_secret_and_keeps_it_nowhere(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv, tmp_path: Path,
    servers: PackageServers, engine: str,
) -> None:  # fmt: skip
    bot = start_builder_bot(engine=engine, **secret_settings(servers, tmp_path, ["acme/*"]))
    repo, image, sha = push_app(github, bot, testenv, tmp_path / "work", "node-private",
                                "nodejs", ["npmrc"], project_npmrc(servers))  # fmt: skip

    status = final_status(github, repo, sha)
    log = log_of(status)
    assert status.state == "success", log
    assert servers.served["npm"] == 1
    assert "build secret npmrc: mounted at /run/secrets/npmrc while assemble runs" in log
    if engine == "docker":
        assert "building with buildah, not docker" in log
    files = assert_no_secret_anywhere(testenv, servers, f"{image}:main", log)
    installed = [p for p in files if p.endswith("node_modules/@s2ibot-private/greeting/index.js")]
    assert installed and GREETING.encode() in files[installed[0]]
    # The mount point's directory may stay; no layer holds a file where the secret was.
    assert not [p for p in files if "run/secrets/" in p]


def test_a_node_app_without_the_secret_fails_with_the_registrys_refusal(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv, tmp_path: Path,
    servers: PackageServers,
) -> None:  # fmt: skip
    bot = start_builder_bot(engine="buildah", **secret_settings(servers, tmp_path, ["acme/*"]))
    repo, image, sha = push_app(github, bot, testenv, tmp_path / "work", "node-private",
                                "nodejs", [], project_npmrc(servers))  # fmt: skip

    status = final_status(github, repo, sha)
    assert status.state == "failure", log_of(status)
    reason = str(build_of(status)["reason"])
    # npm's words for the registry's 401, named by the failing script (bot/failure_reason.py)
    assert reason.startswith("assemble failed: Unable to authenticate"), reason
    assert servers.refused["npm"] >= 1 and servers.served["npm"] == 0
    assert not image_exists(testenv, f"{image}:main")


def test_a_python_app_installs_from_a_private_index_with_the_pip_conf_secret(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv, tmp_path: Path,
    servers: PackageServers,
) -> None:  # fmt: skip
    bot = start_builder_bot(engine="docker", **secret_settings(servers, tmp_path, ["acme/*"]))
    repo, image, sha = push_app(github, bot, testenv, tmp_path / "work", "python-private",
                                "python", ["pip-conf"])  # fmt: skip

    status = final_status(github, repo, sha)
    log = log_of(status)
    assert status.state == "success", log
    assert servers.served["pip"] == 1
    files = assert_no_secret_anywhere(testenv, servers, f"{image}:main", log)
    installed = [
        p for p in files if p.endswith("site-packages/s2ibot_private_greeting/__init__.py")
    ]
    assert installed and GREETING.encode() in files[installed[0]]

    # Without the secret the same repository's build fails: the package is nowhere else.
    repo, image, sha = push_app(github, bot, testenv, tmp_path / "work2", "python-private",
                                "python", [])  # fmt: skip
    status = final_status(github, repo, sha)
    assert status.state == "failure", log_of(status)
    reason = str(build_of(status)["reason"])
    assert "s2ibot-private-greeting" in reason, reason
    assert not image_exists(testenv, f"{image}:main")


def test_a_repository_the_operator_did_not_allow_is_refused_naming_the_secret(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv, tmp_path: Path,
    servers: PackageServers,
) -> None:  # fmt: skip
    bot = start_builder_bot(**secret_settings(servers, tmp_path, ["platform/*"]))
    repo, image, sha = push_app(github, bot, testenv, tmp_path / "work", "node-private",
                                "nodejs", ["npmrc"])  # fmt: skip

    status = final_status(github, repo, sha, "s2i/config")
    assert status.state == "failure"
    assert status.description.startswith(".s2i.yaml line "), status.description
    assert f"repository {repo} may not use build secret 'npmrc'" in status.description
    assert servers.served["npm"] == 0 and not image_exists(testenv, f"{image}:main")


def test_a_java_app_resolves_a_private_artifact_with_the_maven_settings_secret(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv, tmp_path: Path,
    servers: PackageServers,
) -> None:  # fmt: skip
    bot = start_builder_bot(engine="buildah", **secret_settings(servers, tmp_path, ["acme/*"]))
    pom = app_files("java-private")["pom.xml"]
    assert isinstance(pom, bytes)
    repository = {"pom.xml": pom.decode().replace("@PRIVATE_MAVEN_REPOSITORY@",
                                                  servers.maven_repository())}  # fmt: skip
    repo, image, sha = push_app(github, bot, testenv, tmp_path / "work", "java-private", "java",
                                ["maven-settings"], repository)  # fmt: skip

    status = final_status(github, repo, sha)
    log = log_of(status)
    assert status.state == "success", log
    assert servers.served["maven"] == 1
    assert "---> mvn -s /run/secrets/maven-settings" in log
    assert_no_secret_anywhere(testenv, servers, f"{image}:main", log)

    # Without it, Maven meets the repository's 401.
    repo, image, sha = push_app(github, bot, testenv, tmp_path / "work2", "java-private", "java",
                                [], repository)  # fmt: skip
    status = final_status(github, repo, sha)
    assert status.state == "failure", log_of(status)
    assert servers.refused["maven"] >= 1 and servers.served["maven"] == 1
    assert "401" in str(build_of(status)["reason"]) + log_of(status)
    assert not image_exists(testenv, f"{image}:main")


def test_a_go_app_fetches_a_private_module_with_the_netrc_secret_and_keeps_it_nowhere(
    github: FakeGitHub, start_builder_bot: StartBot, testenv: ProvisionedEnv, tmp_path: Path,
) -> None:  # fmt: skip
    # The go command sends $NETRC's credentials to https proxies only; the test proxy's
    # certificate is trusted through a second secret file, SSL_CERT_FILE.
    with GoModuleProxy(tmp_path) as proxy:
        (tmp_path / "netrc").write_text(proxy.netrc())
        (tmp_path / "proxy-ca.pem").write_text(proxy.ca_pem)
        secrets = {
            "netrc": {"file": str(tmp_path / "netrc"), "repositories": ["acme/*"],
                      "env": "NETRC"},
            "go-proxy-ca": {"file": str(tmp_path / "proxy-ca.pem"), "repositories": ["acme/*"],
                            "env": "SSL_CERT_FILE"},
        }  # fmt: skip
        bot = start_builder_bot(build_secrets=secrets)
        env = {"GOPROXY": proxy.url, "GONOSUMDB": "example.com/private"}
        repo, image, sha = push_app(github, bot, testenv, tmp_path / "work", "go-private", "go",
                                    ["netrc", "go-proxy-ca"], env=env)  # fmt: skip

        status = final_status(github, repo, sha)
        log = log_of(status)
        assert status.state == "success", log
        assert proxy.served == 1
        files = image_files(testenv, f"{image}:main")
        leaks = {"the proxy's password": proxy.password, "the netrc file": proxy.netrc().strip()}
        assert secrets_in(files, leaks) == [] and secrets_in({"the log": log.encode()}, leaks) == []
        with running(testenv, f"{image}:main") as url:
            assert httpx.get(url, timeout=5).text.strip() == GO_GREETING

        # With the certificate but without the credentials, the proxy's 401 fails the build.
        repo, image, sha = push_app(github, bot, testenv, tmp_path / "work2", "go-private", "go",
                                    ["go-proxy-ca"], env=env)  # fmt: skip
        status = final_status(github, repo, sha)
        assert status.state == "failure", log_of(status)
        assert "401 Unauthorized" in str(build_of(status)["reason"]), build_of(status)["reason"]
        assert proxy.refused >= 1 and proxy.served == 1
        assert not image_exists(testenv, f"{image}:main")


def test_an_approved_fork_pull_request_asking_for_the_secret_reaches_no_server_and_pushes_nothing(
    github_forge: GitHubHarness, start_builder_bot: StartBot, testenv: ProvisionedEnv,
    tmp_path: Path, servers: PackageServers,
) -> None:  # fmt: skip
    """A fork's code never runs with a build secret, even after a writer's ok-to-test: the
    real bot refuses the build before any engine or server is involved, and says why."""
    bot = start_builder_bot(engine="docker", **secret_settings(servers, tmp_path, ["acme/*"]))
    repo = github_forge.create_repo(unique("acme/node-private"))
    image = f"{testenv.registry}/{repo}".lower()
    config = {"builds": [{"name": "web", "template": "nodejs", "image": image, "secrets": ["npmrc"],
                          "triggers": {"branches": ["main"], "pull_requests": True}}]}  # fmt: skip
    files = {p: c for p, c in app_files("node-private").items() if c is not None}
    github_forge.commit(
        repo, files | project_npmrc(servers) | {".s2i.yaml": yaml.safe_dump(config)}
    )
    github_forge.grant_write(repo, "maintainer")
    number, head = github_forge.open_pull(
        bot, repo, {"server.js": "require('fs'); // the fork's code\n"}, author="mallory", fork=True
    )
    github_forge.wait_for(
        lambda: any(f"(for commit {head[:7]})" in c for c in github_forge.comments(repo, number)),
        timeout=30,
    )
    wait_until(
        lambda: http.get(f"{bot.url}/healthz").json()["unsent_outbox_items"] == 0, timeout=30,
        what="the ok-to-test notice to be sent",
    )  # fmt: skip
    github_forge.comment(bot, repo, number, "/s2i ok-to-test", author="maintainer")

    status = final_status(github_forge, repo, head)
    assert status.state == "failure", status
    assert status.description.startswith(
        "build 'web' needs build secret 'npmrc', and builds of pull requests from forks never "
        "get build secrets"
    ), status.description
    assert servers.served["npm"] == 0 and servers.refused["npm"] == 0
    assert not image_exists(testenv, f"{image}:pr-{number}")
