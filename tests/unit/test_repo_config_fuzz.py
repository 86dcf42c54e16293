"""Fuzzing `.s2i.yaml` loading (hypothesis): whatever the file holds, parse_repo_config returns
a RepoConfig or raises RepoConfigError (the documented error), never anything else."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from bot.repo_config import RepoConfig, RepoConfigError, parse_repo_config
from tests.support.fuzz import fuzz_settings

TEMPLATES = {"go", "python"}
# 200 examples a test in the full run (tests/support/fuzz.py); nothing written into the work tree.
FUZZ = fuzz_settings(200, database=None)

BUILD_KEYS = [
    "name", "template", "image", "tags", "context", "env", "incremental", "runtime", "binary",
    "triggers", "timeout", "bogus",
]  # fmt: skip
TRIGGER_KEYS = ["branches", "tags", "pull_requests", "releases", "paths", "paths_ignore"]
TAG_KINDS = ["branch", "tag", "pull_request", "release"]
# Pieces that reach the interesting paths: placeholders, format specs, YAML syntax.
PIECES = [
    "{pr}", "{branch}", "{sha}", "{short_sha}", "{version}", "{tag}", "{sha:>99}", "{pr!r}",
    "{x.y}", "{0}", "{", "}", "main", "v*", "go", "r/acme/web", "a:b", "*", "&a", "*a", "<<",
    "!!binary", "!!python/object", "- ", ": ", "\n", "[", "]", "'", '"', "#", "%", "\t", "\x00",
    "\u202e", "9" * 20, "@everyone", "`",
]  # fmt: skip

texts = st.lists(st.sampled_from([*PIECES, "a", " ", ","]), max_size=12).map("".join)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), texts, st.text(max_size=20)
)
tag_lists = st.lists(texts, max_size=20)
values: st.SearchStrategy[Any] = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


@st.composite
def build_entries(draw: st.DrawFn) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from(BUILD_KEYS), max_size=len(BUILD_KEYS))):
        if key == "tags":
            entry[key] = draw(
                tag_lists | st.dictionaries(st.sampled_from([*TAG_KINDS, "x"]), tag_lists)
            )
        elif key == "triggers":
            entry[key] = draw(
                st.dictionaries(st.sampled_from(TRIGGER_KEYS), st.booleans() | st.lists(texts))
            )
        elif key == "name":
            entry[key] = draw(st.sampled_from(["web", "api", "Web_1", ""]) | texts)
        elif key == "template":
            entry[key] = draw(st.sampled_from(["go", "python", "rust"]) | texts)
        elif key == "image":
            entry[key] = draw(st.sampled_from(["r/acme/web", "R/A:v1", "a" * 300]) | texts)
        else:
            entry[key] = draw(values)
    return entry


def loads_or_refuses(text: str) -> None:
    try:
        config = parse_repo_config(text, templates=TEMPLATES)
    except RepoConfigError as exc:
        assert exc.errors, "a RepoConfigError names at least one problem"
        for error in exc.errors:
            assert error.line >= 1 and error.column >= 1
    else:
        assert isinstance(config, RepoConfig)


@FUZZ
@given(st.text(max_size=400))
def test_any_text_loads_or_is_refused_with_a_config_error(text: str) -> None:
    loads_or_refuses(text)


@FUZZ
@given(st.lists(st.sampled_from(PIECES) | st.text(max_size=5), max_size=80).map("".join))
def test_yaml_syntax_soup_loads_or_is_refused_with_a_config_error(text: str) -> None:
    loads_or_refuses(text)


@FUZZ
@given(st.lists(build_entries(), max_size=4), st.booleans())
def test_files_shaped_like_s2i_yaml_load_or_are_refused_with_a_config_error(
    entries: list[dict[str, Any]], flow: bool
) -> None:
    text = yaml.safe_dump({"builds": entries}, default_flow_style=flow, allow_unicode=True)
    loads_or_refuses(text)
