"""Intake: an event -> the builds it starts. Reads the repo's `.s2i.yaml`, plans, records the
builds (queued) and says which older builds they supersede. Runs in a worker thread; what it
decides comes back as Actions for the bot to carry out (report, dispatch, cancel).

A broken `.s2i.yaml` becomes a failed `s2i/config` status quoting the file, line and reason,
with every error in the log behind its link; so does a tag template that yields no valid tag
for the event. A delivery the bot gave up on (bot/orchestrator.py) becomes an `error` status
in the same place, naming the cause.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import replace
from fnmatch import fnmatchcase

from bot.actions import Actions
from bot.build_logs import LogStore
from bot.build_record import Build, BuildState
from bot.build_secrets import SecretPolicy, untrusted_reason
from bot.build_spec import BuildSpec
from bot.events import Event, EventKind
from bot.forges.base import FileTooLarge, ForgeApi
from bot.image_policy import ImagePolicy
from bot.planner import PlanError, plan
from bot.repo_config import (
    FILE_NAME,
    BuildEntry,
    RepoConfig,
    RepoConfigError,
    Triggers,
    file_too_large,
    parse_repo_config,
)
from bot.settings import AutodetectSettings
from bot.store import Delivery, Store
from bot.template_detection import detect_template
from bot.templates import Template

log = logging.getLogger(__name__)

CONFIG_BUILD_NAME = "config"


def ref_key(event: Event) -> str:
    """Builds with the same name and ref key supersede each other: a branch, a tag, a PR."""
    return f"pr/{event.pull.number}" if event.pull else event.ref


class Intake:
    def __init__(
        self,
        store: Store,
        forges: Mapping[str, ForgeApi],
        templates: Mapping[str, Template],
        logs: LogStore,
        builder_registry: str | None,
        autodetect: AutodetectSettings | None = None,
        image_policy: ImagePolicy | None = None,
        secrets: SecretPolicy | None = None,
    ) -> None:
        self._store, self._forges, self._templates = store, forges, templates
        self._logs = logs
        self._builder_registry = builder_registry
        self._autodetect = autodetect or AutodetectSettings()
        # Where builds may push and pull; a build outside it fails s2i/config (the planner
        # raises PlanError naming the rule). None only in tests of other concerns.
        self._image_policy = image_policy
        # The operator's build secrets; None: there are none (a build naming one fails).
        self._secrets = secrets or SecretPolicy()

    def read_config(
        self, delivery: Delivery, event: Event, sha: str, actions: Actions
    ) -> RepoConfig | None:
        """The repo's config at sha; None (and the reason in actions) when there is none or it
        is broken."""
        forge = self._forges[delivery.forge]
        try:
            text = forge.read_file(event.repo.full_name, FILE_NAME, sha)
        except FileTooLarge as exc:
            error = file_too_large(exc.size)
            self._config_failure(delivery, event, str(error.errors[0]), str(error), actions)
            return None
        if text is None:
            actions.outcome = f"no {FILE_NAME} at {sha[:12]}"
            if self._autodetect.enabled:
                return self._detected_config(forge, event, sha, actions)
            return None
        try:
            repo = event.repo.full_name
            return parse_repo_config(
                text, templates=self._templates.keys(),
                secret_problem=lambda name: self._secrets.problem(name, repo),
            )  # fmt: skip
        except RepoConfigError as exc:
            self._config_failure(delivery, event, str(exc.errors[0]), str(exc), actions)
            return None

    def _detected_config(
        self, forge: ForgeApi, event: Event, sha: str, actions: Actions
    ) -> RepoConfig | None:
        repo = event.repo.full_name

        def exists(path: str) -> bool:
            try:
                return forge.read_file(repo, path, sha) is not None
            except FileTooLarge:  # there, only too large to read
                return True

        found = detect_template(exists)
        if found is None or found[0] not in self._templates:
            actions.outcome += "; no template detected"
            return None
        template, marker = found
        actions.outcome = f"no {FILE_NAME}: detected template {template} from {marker}"
        entry = BuildEntry(
            name=template,
            template=template,
            image=f"{self._autodetect.image_prefix.rstrip('/')}/{repo.lower()}",
            triggers=Triggers(branches=tuple(self._autodetect.branches), tags=("v*",)),
        )
        return RepoConfig((entry,), note=f"template {template}, detected from {marker}")

    def builds_for(
        self,
        delivery: Delivery,
        event: Event,
        *,
        config_sha: str | None = None,
        names: Collection[str] | None = None,
        actions: Actions | None = None,
        untrusted_origin: str = "",
    ) -> Actions:
        """Plan and record the builds of one event. Idempotent: a delivery processed again
        (after a crash) records only what is missing. With `untrusted_origin` (the code is a
        fork's, or an author's without write access), a build that needs a build secret
        fails at once, naming it: such builds never get one (bot/build_secrets.py)."""
        actions = actions or Actions()
        forge = self._forges[delivery.forge]
        if event.kind is EventKind.RELEASE and not event.sha:
            assert event.tag is not None
            event = replace(event, sha=forge.tag_sha(event.repo.full_name, event.tag))
        config = self.read_config(delivery, event, config_sha or event.sha, actions)
        if config is None:
            return actions
        if event.rebuilt_on and not config.rebuild_on_base_change:
            actions.outcome = f"not rebuilt on {event.rebuilt_on}: rebuild_on_base_change: false"
            return actions
        try:
            specs = plan(
                event, config, self._templates, builder_registry=self._builder_registry,
                names=names, image_policy=self._image_policy, secrets=self._secrets,
            )  # fmt: skip
        except PlanError as exc:
            self._config_failure(delivery, event, str(exc), str(exc), actions)
            return actions
        existing = {b.name for b in self._store.builds_of_delivery(delivery.id)}
        already: list[str] = []
        if event.rebuilt_on:
            specs = [
                s for s in specs if s.name in existing or self._still_newest(delivery, event, s)
            ]
        for spec in specs:
            if note := "; ".join(n for n in (event.note, config.note) if n):
                spec = spec.model_copy(update={"note": note})
            if event.rebuilt_on:
                spec = spec.model_copy(update={"rebuilt_on": event.rebuilt_on})
            if spec.name in existing:
                continue
            if spec.secrets and untrusted_origin:
                reason = untrusted_reason(spec.name, spec.secrets[0].name, untrusted_origin)
                actions.report.append(self._record(delivery, event, spec, failed=reason))
                continue
            if spec.source.binary_asset:
                resolved = self._resolve_asset(forge, event, spec)
                if isinstance(resolved, str):
                    actions.report.append(self._record(delivery, event, spec, failed=resolved))
                    continue
                spec = resolved
            unfinished = self._store.unfinished_builds(
                delivery.forge, event.repo.full_name, ref_key(event), [spec.name]
            )
            if not event.rebuilt_on and any(b.sha == event.sha for b in unfinished):
                # Two deliveries of one head (a push and the catch-up's, bot/catch_up.py, or
                # a push redelivered under a new id): the commit's build is queued or
                # running already. Another would cancel it and leave a `superseded` error
                # on the commit's status until it ends.
                already.append(spec.name)
                continue
            for older in unfinished:
                actions.cancel.append((older, f"superseded by {event.sha[:7]}"))
            actions.queue(self._record(delivery, event, spec))
        planned = f"{len(specs) - len(already)} build(s) planned"
        if already:
            planned += f"; already building {event.sha[:7]}: {', '.join(already)}"
        actions.outcome = f"{config.note}: {planned}" if config.note else planned
        return actions

    def _still_newest(self, delivery: Delivery, event: Event, spec: BuildSpec) -> bool:
        """Whether a rebuild on a new base (bot/base_images.py) still rebuilds what the ref's
        tags show: no build of that name and ref ran or succeeded at another commit since it
        was found, which would have used the new base, and whose tags the rebuild would move
        back to an older commit."""
        forge, repo, ref = delivery.forge, event.repo.full_name, ref_key(event)
        if self._store.unfinished_builds(forge, repo, ref, [spec.name]):
            return False
        last = self._store.last_success(forge, repo, ref, spec.name)
        return last is not None and last.sha == event.sha

    def _resolve_asset(self, forge: ForgeApi, event: Event, spec: BuildSpec) -> BuildSpec | str:
        """The release asset matching the build's glob, as a download for the runner; or why
        there is none."""
        pattern = spec.source.binary_asset
        if event.release_id is None:
            return f"'release_asset: {pattern}' builds only on a release"
        assets = forge.release_assets(event.repo.full_name, event.release_id)
        match = next((a for a in assets if fnmatchcase(a.name, pattern)), None)
        if match is None:
            names = ", ".join(a.name for a in assets) or "none"
            return f"no asset of release {event.tag} matches '{pattern}' (assets: {names})"
        source = spec.source.model_copy(
            update={"binary_url": match.url, "binary_name": match.name, "binary_auth": True}
        )
        return spec.model_copy(update={"source": source})

    def _record(self, delivery: Delivery, event: Event, spec: BuildSpec, failed: str = "") -> Build:
        build = self._store.add_build(
            delivery_id=delivery.id, name=spec.name, forge=delivery.forge,
            repo=event.repo.full_name, sha=event.sha, spec=spec, ref_key=ref_key(event),
            pr=event.pull.number if event.pull else None,
            state=BuildState.FAILED if failed else BuildState.QUEUED, reason=failed,
        )  # fmt: skip
        message = f"FAILED: {failed}" if failed else "queued"
        self._logs.write(build.id, f"build {spec.name} of {spec.repo}@{event.sha} {message}\n")
        return build

    def delivery_error(self, delivery: Delivery, event: Event | None, reason: str) -> Build | None:
        """Record that the delivery could not be processed, as an `error` on the commit it
        names; None when it names none (a comment, a payload that did not parse) or said
        something about that commit already."""
        sha = event.pull.head_sha if event and event.pull else event.sha if event else ""
        if event is None or not sha:
            return None
        if any(b.name == CONFIG_BUILD_NAME for b in self._store.builds_of_delivery(delivery.id)):
            return None
        build = self._store.add_build(
            delivery_id=delivery.id, name=CONFIG_BUILD_NAME, forge=delivery.forge,
            repo=event.repo.full_name, sha=sha, spec=None, ref_key=ref_key(event),
            pr=event.pull.number if event.pull else None,
            state=BuildState.ERROR, reason=reason,
        )  # fmt: skip
        self._logs.write(
            build.id,
            f"delivery {delivery.id} ({delivery.event} of {event.repo.full_name}@{sha}) was "
            f"given up: {reason}\n",
        )
        return build

    def _config_failure(
        self, delivery: Delivery, event: Event, summary: str, details: str, actions: Actions
    ) -> None:
        actions.outcome = f"invalid {FILE_NAME}"
        if any(b.name == CONFIG_BUILD_NAME for b in self._store.builds_of_delivery(delivery.id)):
            return
        build = self._store.add_build(
            delivery_id=delivery.id, name=CONFIG_BUILD_NAME, forge=delivery.forge,
            repo=event.repo.full_name, sha=event.sha, spec=None, ref_key=ref_key(event),
            pr=event.pull.number if event.pull else None,
            state=BuildState.FAILED, reason=f"{FILE_NAME} {summary}",
        )  # fmt: skip
        self._logs.write(build.id, f"{FILE_NAME} at {event.sha} is not valid:\n{details}\n")
        actions.report.append(build)
