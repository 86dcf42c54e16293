"""Why a build failed, per builder: a sample of each language broken on purpose, built by
`s2i-bot build` with the real s2i, engine and builder images. The reason it reports (the
reason a commit status, check run and PR comment show) names the failing s2i script and the
tool's own first error line: the compiler's, pip's, npm's, javac's, never the engine's
"returned a non-zero code" (bot/failure_reason.py)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.support.apps import APPS
from tests.support.bot_process import REPO_ROOT
from tests.support.names import unique
from tests.support.testenv import ProvisionedEnv

pytestmark = pytest.mark.e2e


def _go(root: Path) -> None:
    main = root / "main.go"
    main.write_text(main.read_text().replace("greet.Hello(", "greet.Helo("))


def _python(root: Path) -> None:
    with (root / "requirements.txt").open("a") as requirements:
        requirements.write("nosuchpackage-s2ibot-zz==9.9.9\n")


def _node(root: Path) -> None:
    (root / "package-lock.json").unlink()  # npm install, as without a lockfile
    package = json.loads((root / "package.json").read_text())
    package["dependencies"]["nosuchpackage-s2ibot-zz"] = "9.9.9"
    (root / "package.json").write_text(json.dumps(package))


def _java(root: Path) -> None:
    main = root / "src" / "main" / "java" / "hello" / "Main.java"
    main.write_text(main.read_text().replace("System.out.println", "System.outt.println"))


@pytest.mark.parametrize(
    ("template", "app", "breaks", "reason"),
    [
        ("go", "go-hello", _go, r"assemble failed: main\.go:\d+:\d+: undefined: greet\.Helo"),
        ("python", "python-hello", _python,
         r"assemble-dependencies failed: (ERROR: )?Could not find a version that satisfies the "
         r"requirement "
         r"nosuchpackage-s2ibot-zz==9\.9\.9.*"),
        ("nodejs", "node-hello", _node,
         r"assemble failed: 404 Not Found - GET https://registry\.npmjs\.org/"
         r"nosuchpackage-s2ibot-zz.*"),
        ("java", "java-hello", _java,
         r"assemble failed: src/main/java/hello/Main\.java:\d+:\d+: cannot find symbol"),
    ],
)  # fmt: skip
def test_a_broken_sample_fails_naming_the_script_and_the_tools_first_error(
    template: str, app: str, breaks: Callable[[Path], None], reason: str,
    testenv: ProvisionedEnv, tmp_path: Path,
) -> None:  # fmt: skip
    root = tmp_path / app
    shutil.copytree(APPS / app, root)
    breaks(root)
    image = f"{testenv.registry}/samples/{unique(app)}-broken"
    build = {"name": "web", "template": template, "image": image,
             "triggers": {"branches": ["main"]}}  # fmt: skip
    (root / ".s2i.yaml").write_text(yaml.safe_dump({"builds": [build]}))
    config = tmp_path / "bot.yaml"
    config.write_text(yaml.safe_dump({
        "templates_dir": str(REPO_ROOT / "config" / "templates"),
        "builder_registry": testenv.builder_registry,
        "registry_auth_file": str(testenv.auth_file(tmp_path)),
        "s2i": testenv.s2i,
    }))  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), "build", str(root)],
        capture_output=True, text=True, check=False, cwd=REPO_ROOT,
    )  # fmt: skip
    assert result.returncode != 0, result.stdout[-2000:]
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("web: failed: ")]
    assert re.fullmatch(reason, line.removeprefix("web: failed: ")), line
    assert "returned a non-zero code" not in line
