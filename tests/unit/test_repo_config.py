import pytest

from bot.repo_config import RepoConfigError, parse_repo_config

TEMPLATES = {"go", "python"}

GOOD = """\
builds:
  - name: web
    template: go
    image: 127.0.0.1:5000/acme/web
    branches: [main, "release/*"]
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(RepoConfigError) as info:
        parse_repo_config(text, templates=TEMPLATES)
    return [str(e) for e in info.value.errors]


def test_a_valid_file_gives_its_builds() -> None:
    config = parse_repo_config(GOOD, templates=TEMPLATES)
    (build,) = config.builds
    assert (build.name, build.template, build.image) == ("web", "go", "127.0.0.1:5000/acme/web")
    assert build.branches == ("main", "release/*")
    assert build.line == 2


def test_an_unknown_key_is_reported_with_its_line_column_and_the_allowed_keys() -> None:
    text = GOOD.replace("    image:", "    imag:")
    assert errors_of(text) == [
        "line 2, column 5: missing required key 'image'",
        "line 4, column 5: unknown key 'imag'; allowed: name, template, image, branches",
    ]


def test_an_unknown_template_lists_the_known_ones() -> None:
    assert errors_of(GOOD.replace("template: go", "template: rust")) == [
        "line 3, column 15: unknown template 'rust'; known: go, python"
    ]


def test_invalid_yaml_is_reported_at_the_position_of_the_problem() -> None:
    (error,) = errors_of("builds:\n  - name: web\n   template: go\n")
    assert error.startswith("line 3, column 4: invalid YAML")


def test_every_error_is_reported_not_only_the_first() -> None:
    text = """\
builds:
  - name: Web_1
    template: go
    image: UPPER/case
    branches: []
  - name: ok
"""
    errors = errors_of(text)
    assert "line 2, column 11: name 'Web_1' must be lower-case letters, digits and '-'" in errors
    assert any(e.startswith("line 4, column 12: 'UPPER/case' is not an image") for e in errors)
    assert "line 5, column 15: 'branches' must be a non-empty list of branch globs" in errors
    assert "line 6, column 5: missing required key 'template'" in errors


def test_duplicate_build_names_are_refused() -> None:
    text = GOOD + GOOD.removeprefix("builds:\n")
    assert errors_of(text) == ["line 6, column 5: build name 'web' is used twice"]


def test_an_empty_file_or_a_list_is_refused() -> None:
    assert errors_of("") == ["line 1, column 1: the file is empty; expected 'builds:'"]
    assert errors_of("- a\n") == ["line 1, column 1: expected a mapping with the key 'builds'"]


def test_the_error_message_names_the_file() -> None:
    with pytest.raises(RepoConfigError) as info:
        parse_repo_config("x: 1\n", templates=TEMPLATES, path=".s2i.yaml")
    assert str(info.value).startswith(".s2i.yaml line 1, column 1: unknown key 'x'")
