"""The planner: Event x RepoConfig x templates -> BuildSpecs. Pure: no I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping
from fnmatch import fnmatchcase

from bot.build_spec import BuildSpec, SourceSpec, registry_of
from bot.events import Event, EventKind
from bot.repo_config import BuildEntry, RepoConfig
from bot.templates import RuntimeStage, Template

_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def image_tag(branch: str) -> str:
    """A Docker tag from a branch name: `feature/x` -> `feature-x` (tags allow [\\w.-], 128 max)."""
    tag = _TAG_UNSAFE.sub("-", branch).lstrip(".-")[:128]
    return tag or "latest"


def split_image(image: str) -> tuple[str, str | None]:
    """`host:5000/a/b:tag` -> (`host:5000/a/b`, `tag`); the port is not a tag."""
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon + 1 :]
    return image, None


def resolve_image(image: str, builder_registry: str | None) -> str:
    """Template images without a registry host live in the bot's builder registry."""
    if builder_registry and registry_of(image) is None:
        return f"{builder_registry}/{image}"
    return image


def matching_entries(event: Event, config: RepoConfig) -> list[BuildEntry]:
    if event.kind is not EventKind.PUSH or event.branch is None:
        return []
    branch = event.branch
    return [e for e in config.builds if any(fnmatchcase(branch, g) for g in e.branches)]


def plan(
    event: Event,
    config: RepoConfig,
    templates: Mapping[str, Template],
    *,
    builder_registry: str | None = None,
) -> list[BuildSpec]:
    specs = []
    for entry in matching_entries(event, config):
        template = templates[entry.template]
        image, tag = split_image(entry.image)
        runtime = template.runtime
        if runtime is not None:
            runtime = RuntimeStage(
                image=resolve_image(runtime.image, builder_registry), artifacts=runtime.artifacts
            )
        specs.append(
            BuildSpec(
                name=entry.name,
                repo=event.repo.full_name,
                forge=event.repo.forge,
                source=SourceSpec(git_url=event.repo.clone_url, sha=event.sha, ref=event.ref),
                template=template.name,
                builder_image=resolve_image(template.builder, builder_registry),
                runtime=runtime,
                env=dict(template.env),
                image=image,
                tag=tag or image_tag(event.branch or "latest"),
            )
        )
    return specs
