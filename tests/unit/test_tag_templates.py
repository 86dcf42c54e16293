"""bot/tag_templates.py: plain placeholders only, valid registry tags, the PR number kept."""

from __future__ import annotations

import pytest

from bot.tag_templates import MAX_LENGTH, TAG, TagTemplateError, placeholders, render

VALUES = {"branch": "feature/Login#2", "sha": "a" * 40, "short_sha": "aaaaaaa", "pr": "42"}


@pytest.mark.parametrize(
    "template",
    [
        "{sha:>2000000000}",  # a format spec that would allocate gigabytes
        "latest{pr:.0}",  # would render the PR number as nothing
        "{sha!r}",
        "{branch.upper}",
        "{branch[0]}",
        "{}",
        "{0}",
        "{{branch}}",
        "x}",
        "{branch",
        "{Branch}",
    ],
)
def test_anything_but_a_plain_placeholder_is_refused(template: str) -> None:
    with pytest.raises(TagTemplateError, match="is not a placeholder: write a plain"):
        placeholders(template)


def test_characters_no_tag_may_have_and_overlong_literals_are_refused() -> None:
    with pytest.raises(TagTemplateError, match="' ' cannot be in an image tag"):
        placeholders("my tag")
    with pytest.raises(TagTemplateError, match="':' cannot be in an image tag"):
        placeholders("v1:{sha}")
    with pytest.raises(TagTemplateError, match=f"at most {MAX_LENGTH} characters"):
        placeholders("a" * 127 + "{pr}{sha}")
    with pytest.raises(TagTemplateError, match="must not be empty"):
        placeholders("")


def test_placeholders_are_listed_in_order() -> None:
    assert placeholders("{branch}-{short_sha}.x_{pr}") == ["branch", "short_sha", "pr"]


def test_values_become_tag_characters() -> None:
    assert render("{branch}-{short_sha}", VALUES) == "feature-Login-2-aaaaaaa"
    assert render("-{branch}", {"branch": ".x"}) == "x"  # a tag starts with [A-Za-z0-9_]


def test_a_long_value_is_shortened_but_never_the_pull_request_number() -> None:
    values = VALUES | {"branch": "b" * 300}
    tag = render("{branch}-pr{pr}", values)
    assert len(tag) == MAX_LENGTH and tag.endswith("-pr42") and TAG.fullmatch(tag)
    tag = render("{branch}-{sha}-{pr}", values)
    assert len(tag) == MAX_LENGTH and tag.endswith("-42")


def test_a_placeholder_without_a_value_or_no_valid_tag_is_an_error() -> None:
    with pytest.raises(TagTemplateError, match=r"\{tag\} has no value"):
        render("{tag}", VALUES)
    with pytest.raises(TagTemplateError, match="renders to '', which is not a valid image tag"):
        render("{branch}", {"branch": "..."})
