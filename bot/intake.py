"""Intake: a stored delivery -> builds. Reads the repo's `.s2i.yaml` at the event's commit,
plans, records the builds (queued) and reports them pending.

A broken `.s2i.yaml` becomes a failed `s2i/config` status quoting the file, line and reason,
with every error in the log behind its link.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bot.build_spec import BuildSpec
from bot.events import Event
from bot.forges.base import Forge
from bot.logs import LogStore
from bot.planner import plan
from bot.repo_config import FILE_NAME, RepoConfigError, parse_repo_config
from bot.reporter import Reporter
from bot.store import Build, BuildState, Delivery, Store
from bot.templates import Template

log = logging.getLogger(__name__)

CONFIG_BUILD_NAME = "config"


class Intake:
    def __init__(
        self,
        store: Store,
        forges: Mapping[str, Forge],
        templates: Mapping[str, Template],
        reporter: Reporter,
        logs: LogStore,
        builder_registry: str | None,
    ) -> None:
        self._store, self._forges, self._templates = store, forges, templates
        self._reporter, self._logs = reporter, logs
        self._builder_registry = builder_registry

    def builds_for(self, delivery: Delivery, event: Event) -> list[Build]:
        """Plan and record the builds of one delivery; idempotent for a re-processed one."""
        forge = self._forges[delivery.forge]
        existing = {b.name: b for b in self._store.builds_of_delivery(delivery.id)}
        text = forge.read_file(event.repo.full_name, FILE_NAME, event.sha)
        if text is None:
            self._store.finish_delivery(delivery.id, f"no {FILE_NAME} at {event.sha[:12]}")
            return []
        try:
            config = parse_repo_config(text, templates=self._templates.keys())
        except RepoConfigError as exc:
            if CONFIG_BUILD_NAME not in existing:
                self._config_failure(delivery, event, exc)
            self._store.finish_delivery(delivery.id, f"invalid {FILE_NAME}")
            return []
        specs = plan(event, config, self._templates, builder_registry=self._builder_registry)
        builds = [existing.get(s.name) or self._queue(delivery, event, s) for s in specs]
        self._store.finish_delivery(delivery.id, f"{len(builds)} build(s) planned")
        return [b for b in builds if not b.state.finished]

    def _queue(self, delivery: Delivery, event: Event, spec: BuildSpec) -> Build:
        build = self._store.add_build(
            delivery_id=delivery.id, name=spec.name, forge=delivery.forge,
            repo=event.repo.full_name, sha=event.sha, spec=spec,
        )  # fmt: skip
        self._logs.write(build.id, f"build {spec.name} of {spec.repo}@{event.sha} queued\n")
        self._reporter.report(build)
        return build

    def _config_failure(self, delivery: Delivery, event: Event, exc: RepoConfigError) -> None:
        build = self._store.add_build(
            delivery_id=delivery.id, name=CONFIG_BUILD_NAME, forge=delivery.forge,
            repo=event.repo.full_name, sha=event.sha, spec=None,
            state=BuildState.FAILED, reason=f"{exc.path} {exc.errors[0]}",
        )  # fmt: skip
        self._logs.write(build.id, f"{FILE_NAME} at {event.sha} is not valid:\n{exc}\n")
        self._reporter.report(build)
