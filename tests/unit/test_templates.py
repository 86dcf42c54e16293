import subprocess
import sys
from pathlib import Path

import pytest

from bot.templates import TemplateError, load_templates

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_templates_load() -> None:
    templates = load_templates(REPO_ROOT / "config" / "templates")
    assert {"go", "python", "nodejs", "java", "static", "binary"} <= templates.keys()
    go = templates["go"]
    assert go.runtime is not None and go.runtime.artifacts[0].source == "/opt/app-root/app"


def test_a_broken_template_names_the_file_and_the_reason(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text("name: ok\nbuilder: s2i-bot/ok\n")
    (tmp_path / "bad.yaml").write_text("name: bad\nbuilder: s2i-bot/bad\nruntime: {image: x}\n")
    with pytest.raises(
        TemplateError, match=r"(?s)bad\.yaml: invalid builder template: .*runtime\.artifacts"
    ):
        load_templates(tmp_path)


def test_the_bot_does_not_start_with_a_broken_template(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("name: bad\nbuildr: typo\n")
    config = tmp_path / "bot.yaml"
    config.write_text(f"templates_dir: {tmp_path}\ndata_dir: {tmp_path / 'var'}\n")
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), "serve"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert f"{tmp_path / 'bad.yaml'}: invalid builder template" in result.stderr
