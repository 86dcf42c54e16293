"""Values that reach the runner's Dockerfile, argv or file system are refused when
.s2i.yaml is read, each error naming its line: a context leaving the checkout, a control
character anywhere, an image, artifact, env name or URL in a shape the runner would refuse."""

from __future__ import annotations

import pytest
import yaml

from bot.repo_config import RepoConfigError, parse_repo_config

TEMPLATES = ["go", "static", "binary"]


def config(**build: object) -> str:
    entry = {"name": "web", "template": "static", "image": "registry.example.com/acme/web",
             "triggers": {"branches": ["main"]}} | build  # fmt: skip
    return yaml.safe_dump({"builds": [entry]}, sort_keys=False)


def errors(text: str) -> list[str]:
    with pytest.raises(RepoConfigError) as raised:
        parse_repo_config(text, templates=TEMPLATES)
    return [str(e) for e in raised.value.errors]


@pytest.mark.parametrize("context", ["..", "../../secrets", "a/../../b", "/etc", "/services/web"])
def test_a_context_leaving_the_checkout_is_refused_at_its_line(context: str) -> None:
    (error,) = errors(config(context=context))
    assert error == (
        "line 8, column 12: 'context': must be a relative path inside the repository, without "
        "a leading / or '..' (the sub-directory to build, for monorepos)"
    )


def test_a_relative_context_is_kept_without_its_trailing_slash() -> None:
    (build,) = parse_repo_config(config(context="services/web/"), templates=TEMPLATES).builds
    assert build.context == "services/web"


INJECTED = "\nUSER root\nRUN id"


@pytest.mark.parametrize(
    ("build", "field"),
    [
        ({"runtime": {"image": f"s2i-bot/x:1{INJECTED}"}}, "image"),
        ({"runtime": {"image": "s2i-bot/x:1", "artifacts": [f"/a{INJECTED}:/b"]}}, "artifacts"),
        ({"env": {f"A{INJECTED}": "1"}}, "A\\nUSER root\\nRUN id"),
        ({"env": {"A": f"1{INJECTED}"}}, "A"),
        ({"context": f"web{INJECTED}"}, "context"),
        ({"template": "binary", "binary": {"url": f"https://example.com/x{INJECTED}"}}, "url"),
        ({"name": "web\n"}, "name"),
        ({"image": "registry.example.com/acme/web\n"}, "image"),
    ],
)
def test_a_control_character_in_any_value_is_refused_naming_the_field(
    build: dict[str, object], field: str
) -> None:
    found = errors(config(**build))
    assert any(f"'{field}' must not contain control characters (found U+000A)" in e for e in found)
    assert all(e.startswith("line ") for e in found)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        ({"runtime": {"image": "Registry/App WITH spaces"}},
         "'image': must be an image reference like"),
        ({"runtime": {"image": "s2i-bot/x:1", "artifacts": ["/a/$HOME:/b"]}},
         "'artifacts': must be /source/in/builder:destination-dir"),
        ({"env": {"A": "1", "B-C": "2"}}, "'B-C' does not match"),
        ({"template": "binary", "binary": {"url": "https://user:pw@example.com/x"}},
         "'url': must be an http:// or https:// URL, without user:password@"),
    ],
)  # fmt: skip
def test_a_value_the_runner_would_refuse_is_refused_when_the_file_is_read(
    build: dict[str, object], message: str
) -> None:
    assert any(message in e for e in errors(config(**build)))


def test_quotes_dollars_and_backslashes_in_env_values_are_fine() -> None:
    (build,) = parse_repo_config(
        config(env={"GREETING": 'say "hi" for $5 \\o/'}), templates=TEMPLATES
    ).builds
    assert build.env["GREETING"] == 'say "hi" for $5 \\o/'
