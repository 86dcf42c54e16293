"""bot/metrics.py's pure parts: bounded labels, call outcomes, durations, the store's gauges
read at scrape time, and a registry per bot."""

from __future__ import annotations

from datetime import datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from bot.build_record import Build, BuildState
from bot.forges.base import ForgeError, PermanentForgeError, RateLimited, UnknownRepository
from bot.metrics import Metrics, call_outcome, event_label, seconds_between


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = metrics.render().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_event_labels_are_forge_event_names_and_anything_else_is_unknown() -> None:
    assert event_label("push") == "push"
    assert event_label("Merge Request Hook") == "Merge Request Hook"
    for made_up in (None, "", "x" * 41, "push\n", "a/b", "sha256=abc", "ünïcode"):
        assert event_label(made_up) == "unknown", made_up


def test_call_outcomes_name_the_kind_of_failure() -> None:
    assert call_outcome(None) == "ok"
    assert call_outcome(RateLimited("slow down", 60)) == "rate_limited"
    assert call_outcome(UnknownRepository("gone")) == "not_found"
    assert call_outcome(PermanentForgeError("403")) == "refused"
    assert call_outcome(ForgeError("502")) == "error"
    assert call_outcome(ConnectionError("reset")) == "error"


def test_seconds_between_needs_both_ends_and_is_never_negative() -> None:
    start = datetime(2026, 1, 1, 12, 0, 0)
    assert seconds_between(start, start + timedelta(seconds=90)) == 90.0
    assert seconds_between(start, start - timedelta(seconds=1)) == 0.0  # clocks of replicas
    assert seconds_between(None, start) is None
    assert seconds_between(start, None) is None


def test_store_gauges_are_read_when_scraped_and_skipped_when_the_store_fails() -> None:
    answers: list[dict[str, int] | Exception] = [
        {"unprocessed_deliveries": 3, "queued_builds": 2, "running_builds": 1,
         "outbox_backlog": 4},
        RuntimeError("database away"),
    ]  # fmt: skip

    def read() -> dict[str, int]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    metrics = Metrics(read)
    first = samples(metrics)
    assert first[("s2i_bot_queued_deliveries", frozenset())] == 3
    assert first[("s2i_bot_queued_builds", frozenset())] == 2
    assert first[("s2i_bot_active_builds", frozenset())] == 1
    assert first[("s2i_bot_outbox_backlog", frozenset())] == 4
    assert ("s2i_bot_queued_deliveries", frozenset()) not in samples(metrics)
    assert answers == []  # once per scrape, not when registered


def test_builds_are_counted_by_state_and_template_with_their_queue_and_run_times() -> None:
    created = datetime(2026, 1, 1, 12, 0, 0)
    build = Build(
        1, "d", "web", "github", "acme/private", "a" * 40, None, BuildState.FAILED, "", None,
        None, created_at=created, started_at=created + timedelta(seconds=3),
        finished_at=created + timedelta(seconds=45),
    )  # fmt: skip
    metrics = Metrics()
    metrics.build_started(build)
    metrics.build_ended(build)
    got = samples(metrics)
    failed = frozenset({("state", "failed"), ("template", "unknown")})
    assert got[("s2i_bot_builds_total", failed)] == 1
    assert got[("s2i_bot_build_duration_seconds_sum", failed)] == 42
    queue = frozenset({("template", "unknown")})
    assert got[("s2i_bot_build_queue_seconds_sum", queue)] == 3
    text = metrics.render().decode()
    assert "acme/private" not in text and "a" * 40 not in text


def test_forge_calls_are_counted_by_outcome_and_the_exception_passes_through() -> None:
    metrics = Metrics()
    with metrics.forge_call("github"):
        pass
    try:
        with metrics.forge_call("github"):
            raise RateLimited("slow down", 30)
    except RateLimited:
        pass
    else:
        raise AssertionError("the exception was swallowed")
    metrics.rate_limit("github", 4990)
    metrics.rate_limit("github", None)  # unknown: the last known value stays
    got = samples(metrics)
    assert (
        got[("s2i_bot_forge_api_calls_total", frozenset({("forge", "github"), ("outcome", "ok")}))]
        == 1
    )
    limited = frozenset({("forge", "github"), ("outcome", "rate_limited")})
    assert got[("s2i_bot_forge_api_calls_total", limited)] == 1
    assert got[("s2i_bot_forge_rate_limit_remaining", frozenset({("forge", "github")}))] == 4990


def test_each_metrics_has_a_registry_of_its_own() -> None:
    one, other = Metrics(), Metrics()
    one.delivery("github", "push", "accepted")
    labels = frozenset({("forge", "github"), ("event", "push"), ("outcome", "accepted")})
    key = ("s2i_bot_deliveries_total", labels)
    assert samples(one)[key] == 1
    assert key not in samples(other)
