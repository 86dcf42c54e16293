"""What proves a pushed image: its SBOM, its provenance, and signatures over the image and both.

After the push, the runner lists what the image holds with syft (`syft scan registry:IMAGE`:
the OS packages and the application's language dependencies, as SPDX JSON), and cosign signs
the image and attaches the SBOM (`--type spdxjson`) and the SLSA provenance
(`--type slsaprovenance1`, bot/provenance.py) as signed in-toto attestations. cosign stores
them in the image's repository as OCI referrers (on a registry without the referrers API,
under the `sha256-<digest>` tag of the fallback scheme), so whoever pulls the image can check
all three with `cosign verify` / `cosign verify-attestation` and the operator's public key.

Signing uses the operator's cosign key only: no Fulcio certificate, no Rekor entry, no TUF
root (nothing here reaches the public Sigstore services, only the image's registry: a Job's
pod needs no other network), so verifiers pass `--insecure-ignore-tlog`
(docs/supply-chain.md). The key's password reaches cosign in its environment, never argv,
and the log masks it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.runner.errors import BuildError
from bot.runner.process import BuildLog, run_step


@dataclass(frozen=True)
class SigningKey:
    """cosign's encrypted private key (`cosign generate-key-pair`) and its password."""

    key_file: Path
    password: str


@dataclass(frozen=True)
class SupplyChainTools:
    syft: str = "syft"
    cosign: str = "cosign"


def attest_image(
    image: str,
    predicate: Mapping[str, Any],
    *,
    key: SigningKey,
    registry_auth: Path,
    plain_http: bool,
    log: BuildLog,
    tools: SupplyChainTools = SupplyChainTools(),
) -> None:
    """Scan, sign and attest `image` (repository@digest) in its registry. `registry_auth`: a
    dockerconfigjson file; `plain_http`: the registry speaks HTTP (a loopback or configured
    insecure one). Raises BuildError when a tool fails: the image is pushed but unproven."""
    log.add_secret(key.password)
    with tempfile.TemporaryDirectory(prefix="s2i-bot-attest-") as tmp:
        work = Path(tmp)
        config = work / "docker"
        config.mkdir(mode=0o700)
        shutil.copy(registry_auth, config / "config.json")
        env = os.environ | {
            "DOCKER_CONFIG": str(config),
            # cosign and syft keep caches under HOME and syft unpacks the image's layers in
            # TMPDIR: this build's own directory, writable where the root filesystem is not
            # (a Job's read-only runner container: /tmp is an emptyDir there).
            "HOME": str(work),
            "TMPDIR": str(work),
            "SYFT_CHECK_FOR_APP_UPDATE": "false",
            "COSIGN_PASSWORD": key.password,
        }
        if plain_http:
            env["SYFT_REGISTRY_INSECURE_USE_HTTP"] = "true"
        sbom = work / "sbom.spdx.json"
        provenance = work / "provenance.json"
        provenance.write_text(json.dumps(predicate))
        log.line(f"---> Listing what {image} holds (syft, SPDX)")
        scan = [tools.syft, "scan", f"registry:{image}", "-q", "-o", f"spdx-json={sbom}"]
        if not run_step(scan, log, env=env).ok:
            raise BuildError(f"syft could not list the packages of {image}")
        log.line(f"---> Signing {image} and attaching its SBOM and provenance (cosign)")
        # No TUF signing config, no transparency log: the operator's key alone signs.
        common = ["--yes", "--key", str(key.key_file), "--use-signing-config=false",
                  "--tlog-upload=false"]  # fmt: skip
        common += ["--allow-http-registry"] if plain_http else []
        steps = [
            ([tools.cosign, "sign", *common, image], "sign"),
            ([tools.cosign, "attest", *common, "--type", "spdxjson", "--predicate", str(sbom),
              image], "attach the SBOM to"),
            ([tools.cosign, "attest", *common, "--type", "slsaprovenance1", "--predicate",
              str(provenance), image], "attach the provenance to"),
        ]  # fmt: skip
        for argv, what in steps:
            if not run_step(argv, log, env=env).ok:
                raise BuildError(f"cosign could not {what} {image}")
