"""The builder catalogue: each template's sample app, built by `s2i-bot build` (the bot's own
runner, the real s2i and docker), pushed to the registry, run, and asked for its page."""

from __future__ import annotations

import json
import os
import re
import shlex
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
from tests.support.names import unique
from tests.support.testenv import ProvisionedEnv

pytestmark = pytest.mark.e2e
_BUILT = re.compile(r"^web: (?P<image>\S+)@(?P<digest>sha256:[0-9a-f]{64})", re.MULTILINE)


def s2i_build(env: ProvisionedEnv, tree: Path, tmp_path: Path, *extra: str) -> tuple[str, str]:
    """`s2i-bot build` on a working tree; the image and digest it reports."""
    image, digest, _ = s2i_build_log(env, tree, tmp_path, *extra)
    return image, digest


def s2i_build_log(
    env: ProvisionedEnv, tree: Path, tmp_path: Path, *extra: str
) -> tuple[str, str, str]:
    """`s2i-bot build` on a working tree; the image and digest it reports, and its log."""
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
    return match.group("image"), match.group("digest"), result.stdout


def tree(
    tmp_path: Path, app: str, template: str, image: str, incremental: bool | None = None
) -> Path:
    root = tmp_path / app
    shutil.copytree(APPS / app, root)
    build: dict[str, object] = {"name": "web", "template": template, "image": image,
                                "triggers": {"branches": ["main"]}}  # fmt: skip
    if incremental is not None:
        build["incremental"] = incremental
    config = {"builds": [build]}
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
    image = f"{testenv.registry}/{unique(f'samples/{app}')}"
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
    image = f"{testenv.registry}/{unique(f'samples/{app}-slim')}"
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
    image = f"{testenv.registry}/{unique('samples/binary-hello')}"
    config = {"builds": [{"name": "web", "template": "binary", "image": image,
                          "triggers": {"branches": ["main"]}}]}  # fmt: skip
    (root / ".s2i.yaml").write_text(yaml.safe_dump(config))
    _, digest = s2i_build(testenv, root, tmp_path)
    with running(testenv, f"{image}@{digest}") as url:
        assert "Hello from a prebuilt binary" in httpx.get(url, timeout=10).text


@pytest.mark.parametrize(
    ("template", "app", "restored"),
    [
        # With a runtime image: the builder stage is kept as a cache image for the next build.
        ("go", "go-hello", "Restoring Go build cache from a previous build"),
        # Without: its dependencies are in their own layer, which the engine's cache reuses
        # (the dependency layer, bot/runner/dependency_layer.py).
        ("python", "python-hello", "Dependencies installed in their own layer"),
    ],
)
def test_an_incremental_build_falls_back_to_clean_then_reuses_the_previous_build(
    template: str, app: str, restored: str, testenv: ProvisionedEnv, tmp_path: Path
) -> None:
    image = f"{testenv.registry}/samples/{unique(app)}-incremental"
    root = tree(tmp_path, app, template, image, incremental=True)
    _, first, log = s2i_build_log(testenv, root, tmp_path)
    assert "no previous build: a clean build" in log
    main = next(p for p in root.iterdir() if p.suffix in (".go", ".py"))
    comment = "//" if main.suffix == ".go" else "#"
    main.write_text(main.read_text() + f"\n{comment} a one-line change\n")
    _, second, log = s2i_build_log(testenv, root, tmp_path)
    assert "incremental build: save-artifacts of the previous build are restored" in log
    assert restored in log
    assert first != second
    with running(testenv, f"{image}@{second}") as url:
        assert "Hello" in httpx.get(url, timeout=10).text


def test_the_go_builder_saves_a_cache_entry_made_in_the_second_its_build_started(
    testenv: ProvisionedEnv, tmp_path: Path
) -> None:
    # An image's layers keep modification times in whole seconds, so once the built image is
    # committed an entry written in the same second as save-artifacts' "build started"
    # marker is no newer than the marker: a fast build saved no cache at all (issue 12).
    # The entry here is dated the first instant the build could have written one (when
    # assemble started, or when it marked the start if that came later) by a `go` that
    # wraps the real one, as the build makes it; the image is then committed and
    # save-artifacts run in it.
    container = unique("go-assemble")
    src = tmp_path / "src"
    shutil.copytree(APPS / "go-hello", src)
    src.chmod(0o755)
    wrapper = (
        '#!/bin/sh\n/usr/bin/go "$@" || exit $?\n'
        '[ "$1" = build ] || exit 0\n'
        "marked=$(stat -c %.9Y /opt/app-root/.s2i-build-started)\n"
        'first=$(printf \'%s\\n%s\\n\' "$STARTED" "$marked" | sort -g | tail -1)\n'
        "entry=$(find \"$HOME/.cache/go-build\" -type f -name '*-d' ! -newermt 2099-01-01"
        " | head -1)\n"
        'touch -d "@$first" "$entry"; echo "${entry#$HOME/}" >/tmp/entry\n'
    )
    script = (
        "set -eu; cp -r /tmp/in/. /tmp/src; mkdir /tmp/bin; "
        f"printf '%s' {shlex.quote(wrapper)} >/tmp/bin/go; chmod +x /tmp/bin/go; "
        "STARTED=$(date +%s.%N) PATH=/tmp/bin:$PATH /usr/libexec/s2i/assemble; cat /tmp/entry"
    )
    image = f"s2i-bot-test/{container}"
    try:
        made = subprocess.run(
            ["docker", "run", "--name", container, "-v", f"{src}:/tmp/in:ro",
             testenv.images["go"], "sh", "-c", script],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        entry = made.stdout.strip().splitlines()[-1]
        assert entry.startswith(".cache/go-build/"), made.stdout
        subprocess.run(["docker", "commit", container, image], capture_output=True, check=True)
        saved = subprocess.run(
            ["sh", "-c", f"docker run --rm {image} /usr/libexec/s2i/save-artifacts"
                         " | tar -xOf - gocache.tar.zst | zstd -dc | tar -tf -"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert entry in saved.stdout.splitlines(), (entry, saved.stdout[:2000])
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)
        subprocess.run(["docker", "rmi", "-f", image], capture_output=True, check=False)


def layers(env: ProvisionedEnv, image: str) -> list[str]:
    """The layer digests of the image's manifest in the registry (what a push uploads)."""
    return [layer["digest"] for layer in skopeo_inspect(env, image, "--raw")["layers"]]


def in_image(image: str, *argv: str) -> str:
    """What argv prints in a container of the image (pulled by `running` before)."""
    return subprocess.run(["docker", "run", "--rm", image, *argv], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip


NPM_LOCK_MS_2_1_2 = {
    "node_modules/ms": {
        "version": "2.1.2",
        "resolved": "https://registry.npmjs.org/ms/-/ms-2.1.2.tgz",
        "integrity": "sha512-sGkPx+VjMtmA6MX27oA4FBFELFCZZ4S4XqeGOXCv68tT+"
        "jb3vk/RyaKWP0PTKyWtmLSM0b+adUTEvbs1PEaH2w==",
    },
}


def mark_dependencies(root: Path, template: str, mark: str) -> None:
    """Make the sample's dependency files name `mark` (a comment, a description)."""
    if template == "python":
        path = root / "requirements.txt"
        path.write_text(f"# {mark}\n{path.read_text()}")
        return
    package = json.loads((root / "package.json").read_text()) | {"description": mark}
    (root / "package.json").write_text(json.dumps(package, indent=2) + "\n")


def change_dependencies(root: Path, template: str) -> None:
    """A new version of the sample's dependencies: python adds one to requirements.txt, node
    pins ms 2.1.2 in package.json and package-lock.json."""
    if template == "python":
        path = root / "requirements.txt"
        path.write_text(path.read_text() + "packaging==24.1\n")
        return
    package = json.loads((root / "package.json").read_text())
    package["dependencies"]["ms"] = "2.1.2"
    (root / "package.json").write_text(json.dumps(package, indent=2) + "\n")
    lock = json.loads((root / "package-lock.json").read_text())
    lock["packages"][""]["dependencies"]["ms"] = "2.1.2"
    lock["packages"].update(NPM_LOCK_MS_2_1_2)
    (root / "package-lock.json").write_text(json.dumps(lock, indent=2) + "\n")


@pytest.mark.parametrize(
    ("template", "app", "installed", "installs", "version"),
    [
        ("python", "python-hello", "not running pip for requirements.txt",
         "Dependency layer: installing requirements.txt",
         ["python", "-c", "import packaging; print(packaging.__version__)"]),
        ("nodejs", "node-hello", "not running npm", "Dependency layer: npm ci",
         ["node", "-p", "require('ms/package.json').version"]),
    ],
)  # fmt: skip
def test_the_dependency_layer_is_reused_while_the_lockfile_is_unchanged_and_reinstalled_after(
    template: str, app: str, installed: str, installs: str, version: list[str],
    testenv: ProvisionedEnv, tmp_path: Path,
) -> None:  # fmt: skip
    image = f"{testenv.registry}/samples/{unique(app)}-deps"
    root = tree(tmp_path, app, template, image, incremental=True)
    # Dependency files of its own: the engine's cache holds no dependency layer of another
    # build of the same sample.
    mark_dependencies(root, template, image)
    builder = len(layers(testenv, f"{testenv.builder_registry}/s2i-bot/{template}:latest"))
    _, first, log = s2i_build_log(testenv, root, tmp_path)
    assert installs in log and installed in log
    main = next(p for p in root.iterdir() if p.suffix in (".py", ".js"))
    comment = "#" if main.suffix == ".py" else "//"
    main.write_text(main.read_text() + f"\n{comment} a one-line change\n")
    _, second, log = s2i_build_log(testenv, root, tmp_path)
    # The dependency files' COPY and assemble-dependencies: the same layers, from the
    # engine's cache, with the same digests in the registry (the push found them there).
    assert re.search(r"RUN /usr/libexec/s2i/assemble-dependencies\n ---> Using cache\n", log), log
    assert installs not in log and installed in log
    deps = slice(builder, builder + 2)
    assert layers(testenv, f"{image}@{first}")[deps] == layers(testenv, f"{image}@{second}")[deps]
    assert layers(testenv, f"{image}@{first}") != layers(testenv, f"{image}@{second}")
    with running(testenv, f"{image}@{second}") as url:
        assert "Hello" in httpx.get(url, timeout=10).text

    change_dependencies(root, template)
    _, third, log = s2i_build_log(testenv, root, tmp_path)
    assert installs in log and installed in log
    assert layers(testenv, f"{image}@{third}")[deps] != layers(testenv, f"{image}@{second}")[deps]
    with running(testenv, f"{image}@{third}") as url:
        assert "Hello" in httpx.get(url, timeout=10).text
    assert in_image(f"{image}@{third}", *version) == {"python": "24.1", "nodejs": "2.1.2"}[template]
