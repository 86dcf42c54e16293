"""The wheel as users get it: built from this tree, pip installed with its dependencies into a
fresh virtualenv, and `s2i-bot validate`, `templates` and `schema` run in an application's
repository outside the checkout. `s2i-bot build` from the same install, which needs the engine
and the registry, is in tests/e2e/test_installed_wheel_build.py.

An end-to-end installation test, so marked e2e: building the wheel takes setuptools from the
package index (pip's build isolation, scripts/wheel.sh) and the install takes some forty
dependencies from the index or the wheelhouse scripts/ keep under $S2I_DEV_CACHE, tens of
seconds that `pytest -m "not e2e"` (a minute at most, with nothing but the venv) cannot spend.
It runs in CI (scripts/test) with the rest of tests/e2e."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from bot.templates import load_templates
from tests.support.bot_process import REPO_ROOT
from tests.support.installed_wheel import InstalledWheel, application_repository, installed_wheel

pytestmark = pytest.mark.e2e

WEB: dict[str, object] = {
    "name": "web",
    "template": "go",
    "image": "registry.example.com/acme/web",
    "triggers": {"branches": ["main"], "tags": ["v*"]},
}


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> InstalledWheel:
    return installed_wheel(tmp_path_factory.getbasetemp() / "installed-wheel")


def test_the_wheel_carries_every_module_the_templates_the_schema_and_the_pages_assets(
    installed: InstalledWheel,
) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    expected = {str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / "bot").rglob("*.py")}
    # The build page's CSS and JavaScript, which the bot serves itself (/assets/).
    assets = [p for p in (REPO_ROOT / "bot" / "web" / "assets").iterdir() if p.is_file()]
    assert assets
    expected |= {str(p.relative_to(REPO_ROOT)) for p in assets}
    templates = (REPO_ROOT / "config" / "templates").glob("*.yaml")
    expected |= {f"bot/_config/templates/{p.name}" for p in templates}
    expected.add("bot/schema/s2i.schema.json")
    assert expected - names == set()
    assert len([n for n in names if n.startswith("bot/_config/templates/")]) >= 6


def test_the_installed_command_runs_the_installed_package_not_the_checkout(
    installed: InstalledWheel, tmp_path: Path
) -> None:
    result = installed.s2i_bot("--help", cwd=tmp_path)
    assert result.returncode == 0 and "validate" in result.stdout
    where = subprocess.run(
        [str(installed.python), "-c", "import bot; print(bot.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert where.startswith(str(installed.venv)), where


def test_validate_in_an_application_repository_checks_it_against_the_bundled_templates(
    installed: InstalledWheel, tmp_path: Path
) -> None:
    app = application_repository(tmp_path / "app", [WEB])
    result = installed.s2i_bot("validate", cwd=app)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (
        ".s2i.yaml: build 'web' (go) -> registry.example.com/acme/web on branch, tag\n"
    )


def test_validate_reports_a_broken_file_with_its_line_and_exit_1(
    installed: InstalledWheel, tmp_path: Path
) -> None:
    app = application_repository(tmp_path / "app", [WEB | {"template": "cobol"}])
    result = installed.s2i_bot("validate", cwd=app)
    assert result.returncode == 1
    assert result.stderr.startswith(
        ".s2i.yaml line 3, column 13: unknown template 'cobol'; known: "
    )
    assert ", go, " in result.stderr  # the bundled templates are the known ones
    assert "Traceback" not in result.stderr


def test_validate_without_a_file_says_which_file_it_looked_for(
    installed: InstalledWheel, tmp_path: Path
) -> None:
    result = installed.s2i_bot("validate", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        "s2i-bot: .s2i.yaml: cannot read it: No such file or directory; run `s2i-bot validate` "
        "in the repository's root, or name the file\n"
    )


def test_templates_lists_the_bundled_templates(installed: InstalledWheel, tmp_path: Path) -> None:
    result = installed.s2i_bot("templates", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    listed = {line.split()[0] for line in result.stdout.splitlines() if not line.startswith(" ")}
    assert listed == set(load_templates(REPO_ROOT / "config" / "templates"))


def test_templates_dir_replaces_the_bundled_templates(
    installed: InstalledWheel, tmp_path: Path
) -> None:
    own = tmp_path / "templates"
    own.mkdir()
    (own / "ruby.yaml").write_text("name: ruby\nbuilder: registry.example.com/ruby:3\n")
    result = installed.s2i_bot("templates", cwd=tmp_path, env={"S2I_BOT_TEMPLATES_DIR": str(own)})
    assert (result.returncode, result.stdout) == (0, "ruby       registry.example.com/ruby:3\n")


def test_schema_prints_the_json_schema(installed: InstalledWheel, tmp_path: Path) -> None:
    result = installed.s2i_bot("schema", cwd=tmp_path)
    assert result.returncode == 0
    shipped = json.loads((REPO_ROOT / "bot" / "schema" / "s2i.schema.json").read_text())
    assert json.loads(result.stdout) == shipped


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ({"S2I_BOT_PORT": "http"}, "s2i-bot: S2I_BOT_PORT: port: Input should be a valid integer"),
        ({"S2I_BOT_TEMPLATES_DIR": "/nonexistent"}, "s2i-bot: /nonexistent: templates_dir is not"),
        (
            {"--config": "bot.yaml", "bot.yaml": "port: [8080\n"},
            "s2i-bot: bot.yaml: not valid YAML",
        ),
        ({"--config": "missing.yaml"}, "s2i-bot: missing.yaml: cannot read the settings file"),
    ],
)
def test_unusable_settings_stop_validate_with_one_message_and_exit_2(
    installed: InstalledWheel, tmp_path: Path, setup: dict[str, str], message: str
) -> None:
    app = application_repository(tmp_path / "app", [WEB])
    env = {k: v for k, v in setup.items() if k.startswith("S2I_BOT_")}
    args = ["--config", setup["--config"]] if "--config" in setup else []
    if "bot.yaml" in setup:
        (app / "bot.yaml").write_text(setup["bot.yaml"])
    result = installed.s2i_bot(*args, "validate", cwd=app, env=env)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(message) and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["validate", "templates", "build", "serve"])
def test_a_script_variable_in_the_environment_is_named_by_every_command(
    installed: InstalledWheel, tmp_path: Path, command: str
) -> None:
    """What scripts/ documented before they read S2I_DEV_*: each command that reads settings
    names the variable, lists the settings and stops (exit 2) before doing anything."""
    app = application_repository(tmp_path / "app", [WEB])
    result = installed.s2i_bot(command, cwd=app, env={"S2I_BOT_STATE": "/var/lib/s2i-bot-dev"})
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(
        "s2i-bot: S2I_BOT_STATE: unknown setting 'state'; known: host, port, "
    )
    assert result.stderr.count("\n") == 1
