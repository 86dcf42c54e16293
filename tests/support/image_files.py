"""What an image holds, read from the registry like any puller would, and searched for
secrets: every file of every layer (a secret written by one layer and deleted by the next is
still in the image), in every form the build log masks (bot/runner/secret_masks.py)."""

from __future__ import annotations

import json
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

from bot.runner.secret_masks import secret_forms
from tests.support.testenv import ProvisionedEnv


def image_files(env: ProvisionedEnv, image: str) -> dict[str, bytes]:
    """path -> content of every regular file in every layer of image (later layers win)."""
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        copied = subprocess.run(
            ["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--src-creds", env.creds,
             f"docker://{image}", f"dir:{tmp}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert copied.returncode == 0, copied.stderr
        manifest = json.loads((Path(tmp) / "manifest.json").read_text())
        for layer in manifest["layers"]:
            blob = Path(tmp) / layer["digest"].split(":", 1)[1]
            with tarfile.open(blob, mode="r:*") as tar:
                for member in tar:
                    if member.isfile():
                        data = tar.extractfile(member)
                        assert data is not None
                        files[f"{layer['digest'][7:19]}:{member.name}"] = data.read()
    return files


def secrets_in(files: Mapping[str, bytes], secrets: Mapping[str, str]) -> list[str]:
    """'<what> in <file>' for every secret (name -> value) found in a file, in any form."""
    found = []
    for what, value in secrets.items():
        forms = [f.encode() for f in secret_forms(value)]
        for path, data in files.items():
            if any(form in data for form in forms):
                found.append(f"{what} in {path}")
    return found
