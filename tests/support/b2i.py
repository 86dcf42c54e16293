"""A B2I build's parts, for the tests that build one (the local executor's, a Job's): the
`.s2i.yaml` of a `binary` build, a release asset holding a static Go binary, and the signed
`release` webhook that publishes it."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import httpx

from tests.fakes.github import FakeRepo
from tests.fakes.webhooks import github_headers, release_payload
from tests.support.apps import APPS
from tests.support.bot_process import RunningBot
from tests.support.forges import WEBHOOK_SECRET

# The fake GitHub serves its API on 127.0.0.1 and its asset storage as localhost; B2I
# downloads reach a loopback address only where the operator allows it (bot/runner/artifact.py).
ARTIFACT_HOSTS = ["127.0.0.1", "localhost"]


def config(image: str, binary: str) -> str:
    return (
        f"builds:\n  - name: cli\n    template: binary\n    image: {image}\n"
        f"    binary: {binary}\n"
        "    triggers: {releases: true, branches: [main]}\n"
    )


def hello_tarball(tmp_path: Path) -> bytes:
    binary = tmp_path / "hello"
    subprocess.run(
        ["go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(binary), "."],
        cwd=APPS / "binary-hello", check=True, env=os.environ | {"CGO_ENABLED": "0"},
    )  # fmt: skip
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        tar.add(binary, arcname="hello")
    return out.getvalue()


def publish(bot: RunningBot, repo: FakeRepo, release_id: int) -> None:
    body = json.dumps(release_payload(repo, release_id)).encode()
    headers = github_headers("release", body, WEBHOOK_SECRET)
    response = httpx.post(f"{bot.url}/webhooks/github", content=body, headers=headers, timeout=10)
    assert response.status_code == 202, response.text
