"""The planner: Event x RepoConfig x templates -> BuildSpecs. Pure: no I/O."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from fnmatch import fnmatchcase

from bot.build_secrets import SecretPolicy, SecretUse
from bot.build_spec import BuildSpec, SourceSpec
from bot.events import Event, EventKind
from bot.image_policy import ImagePolicy, ImagePolicyError
from bot.image_ref import registry_of
from bot.repo_config import BuildEntry, RepoConfig
from bot.tag_templates import MAX_LENGTH, TagTemplateError, render, sanitize
from bot.templates import RuntimeStage, Template

_VERSION = re.compile(r"^[vV](?=\d)")


class PlanError(Exception):
    """The config is valid but cannot be applied to this event (e.g. no runtime artifacts)."""


def image_tag(text: str) -> str:
    """A Docker tag from any text: `feature/x` -> `feature-x` (tags allow [\\w.-], 128 max)."""
    tag = sanitize(text).lstrip(".-")[:MAX_LENGTH]
    return tag or "latest"


def resolve_image(image: str, builder_registry: str | None) -> str:
    """Template images without a registry host live in the bot's builder registry."""
    if builder_registry and registry_of(image) is None:
        return f"{builder_registry}/{image}"
    return image


def trigger_kind(event: Event) -> str | None:
    return {
        EventKind.PUSH: "branch",
        EventKind.TAG: "tag",
        EventKind.PULL_REQUEST: "pull_request",
        EventKind.COMMENT: "pull_request",  # /s2i rebuild and ok-to-test build the PR
        EventKind.RELEASE: "release",
    }[event.kind]


def _matches(globs: Collection[str], value: str | None) -> bool:
    return value is not None and any(fnmatchcase(value, g) for g in globs)


def triggered(entry: BuildEntry, event: Event) -> bool:
    triggers = entry.triggers
    match trigger_kind(event):
        case "branch":
            hit = _matches(triggers.branches, event.branch)
        case "tag":
            hit = _matches(triggers.tags, event.tag)
        case "pull_request":
            base = event.pull.base_branch if event.pull else None
            prs = triggers.pull_requests
            hit = prs is True or (isinstance(prs, tuple) and _matches(prs, base))
        case "release":
            hit = triggers.releases
        case _:
            hit = False
    return hit and _paths_match(entry, event.changed_paths)


def _paths_match(entry: BuildEntry, changed: tuple[str, ...] | None) -> bool:
    """With `paths`/`paths_ignore`, build only when a changed file is in scope. `*` crosses
    directories (fnmatch), so `services/web/*` covers the whole tree below it."""
    paths, ignore = entry.triggers.paths, entry.triggers.paths_ignore
    if changed is None or not (paths or ignore):
        return True
    in_scope = [p for p in changed if not paths or _matches(paths, p)]
    return any(not _matches(ignore, p) for p in in_scope)


def tag_values(event: Event) -> dict[str, str]:
    values = {"sha": event.sha, "short_sha": event.sha[:7]}
    if event.branch:
        values["branch"] = event.branch
    if event.tag:
        values["tag"] = event.tag
        values["version"] = _VERSION.sub("", event.tag)
    if event.pull:
        values["pr"] = str(event.pull.number)
        values["branch"] = event.pull.head_branch
    return values


def render_tags(templates: Collection[str], values: Mapping[str, str]) -> tuple[str, ...]:
    """The image tags, each a valid registry tag (bot/tag_templates.py: plain `{name}`
    placeholders only, never `str.format`); PlanError when a template yields none."""
    tags: list[str] = []
    for template in templates:
        try:
            tag = render(template, values)
        except TagTemplateError as exc:
            raise PlanError(f"tag '{template[:60]}': {exc}") from None
        if tag not in tags:
            tags.append(tag)
    return tuple(tags)


def _runtime(
    entry: BuildEntry, template: Template, builder_registry: str | None
) -> RuntimeStage | None:
    if entry.runtime is None:
        runtime = template.runtime
        if runtime is None:
            return None
        return RuntimeStage(
            image=resolve_image(runtime.image, builder_registry), artifacts=runtime.artifacts
        )
    artifacts = entry.runtime.artifacts or (template.runtime.artifacts if template.runtime else ())
    if not artifacts:
        raise PlanError(
            f"build '{entry.name}': runtime image {entry.runtime.image} needs 'artifacts', and "
            f"template '{template.name}' has none to inherit"
        )
    return RuntimeStage(
        image=resolve_image(entry.runtime.image, builder_registry), artifacts=artifacts
    )


def status_ref(event: Event) -> str:
    """The ref a pull request's commit statuses name: its head branch. GitLab files a status
    in a pipeline of its `ref`, "the ref (branch or tag) to which the status refers"
    (doc/api/commits.md, "Set the pipeline status of a commit"), and a merge request shows
    the pipelines of its source branch (Ci::PipelinesForMergeRequestFinder): a status under
    refs/merge-requests/N/head shows on the commit only. A fork's branch is a branch of the
    fork, not of this repository, so a fork's statuses keep the ref built. "" for pushes and
    tags (their ref is the one built)."""
    pull = event.pull
    return pull.head_branch if pull is not None and not pull.from_fork else ""


def _source(entry: BuildEntry, event: Event) -> SourceSpec:
    source = SourceSpec(
        git_url=event.repo.clone_url, sha=event.sha, ref=event.ref, context_dir=entry.context
    )
    binary = entry.binary
    if binary is None:
        return source
    if binary.url:
        name = binary.url.rstrip("/").rsplit("/", 1)[-1].split("?")[0] or "artifact"
        return source.model_copy(update={"binary_url": binary.url, "binary_name": name})
    return source.model_copy(update={"binary_asset": binary.release_asset or ""})


def plan(
    event: Event,
    config: RepoConfig,
    templates: Mapping[str, Template],
    *,
    builder_registry: str | None = None,
    names: Collection[str] | None = None,
    image_policy: ImagePolicy | None = None,
    secrets: SecretPolicy | None = None,
) -> list[BuildSpec]:
    """The builds this event triggers (only those in `names`, when given). With an image
    policy, each carries its grants, and one outside them is a PlanError naming the rule.
    A build secret the repository may not use (`secrets`; none without it) is a PlanError."""
    kind = trigger_kind(event)
    assert kind is not None
    values = tag_values(event)
    specs = []
    for entry in config.builds:
        if names is not None and entry.name not in names:
            continue
        if not triggered(entry, event):
            continue
        template = templates[entry.template]
        incremental = template.incremental if entry.incremental is None else entry.incremental
        specs.append(
            BuildSpec(
                name=entry.name,
                repo=event.repo.full_name,
                forge=event.repo.forge,
                source=_source(entry, event),
                status_ref=status_ref(event),
                template=template.name,
                builder_image=resolve_image(template.builder, builder_registry),
                runtime=_runtime(entry, template, builder_registry),
                env=dict(template.env) | dict(entry.env),
                incremental=incremental,
                image=entry.image,
                tags=render_tags(entry.tags[kind], values),
                timeout=entry.timeout,
                secrets=_secret_uses(entry, event.repo.full_name, secrets),
            )
        )
    return [_checked(spec, image_policy) for spec in specs] if image_policy else specs


def _secret_uses(
    entry: BuildEntry, repo: str, secrets: SecretPolicy | None
) -> tuple[SecretUse, ...]:
    """The build secrets' mounts (the config was checked when read; this checks again)."""
    if not entry.secrets:
        return ()
    try:
        return (secrets or SecretPolicy()).uses(entry.secrets, repo)
    except ValueError as exc:
        raise PlanError(f"build '{entry.name}': {exc}") from None


def _checked(spec: BuildSpec, image_policy: ImagePolicy) -> BuildSpec:
    try:
        return image_policy.check(spec)
    except ImagePolicyError as exc:
        raise PlanError(f"build '{spec.name}': {exc}") from None
