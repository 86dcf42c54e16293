"""The builder catalogue: each template's sample app, built by `s2i-bot build` (the bot's own
runner, the real s2i and docker), pushed to the registry, run, and asked for its page."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.apps import APPS
from tests.support.bot_process import REPO_ROOT
from tests.support.images import diff_ids, running, skopeo_inspect
from tests.support.testenv import ProvisionedEnv

pytestmark = pytest.mark.e2e
_BUILT = re.compile(r"^web: (?P<image>\S+)@(?P<digest>sha256:[0-9a-f]{64})", re.MULTILINE)


def s2i_build(env: ProvisionedEnv, tree: Path, tmp_path: Path, *extra: str) -> tuple[str, str]:
    """`s2i-bot build` on a working tree; the image and digest it reports."""
    config = tmp_path / "bot.yaml"
    config.write_text(yaml.safe_dump({
        "templates_dir": str(REPO_ROOT / "config" / "templates"),
        "builder_registry": env.builder_registry,
        "registry_auth_file": str(env.auth_file(tmp_path)),
        "s2i": env.s2i,
    }))  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), "build", str(tree), *extra],
        capture_output=True, text=True, check=False, cwd=REPO_ROOT,
    )  # fmt: skip
    match = _BUILT.search(result.stdout)
    assert result.returncode == 0 and match, result.stdout[-3000:] + result.stderr[-2000:]
    return match.group("image"), match.group("digest")


def tree(tmp_path: Path, app: str, template: str, image: str) -> Path:
    root = tmp_path / app
    shutil.copytree(APPS / app, root)
    config = {"builds": [{"name": "web", "template": template, "image": image,
                          "triggers": {"branches": ["main"]}}]}  # fmt: skip
    (root / ".s2i.yaml").write_text(yaml.safe_dump(config))
    return root


@pytest.mark.parametrize(
    ("template", "app", "greeting"),
    [
        ("go", "go-hello", "Hello, s2i-bot!"),
        ("python", "python-hello", "Hello from Python"),
        ("nodejs", "node-hello", "Hello from Node.js"),
        ("java", "java-hello", "Hello from Java"),
        ("static", "static-hello", "Hello from a static HTML site"),
    ],
)
def test_each_template_builds_its_sample_into_an_image_that_answers(
    template: str, app: str, greeting: str, testenv: ProvisionedEnv, tmp_path: Path
) -> None:
    image = f"{testenv.registry}/samples/{app}"
    built, digest = s2i_build(testenv, tree(tmp_path, app, template, image), tmp_path)
    assert built == image
    assert skopeo_inspect(testenv, f"{image}:local")["Digest"] == digest
    with running(testenv, f"{image}@{digest}") as url:
        assert greeting in httpx.get(url, timeout=10).text


@pytest.mark.parametrize(("template", "builder"), [("go", "go"), ("java", "java")])
def test_runtime_templates_ship_the_slim_runtime_image_not_the_builder(
    template: str, builder: str, testenv: ProvisionedEnv, tmp_path: Path
) -> None:
    app = f"{template}-hello"
    image = f"{testenv.registry}/samples/{app}-slim"
    _, digest = s2i_build(testenv, tree(tmp_path, app, template, image), tmp_path)
    layers = diff_ids(testenv, f"{image}@{digest}")
    runtime = diff_ids(testenv, testenv.images[f"{builder}-runtime"])
    assert layers[: len(runtime)] == runtime
    assert not (set(diff_ids(testenv, testenv.images[builder])) - set(runtime)) & set(layers)


def test_b2i_installs_a_prebuilt_binary(testenv: ProvisionedEnv, tmp_path: Path) -> None:
    root = tmp_path / "binary"
    root.mkdir()
    subprocess.run(
        ["go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(root / "hello"), "."],
        cwd=APPS / "binary-hello", check=True, env=os.environ | {"CGO_ENABLED": "0"},
    )  # fmt: skip
    image = f"{testenv.registry}/samples/binary-hello"
    config = {"builds": [{"name": "web", "template": "binary", "image": image,
                          "triggers": {"branches": ["main"]}}]}  # fmt: skip
    (root / ".s2i.yaml").write_text(yaml.safe_dump(config))
    _, digest = s2i_build(testenv, root, tmp_path)
    with running(testenv, f"{image}@{digest}") as url:
        assert "Hello from a prebuilt binary" in httpx.get(url, timeout=10).text
