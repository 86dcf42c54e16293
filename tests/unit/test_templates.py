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


def test_a_template_whose_images_or_artifacts_could_change_the_dockerfile_stops_the_start(
    tmp_path: Path,
) -> None:
    for bad in (
        'builder: "s2i-bot/go:latest\\nUSER root"\n',  # a YAML escape: a real newline
        "builder: s2i-bot/go:latest\nruntime: {image: 'a b', artifacts: ['/a:/b']}\n",
        "builder: s2i-bot/go:latest\nruntime: {image: x, artifacts: ['/a/$HOME:/b']}\n",
    ):
        (tmp_path / "go.yaml").write_text("name: go\n" + bad)
        with pytest.raises(TemplateError, match=r"go\.yaml: invalid builder template"):
            load_templates(tmp_path)
