"""Builder templates (config/templates/*.yaml), like KubeSphere's S2iBuilderTemplate.

A template names a builder image and, optionally, a slim runtime image plus the artifacts to
copy into it. Templates are loaded and validated at start-up: a broken one stops the bot with
the file and the reason, rather than failing builds later. The templates of config/templates
ship in the package (as `bot._config`); an operator's `templates_dir` replaces them.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.safe_values import artifact_problem, image_problem


class TemplateError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Artifact:
    """One `src:dest` mapping, as s2i's --runtime-artifact: copy src into directory dest."""

    source: str
    destination: str

    @classmethod
    def parse(cls, text: str) -> Artifact:
        # The runner writes both paths into a COPY instruction (bot/runner/dockerfile.py).
        if problem := artifact_problem(text):
            raise ValueError(problem)
        source, _, destination = text.partition(":")
        return cls(source, destination)


class RuntimeStage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    image: str
    artifacts: tuple[Artifact, ...] = Field(min_length=1)

    @field_validator("artifacts", mode="before")
    @classmethod
    def _parse_artifacts(cls, value: object) -> object:
        if isinstance(value, list):
            return tuple(Artifact.parse(v) if isinstance(v, str) else v for v in value)
        return value


class Template(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    description: str = ""
    builder: str
    runtime: RuntimeStage | None = None
    env: dict[str, str] = Field(default_factory=dict)
    incremental: bool = False

    @field_validator("builder")
    @classmethod
    def _image_reference(cls, value: str) -> str:
        if problem := image_problem(value):
            raise ValueError(problem)
        return value

    @field_validator("runtime")
    @classmethod
    def _runtime_image_reference(cls, value: RuntimeStage | None) -> RuntimeStage | None:
        if value is not None and (problem := image_problem(value.image)):
            raise ValueError(problem)
        return value


def _name(path: Traversable) -> str:
    return path.name


def bundled_templates_dir() -> Traversable:
    """config/templates as installed with the package (a plain directory in a wheel's install
    and in the editable install of a checkout)."""
    return resources.files("bot._config").joinpath("templates")


def load_templates(directory: Path | None = None) -> dict[str, Template]:
    """Load every *.yaml in `directory` (None: the bundled templates); raise TemplateError
    naming the file and the reason."""
    source: Traversable = bundled_templates_dir() if directory is None else directory
    if not source.is_dir():
        raise TemplateError(
            f"{source}: templates_dir is not a directory; point it at a directory of builder "
            "templates (*.yaml), or unset it to use the bundled ones"
        )
    templates: dict[str, Template] = {}
    for path in sorted((p for p in source.iterdir() if p.name.endswith(".yaml")), key=_name):
        try:
            text = path.read_text()
        except OSError as exc:
            raise TemplateError(f"{path}: cannot read the builder template: {exc}") from exc
        try:
            template = Template.model_validate(yaml.safe_load(text))
        except (yaml.YAMLError, ValidationError) as exc:
            raise TemplateError(f"{path}: invalid builder template: {exc}") from exc
        if template.name in templates:
            raise TemplateError(f"{path}: template name '{template.name}' is defined twice")
        templates[template.name] = template
    if not templates:
        raise TemplateError(
            f"{source}: no builder templates (*.yaml) found; point templates_dir at a "
            "directory of builder templates, or unset it to use the bundled ones"
        )
    return templates
