"""The builds the Job manifest tests render (bot/executors/job_manifest.py and the
unprivileged layout's pods), the cluster settings they render them for, and their golden
files (tests/unit/executors/golden; tests/support/golden.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.build_spec import BuildSpec, SourceSpec
from bot.settings import KubernetesSettings
from bot.templates import Artifact, RuntimeStage
from tests.support.golden import check_golden

GOLDEN = Path(__file__).resolve().parents[1] / "unit" / "executors" / "golden"
SHA = "0123456789abcdef0123456789abcdef01234567"
SPEC = BuildSpec(
    name="web",
    repo="Acme/hello-world",
    forge="github",
    source=SourceSpec(
        git_url="https://github.com/Acme/hello-world.git", sha=SHA, ref="refs/heads/main"
    ),
    template="go",
    builder_image="127.0.0.1:5000/s2i-bot/go:latest",
    runtime=RuntimeStage(
        image="127.0.0.1:5000/s2i-bot/go-runtime:latest",
        artifacts=(Artifact("/opt/app-root/app", "/opt/app-root"),),
    ),
    env={"CGO_ENABLED": "0"},
    image="registry.example.com/acme/hello-world",
    tags=("main", "0123456"),
)
# The buildah layout's Job with every other setting at its default (the default layout,
# `unprivileged`, is tests/unit/executors/test_unprivileged_pod.py's).
DEFAULTS = KubernetesSettings(layout="buildah")
TEST_CLUSTER = KubernetesSettings(
    layout="buildah",
    build_namespace="s2i-bot-e2e",
    runner_image="127.0.0.1:5000/s2i-bot/runner:latest",
    runner_image_pull_policy="Always",
    registry_secret="registry",
    resources={"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
    ttl_seconds_after_finished=300,
    host_network=True,
)


# The runner's tag as the executor resolved it (bot/executors/resolved_runner.py): what the
# Jobs of TEST_CLUSTER's goldens run; DEFAULTS' golden runs the tag (an unresolved runner).
RUNNER_DIGEST = "sha256:" + "cd" * 32
RUNNER_REF = f"127.0.0.1:5000/s2i-bot/runner@{RUNNER_DIGEST}"


def check_manifest(name: str, manifest: dict[str, Any]) -> None:
    text = yaml.safe_dump(manifest, sort_keys=False, width=100)
    check_golden(GOLDEN / name, text, parse=yaml.safe_load)
