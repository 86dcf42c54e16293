"""Looking at built images the way a user would: skopeo against the registry, docker run."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.support import http
from tests.support.testenv import ProvisionedEnv
from tests.support.wait import wait_until


def skopeo_inspect(env: ProvisionedEnv, image: str, *flags: str) -> Any:
    out = subprocess.run(
        ["skopeo", "inspect", *flags, "--tls-verify=false", "--creds", env.creds, f"docker://{image}"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout)


def diff_ids(env: ProvisionedEnv, image: str) -> list[str]:
    """The uncompressed layer ids: equal for equal layers, however they were compressed."""
    return list(skopeo_inspect(env, image, "--config")["rootfs"]["diff_ids"])


@contextlib.contextmanager
def running(env: ProvisionedEnv, image: str, port: int = 8080) -> Iterator[str]:
    """Pull and run image from the registry (with credentials); yield its HTTP base URL."""
    with tempfile.TemporaryDirectory() as config_dir:
        auth_dir = Path(config_dir)
        env.auth_file(auth_dir).rename(auth_dir / "config.json")
        docker = ["docker", "--config", config_dir]
        subprocess.run([*docker, "pull", "-q", image], check=True, capture_output=True)
        container = subprocess.run(
            [*docker, "run", "-d", "--rm", "-p", f"127.0.0.1::{port}", image],
            check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        try:
            mapped = subprocess.run(
                ["docker", "port", container, str(port)], check=True, capture_output=True, text=True
            ).stdout.split()[0]
            url = f"http://{mapped}"
            wait_until(lambda: _answers(url), timeout=30, what=f"{image} to answer on {url}")
            yield url
        finally:
            subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)


def run_to_end(env: ProvisionedEnv, image: str, *argv: str, entrypoint: str = "") -> str:
    """Pull image from the registry (with credentials), run it with a read-only root
    filesystem, as a build pod's runner containers do, until it exits; its stdout."""
    with tempfile.TemporaryDirectory() as config_dir:
        auth_dir = Path(config_dir)
        env.auth_file(auth_dir).rename(auth_dir / "config.json")
        docker = ["docker", "--config", config_dir]
        subprocess.run([*docker, "pull", "-q", image], check=True, capture_output=True)
        run = [*docker, "run", "--rm", "--read-only"]
        if entrypoint:
            run += ["--entrypoint", entrypoint]
        result = subprocess.run([*run, image, *argv], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return result.stdout


def _answers(url: str) -> bool:
    try:
        http.get(url, timeout=1)
    except httpx.TransportError:
        return False
    return True


def image_exists(env: ProvisionedEnv, image: str) -> bool:
    result = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", "--creds", env.creds,
         f"docker://{image}"],
        capture_output=True, check=False,
    )  # fmt: skip
    return result.returncode == 0


def relabelled(env: ProvisionedEnv, source: str, target: str, label: str) -> str:
    """`source` with one more label (`key=value`) written to the tag `target` with crane
    mutate, as a push of a new image under that tag would: its digest, new by construction."""
    with tempfile.TemporaryDirectory(prefix="crane-") as config_dir:
        auth = env.auth_file(Path(config_dir))
        auth.rename(Path(config_dir) / "config.json")
        subprocess.run(
            ["crane", "mutate", source, "--label", label, "--tag", target, "--insecure"],
            check=True, capture_output=True, text=True,
            env=os.environ | {"DOCKER_CONFIG": config_dir},
        )  # fmt: skip
    return str(skopeo_inspect(env, target)["Digest"])
