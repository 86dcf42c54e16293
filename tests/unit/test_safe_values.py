"""Anchored checks for every value that reaches a Dockerfile, an argv or a path."""

from __future__ import annotations

import pytest

from bot.safe_values import (
    artifact_problem,
    artifact_url_problem,
    context_problem,
    env_name_problem,
    env_value_problem,
    file_name_problem,
    image_problem,
    user_problem,
)

NEWLINES = ["\n", "\r", "\x00", "\x1b", "\x7f", "\x85", "\u2028", "\u2029", "\t"]


@pytest.mark.parametrize(
    "image",
    ["127.0.0.1:5000/s2i-bot/go-runtime:latest", "debian", "registry.example.com/a/b_c/d-e:1.0",
     "localhost/x@sha256:" + "a" * 64],
)  # fmt: skip
def test_image_references_docker_accepts_pass(image: str) -> None:
    assert image_problem(image) is None


@pytest.mark.parametrize(
    "image",
    ["reg/app:latest\nUSER root", "reg/app:latest\n", "reg/App", "reg/app:la test",
     "reg/app AS x", "-reg/app", "reg/app:$TAG", "reg//app", ""],
)  # fmt: skip
def test_image_references_with_anything_else_are_refused(image: str) -> None:
    assert image_problem(image) is not None


@pytest.mark.parametrize("char", NEWLINES)
def test_no_value_may_hold_a_control_character(char: str) -> None:
    assert image_problem(f"reg/app{char}") is not None
    assert artifact_problem(f"/opt/app{char}:/opt") is not None
    assert artifact_problem(f"/opt/app:/opt{char}") is not None
    assert env_name_problem(f"NAME{char}") is not None
    assert env_value_problem("NAME", f"value{char}RUN id") is not None
    assert context_problem(f"web{char}") is not None
    assert artifact_url_problem(f"https://example.com/x{char}") is not None


def test_env_values_may_hold_quotes_dollars_and_backslashes() -> None:
    # s2i escapes $, " and \\ in ENV values; only a line break could end the instruction.
    assert env_value_problem("A", 'say "hi" for $5 \\ done') is None


@pytest.mark.parametrize(
    "artifact",
    ["/opt/app-root/app:/opt/app-root", "/opt/app-root/*.jar:/opt/app-root/lib", "/a:b"],
)
def test_artifacts_in_the_documented_shape_pass(artifact: str) -> None:
    assert artifact_problem(artifact) is None


@pytest.mark.parametrize(
    "artifact",
    ["opt/app:/x", "/opt/app", '/opt/app:/x" "/etc', "/opt/$HOME:/x", "/opt/a b:/x",
     "/opt/app:/x:/y", "/opt/app:"],
)  # fmt: skip
def test_artifacts_that_could_change_the_copy_are_refused(artifact: str) -> None:
    assert artifact_problem(artifact) is not None


@pytest.mark.parametrize("context", ["..", "../x", "a/../../x", "/etc", "a\\..\\b"])
def test_contexts_leaving_the_checkout_are_refused(context: str) -> None:
    assert context_problem(context) is not None


def test_a_dotted_directory_name_is_a_context() -> None:
    assert context_problem("services/web..old/.config") is None


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.com/x", "https://user:pw@example.com/x", "https:///x",
     "https://example.com:port/x", "https://example.com/a b"],
)  # fmt: skip
def test_artifact_urls_must_be_plain_http_or_https(url: str) -> None:
    assert artifact_url_problem(url) is not None


def test_users_and_file_names() -> None:
    assert user_problem("1001") is None and user_problem("app:0") is None
    assert user_problem("root\nRUN id") is not None
    assert file_name_problem("hello-1.0.tar.gz") is None
    assert file_name_problem("..") is not None and file_name_problem("a/b") is not None
