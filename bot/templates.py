"""Builder templates (config/templates/*.yaml), like KubeSphere's S2iBuilderTemplate.

A template names a builder image and, optionally, a slim runtime image plus the artifacts to
copy into it. Templates are loaded and validated at start-up: a broken one stops the bot with
the file and the reason, rather than failing builds later.
"""

from __future__ import annotations

from dataclasses import dataclass
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


def load_templates(directory: Path) -> dict[str, Template]:
    """Load every *.yaml in `directory`; raise TemplateError naming the file and the reason."""
    templates: dict[str, Template] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            template = Template.model_validate(yaml.safe_load(path.read_text()))
        except (yaml.YAMLError, ValidationError) as exc:
            raise TemplateError(f"{path}: invalid builder template: {exc}") from exc
        if template.name in templates:
            raise TemplateError(f"{path}: template name '{template.name}' is defined twice")
        templates[template.name] = template
    if not templates:
        raise TemplateError(f"{directory}: no builder templates (*.yaml) found")
    return templates
