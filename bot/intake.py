"""Intake: a stored delivery -> builds. Reads the repo's `.s2i.yaml` at the event's commit,
plans and records the builds (queued); the caller reports and dispatches them.

A broken `.s2i.yaml` becomes a failed `s2i/config` status quoting the file, line and reason,
with every error in the log behind its link.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bot.build import Build, BuildState
from bot.build_spec import BuildSpec
from bot.events import Event
from bot.forges.base import Forge
from bot.logs import LogStore
from bot.planner import plan
from bot.repo_config import FILE_NAME, RepoConfigError, parse_repo_config
from bot.store import Delivery, Store
from bot.templates import Template

log = logging.getLogger(__name__)

CONFIG_BUILD_NAME = "config"


class Intake:
    def __init__(
        self,
        store: Store,
        forges: Mapping[str, Forge],
        templates: Mapping[str, Template],
        logs: LogStore,
        builder_registry: str | None,
    ) -> None:
        self._store, self._forges, self._templates = store, forges, templates
        self._logs = logs
        self._builder_registry = builder_registry

    def builds_for(self, delivery: Delivery, event: Event) -> list[Build]:
        """Plan and record the builds of one delivery; returns the builds it created, which
        the caller reports and dispatches. Idempotent: a re-processed delivery (after a crash)
        creates only what is missing."""
        forge = self._forges[delivery.forge]
        existing = {b.name: b for b in self._store.builds_of_delivery(delivery.id)}
        text = forge.read_file(event.repo.full_name, FILE_NAME, event.sha)
        if text is None:
            self._store.finish_delivery(delivery.id, f"no {FILE_NAME} at {event.sha[:12]}")
            return []
        try:
            config = parse_repo_config(text, templates=self._templates.keys())
        except RepoConfigError as exc:
            failed = (
                []
                if CONFIG_BUILD_NAME in existing
                else [self._config_failure(delivery, event, exc)]
            )
            self._store.finish_delivery(delivery.id, f"invalid {FILE_NAME}")
            return failed
        specs = plan(event, config, self._templates, builder_registry=self._builder_registry)
        created = [self._queue(delivery, event, s) for s in specs if s.name not in existing]
        self._store.finish_delivery(delivery.id, f"{len(specs)} build(s) planned")
        return created

    def _queue(self, delivery: Delivery, event: Event, spec: BuildSpec) -> Build:
        build = self._store.add_build(
            delivery_id=delivery.id, name=spec.name, forge=delivery.forge,
            repo=event.repo.full_name, sha=event.sha, spec=spec,
        )  # fmt: skip
        self._logs.write(build.id, f"build {spec.name} of {spec.repo}@{event.sha} queued\n")
        return build

    def _config_failure(self, delivery: Delivery, event: Event, exc: RepoConfigError) -> Build:
        build = self._store.add_build(
            delivery_id=delivery.id, name=CONFIG_BUILD_NAME, forge=delivery.forge,
            repo=event.repo.full_name, sha=event.sha, spec=None,
            state=BuildState.FAILED, reason=f"{exc.path} {exc.errors[0]}",
        )  # fmt: skip
        self._logs.write(build.id, f"{FILE_NAME} at {event.sha} is not valid:\n{exc}\n")
        return build
