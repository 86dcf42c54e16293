"""Metrics for Prometheus (GET /metrics): what this replica counted, and what the store says
waits now.

Each Bot has its own registry (tests run several bots in one process; the global default
registry would mix them). Counters and histograms are per replica: Prometheus sums them over
the replicas it scrapes. What waits (deliveries, queued and running builds, the outbox) is read
from the store at scrape time by `StoreCollector`, so every replica reports the same truth
about the database they share.

Labels are bounded: forge, event (a name the forge verified, else "unknown"), outcome, build
state and template. Never a repository, sha or delivery id: those are unbounded, and a private
repository's name is not the scraper's business.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bot.build_record import Build
from bot.forges.base import PermanentForgeError, RateLimited, UnknownRepository

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # the text exposition format
# An event name as forges spell them: GitHub's `push`, `pull_request`; GitLab's `Push Hook`.
_EVENT_NAME = re.compile(r"[A-Za-z_ ]{1,40}")
UNKNOWN = "unknown"

# What waits, from the store (Store.gauges): name -> (metric, help).
STORE_GAUGES = {
    "unprocessed_deliveries": (
        "s2i_bot_queued_deliveries", "Stored webhook deliveries not processed yet"),
    "queued_builds": ("s2i_bot_queued_builds", "Builds waiting for a slot"),
    "running_builds": ("s2i_bot_active_builds", "Builds running, on any replica"),
    "outbox_backlog": (
        "s2i_bot_outbox_backlog", "Statuses and comments not yet taken by the forge"),
}  # fmt: skip


def event_label(event: str | None) -> str:
    """A forge's event name as a label value; anything else (a header a sender made up) is
    "unknown", so no sender can grow the label set without bound."""
    return event if event and _EVENT_NAME.fullmatch(event) else UNKNOWN


def call_outcome(exc: BaseException | None) -> str:
    """A forge API call's outcome label."""
    if exc is None:
        return "ok"
    if isinstance(exc, RateLimited):
        return "rate_limited"
    if isinstance(exc, UnknownRepository) or type(exc).__name__ in _NOT_FOUND:
        return "not_found"
    if isinstance(exc, PermanentForgeError):
        return "refused"
    return "error"


# The clients' own "404" exceptions, named rather than imported: only the drivers import them.
_NOT_FOUND = {"UnknownObjectException", "GitlabGetError"}


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from `start` to `end` (naive UTC, as the store keeps them); None if unknown."""
    if start is None or end is None:
        return None
    return max((end - start).total_seconds(), 0.0)


class StoreCollector(Collector):
    """The gauges that come from the store, read when scraped (a few COUNTs)."""

    def __init__(self, read: Callable[[], Mapping[str, int]]) -> None:
        self._read = read

    def collect(self) -> Iterable[GaugeMetricFamily]:
        try:
            values = self._read()
        except Exception as exc:  # the database away: no numbers rather than wrong ones
            log.warning("metrics: the store does not answer: %s", exc)
            return []
        return [
            GaugeMetricFamily(name, text, value=values[key])
            for key, (name, text) in STORE_GAUGES.items()
            if key in values
        ]

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []  # read only when scraped, never when registered


class Metrics:
    """The metric objects of one bot, in a registry of its own."""

    def __init__(self, store_gauges: Callable[[], Mapping[str, int]] | None = None) -> None:
        self.registry = registry = CollectorRegistry()
        self.deliveries = Counter(
            "s2i_bot_deliveries", "Webhook deliveries answered, by forge, event and outcome",
            ["forge", "event", "outcome"], registry=registry,
        )  # fmt: skip
        self.intake_seconds = Histogram(
            "s2i_bot_webhook_intake_seconds",
            "From a webhook request to its 202 (verified, stored)",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.builds = Counter(
            "s2i_bot_builds", "Builds ended on this replica, by state and template",
            ["state", "template"], registry=registry,
        )  # fmt: skip
        self.queue_seconds = Histogram(
            "s2i_bot_build_queue_seconds", "From a build recorded to its start",
            ["template"], registry=registry,
            buckets=(0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
        )  # fmt: skip
        self.build_seconds = Histogram(
            "s2i_bot_build_duration_seconds", "From a build's start to its end, by state",
            ["state", "template"], registry=registry,
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200),
        )  # fmt: skip
        self.forge_calls = Counter(
            "s2i_bot_forge_api_calls", "Forge API calls (retries included), by outcome",
            ["forge", "outcome"], registry=registry,
        )  # fmt: skip
        self.rate_limit_remaining = Gauge(
            "s2i_bot_forge_rate_limit_remaining",
            "Requests left in the forge's rate limit window, from its last answer",
            ["forge"], registry=registry,
        )  # fmt: skip
        if store_gauges is not None:
            registry.register(StoreCollector(store_gauges))

    def render(self) -> bytes:
        """The text exposition of everything (reads the store: call it off the event loop)."""
        return generate_latest(self.registry)

    # -- instrumentation, one call at each edge
    def delivery(self, forge: str, event: str | None, outcome: str) -> None:
        self.deliveries.labels(forge, event_label(event), outcome).inc()

    def build_started(self, build: Build) -> None:
        waited = seconds_between(build.created_at, build.started_at)
        if waited is not None:
            self.queue_seconds.labels(_template(build)).observe(waited)

    def build_ended(self, build: Build) -> None:
        template = _template(build)
        self.builds.labels(build.state.value, template).inc()
        took = seconds_between(build.started_at, build.finished_at)
        if took is not None:
            self.build_seconds.labels(build.state.value, template).observe(took)

    @contextlib.contextmanager
    def forge_call(self, forge: str) -> Iterator[None]:
        """Count one API call of a driver by how it ended."""
        try:
            yield
        except BaseException as exc:
            self.forge_calls.labels(forge, call_outcome(exc)).inc()
            raise
        self.forge_calls.labels(forge, "ok").inc()

    def rate_limit(self, forge: str, remaining: int | None) -> None:
        if remaining is not None:
            self.rate_limit_remaining.labels(forge).set(remaining)


def _template(build: Build) -> str:
    return build.spec.template if build.spec is not None else UNKNOWN
