"""End to end: a pushed image is signed, and its SBOM and SLSA provenance are attached as
signed attestations (bot/runner/supply_chain.py): the real syft and cosign, checked from the
outside with `cosign verify` and `cosign verify-attestation` and the operator's public key."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.github import FakeGitHub
from tests.support.apps import app_files, app_repo
from tests.support.bot_process import BotProcess
from tests.support.deliveries import push_main
from tests.support.forges import GitHubHarness
from tests.support.outcomes import final_status, log_of
from tests.support.testenv import ProvisionedEnv

pytestmark = pytest.mark.e2e
StartBot = Callable[..., BotProcess]
PASSWORD = "correct horse battery staple"


def cosign(
    env: ProvisionedEnv, docker_config: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [env.cosign, *args], capture_output=True, text=True, check=False,
        env=os.environ | {"DOCKER_CONFIG": str(docker_config), "COSIGN_PASSWORD": PASSWORD},
    )  # fmt: skip


def predicate(env: ProvisionedEnv, config: Path, kind: str, image: str, key: Path) -> Any:
    """The predicate of the attestation of this type, once cosign verified its signature."""
    verified = cosign(env, config, "verify-attestation", "--key", str(key), "--type", kind,
                      "--allow-http-registry", "--insecure-ignore-tlog", image)  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    envelope = json.loads(verified.stdout.splitlines()[0])
    statement = json.loads(base64.b64decode(envelope["payload"]))
    return statement["predicate"]


def test_a_pushed_image_is_signed_with_its_sbom_and_provenance_attached(
    github: FakeGitHub, github_forge: GitHubHarness, start_builder_bot: StartBot,
    testenv: ProvisionedEnv, tmp_path: Path,
) -> None:  # fmt: skip
    keys = tmp_path / "keys"
    keys.mkdir()
    made = cosign(testenv, keys, "generate-key-pair", "--output-key-prefix", str(keys / "cosign"))
    assert made.returncode == 0, made.stderr
    (keys / "password").write_text(PASSWORD + "\n")
    bot = start_builder_bot(signing={
        "key_file": str(keys / "cosign.key"), "password_file": str(keys / "password"),
        "syft": testenv.syft, "cosign": testenv.cosign,
    })  # fmt: skip
    repo, image, sha = app_repo(github_forge, testenv.registry, "signed", app_files("go-hello"))
    push_main(github, bot, repo, sha)

    status = final_status(github_forge, repo, sha)
    log = log_of(status)
    assert status.state == "success", log
    digest = re.match(r"sha256:[0-9a-f]{64}", status.description)
    assert digest, status.description
    pushed = f"{image}@{digest[0]}"
    assert f"==> sign {pushed} and attach its SBOM and provenance" in log
    assert PASSWORD not in log and (keys / "cosign.key").read_text() not in log

    config = tmp_path / "docker"
    config.mkdir()
    testenv.auth_file(tmp_path)  # registry-auth.json: a dockerconfigjson, as cosign reads it
    (config / "config.json").write_text((tmp_path / "registry-auth.json").read_text())
    key = keys / "cosign.pub"
    verified = cosign(testenv, config, "verify", "--key", str(key), "--allow-http-registry",
                      "--insecure-ignore-tlog", pushed)  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    # Another key's verification fails: the signature is this key's.
    other = tmp_path / "other"
    other.mkdir()
    cosign(testenv, other, "generate-key-pair", "--output-key-prefix", str(other / "cosign"))
    refused = cosign(testenv, config, "verify", "--key", str(other / "cosign.pub"),
                     "--allow-http-registry", "--insecure-ignore-tlog", pushed)  # fmt: skip
    assert refused.returncode != 0

    sbom = predicate(testenv, config, "spdxjson", pushed, key)
    names = {package["name"] for package in sbom["packages"]}
    assert "example.com/greet" in names  # go-hello's (vendored) module, from the binary

    provenance = predicate(testenv, config, "slsaprovenance1", pushed, key)
    definition = provenance["buildDefinition"]
    assert definition["externalParameters"]["revision"] == sha
    assert {"gitCommit": sha} in [d.get("digest") for d in definition["resolvedDependencies"]]
    builder = next(d for d in definition["resolvedDependencies"]
                   if d["uri"] == f"oci://{testenv.images['go']}")  # fmt: skip
    assert re.fullmatch(r"[0-9a-f]{64}", builder["digest"]["sha256"])
    assert provenance["runDetails"]["builder"]["id"] == bot.url
