"""Signed images, checked from the outside as whoever pulls them would (bot/runner/supply_chain.py,
docs/supply-chain.md): an operator's cosign key pair, the bot's `signing` settings, and the real
`cosign verify` / `cosign verify-attestation` with the public key. Shared by the local
executor's and the Kubernetes Jobs' e2e tests."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.images import skopeo_inspect
from tests.support.testenv import ProvisionedEnv

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class KeyPair:
    """`cosign generate-key-pair`'s files, and the password file the settings name."""

    directory: Path

    @property
    def private(self) -> Path:
        return self.directory / "cosign.key"

    @property
    def public(self) -> Path:
        return self.directory / "cosign.pub"

    @property
    def password_file(self) -> Path:
        return self.directory / "password"

    def settings(self, env: ProvisionedEnv | None = None) -> dict[str, str]:
        """The bot's `signing` settings; with `env`, the host's syft and cosign (the local
        executor's: Jobs run the runner image's)."""
        signing = {"key_file": str(self.private), "password_file": str(self.password_file)}
        if env is not None:
            signing |= {"syft": env.syft, "cosign": env.cosign}
        return signing

    def secrets(self) -> dict[str, str]:
        """What must be found nowhere (a log, a layer, a pod's spec): name -> value."""
        pem = self.private.read_text()
        body = max(pem.splitlines(), key=len)  # a line of its base64 body: the key's bytes
        return {"the key's password": PASSWORD, "the private key": pem, "its body": body}


def cosign(
    env: ProvisionedEnv, docker_config: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [env.cosign, *args], capture_output=True, text=True, check=False,
        env=os.environ | {"DOCKER_CONFIG": str(docker_config), "COSIGN_PASSWORD": PASSWORD},
    )  # fmt: skip


def key_pair(env: ProvisionedEnv, directory: Path) -> KeyPair:
    """A new key pair in directory, encrypted with PASSWORD."""
    directory.mkdir(parents=True)
    made = cosign(env, directory, "generate-key-pair", "--output-key-prefix",
                  str(directory / "cosign"))  # fmt: skip
    assert made.returncode == 0, made.stderr
    keys = KeyPair(directory)
    keys.password_file.write_text(PASSWORD + "\n")
    return keys


def registry_config(env: ProvisionedEnv, tmp_path: Path) -> Path:
    """A DOCKER_CONFIG directory with the registry's credentials, for cosign."""
    config = tmp_path / "docker"
    config.mkdir(exist_ok=True)
    auth = env.auth_file(tmp_path)  # a dockerconfigjson, as cosign reads it
    (config / "config.json").write_text(auth.read_text())
    return config


def verify(env: ProvisionedEnv, config: Path, image: str, public: Path) -> bool:
    verified = cosign(env, config, "verify", "--key", str(public), "--allow-http-registry",
                      "--insecure-ignore-tlog", image)  # fmt: skip
    return verified.returncode == 0


def predicate(env: ProvisionedEnv, config: Path, kind: str, image: str, public: Path) -> Any:
    """The predicate of the attestation of this type, once cosign verified its signature."""
    verified = cosign(env, config, "verify-attestation", "--key", str(public), "--type", kind,
                      "--allow-http-registry", "--insecure-ignore-tlog", image)  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    envelope = json.loads(verified.stdout.splitlines()[0])
    statement = json.loads(base64.b64decode(envelope["payload"]))
    return statement["predicate"]


def assert_signed_and_proven(
    env: ProvisionedEnv, tmp_path: Path, image: str, keys: KeyPair, *,
    sha: str, builder: str, builder_id: str, package: str,
) -> None:  # fmt: skip
    """`image` (repository@digest) is signed with `keys` and no other key, its SBOM lists
    `package`, and its provenance names the commit `sha`, the builder image `builder` by the
    digest its tag has in the registry, and the bot (`builder_id`)."""
    config = registry_config(env, tmp_path)
    assert verify(env, config, image, keys.public), f"cosign verify refused {image}"
    other = key_pair(env, tmp_path / "another-key")
    assert not verify(env, config, image, other.public), "another key verified the signature"

    sbom = predicate(env, config, "spdxjson", image, keys.public)
    assert package in {p["name"] for p in sbom["packages"]}

    provenance = predicate(env, config, "slsaprovenance1", image, keys.public)
    definition = provenance["buildDefinition"]
    assert definition["externalParameters"]["revision"] == sha
    assert {"gitCommit": sha} in [d.get("digest") for d in definition["resolvedDependencies"]]
    (used,) = [d for d in definition["resolvedDependencies"] if d["uri"] == f"oci://{builder}"]
    digest = skopeo_inspect(env, builder)["Digest"]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert used["digest"] == {"sha256": digest.removeprefix("sha256:")}
    assert provenance["runDetails"]["builder"]["id"] == builder_id
