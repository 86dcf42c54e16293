"""Both forges' `parse` over arbitrary input (hypothesis): bytes, JSON of any shape, and the
forges' real example payloads with values replaced or removed at any depth. Whatever comes in,
`parse` returns a Webhook or raises one of the documented errors (SignatureError,
PayloadError): nothing else escapes to the route as a 500."""

from __future__ import annotations

import copy
import json
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.events import Event
from bot.forges import github_webhooks, gitlab_webhooks
from bot.forges.base import Ignored, Ping, SignatureError, Webhook
from bot.forges.fields import PayloadError
from tests.fakes import gitlab_webhooks as gitlab_fakes
from tests.fakes import webhooks as github_fakes
from tests.support.fuzz import fuzz_settings

Parse = Callable[[Mapping[str, str], bytes, str | None], Webhook]
FUZZ = fuzz_settings(300)  # 300 examples a test in the full run (tests/support/fuzz.py)
SECRET = "fuzz-secret"

GITHUB_EVENTS = ["push", "pull_request", "issue_comment", "release", "ping", "create"]
GITHUB_EXAMPLES = [
    (event, payload) for event in GITHUB_EVENTS for payload in github_fakes.load_examples(event)
]
GITLAB_KINDS = ["push", "tag_push", "merge_request", "note"]
GITLAB_EXAMPLES = [
    (gitlab_fakes.EVENT_HEADERS[kind], gitlab_fakes.load_example(kind)) for kind in GITLAB_KINDS
]
GITLAB_EVENTS = [*(event for event, _ in GITLAB_EXAMPLES), "Pipeline Hook", ""]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=16,
)


def check(parse: Parse, headers: Mapping[str, str], body: bytes, secret: str | None) -> None:
    try:
        webhook = parse(headers, body, secret)
    except (SignatureError, PayloadError):
        return
    assert isinstance(webhook, Event | Ping | Ignored)
    if isinstance(webhook, Event):  # what reaches git and URLs was checked on the way in
        assert webhook.repo.clone_url == ""
        assert webhook.sha == "" or len(webhook.sha) in (40, 64)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


@st.composite
def mutated(draw: st.DrawFn, examples: list[tuple[str, dict[str, Any]]]) -> tuple[str, bytes]:
    """One real example with 1-3 values replaced by any JSON, or removed."""
    event, example = draw(st.sampled_from(examples))
    payload = copy.deepcopy(example)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_paths(payload))))
        if not path:
            payload = draw(json_values)
            break
        parent = payload
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()):
            parent[path[-1]] = draw(json_values)
        elif isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent.pop(path[-1])
    return event, json.dumps(payload).encode()


@FUZZ
@given(mutated(GITHUB_EXAMPLES))
def test_github_parse_of_mutated_examples_raises_only_documented_errors(
    delivery: tuple[str, bytes],
) -> None:
    event, body = delivery
    check(github_webhooks.parse, github_fakes.github_headers(event, body, None), body, None)


@FUZZ
@given(mutated(GITLAB_EXAMPLES))
def test_gitlab_parse_of_mutated_examples_raises_only_documented_errors(
    delivery: tuple[str, bytes],
) -> None:
    event, body = delivery
    check(gitlab_webhooks.parse, gitlab_fakes.gitlab_headers(event, None), body, None)


@FUZZ
@given(
    st.sampled_from([*GITHUB_EVENTS, "star", ""]),
    st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode())),
    st.sampled_from(["application/json", "application/x-www-form-urlencoded", "", "text/x"]),
)
def test_github_parse_of_any_body_raises_only_documented_errors(
    event: str, body: bytes, content_type: str
) -> None:
    headers = github_fakes.github_headers(event, body, None) | {"Content-Type": content_type}
    check(github_webhooks.parse, headers, body, None)
    form = urllib.parse.urlencode({"payload": body.decode("latin-1")}).encode()
    form_headers = headers | {"Content-Type": "application/x-www-form-urlencoded"}
    check(github_webhooks.parse, form_headers, form, None)


@FUZZ
@given(
    st.sampled_from(GITLAB_EVENTS),
    st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode())),
)
def test_gitlab_parse_of_any_body_raises_only_documented_errors(event: str, body: bytes) -> None:
    check(gitlab_webhooks.parse, gitlab_fakes.gitlab_headers(event, None), body, None)


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["X-Hub-Signature-256", "X-Gitlab-Token", "X-GitHub-Event"]),
        st.text(max_size=80),
    ),
    st.binary(max_size=100),
)
def test_signature_checks_of_any_headers_raise_only_documented_errors(
    headers: dict[str, str], body: bytes
) -> None:
    check(github_webhooks.parse, headers, body, SECRET)
    check(gitlab_webhooks.parse, headers, body, SECRET)
