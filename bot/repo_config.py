"""`.s2i.yaml`: a repository's list of builds, parsed with line-precise errors.

A broken file must become a failed commit status that quotes the file, line and reason, so
we validate the YAML node tree (which keeps positions) rather than the loaded dicts.

    builds:
      - name: web                 # the status context is s2i/<name>
        template: go              # a builder template from config/templates
        image: registry.example.com/acme/web
        branches: [main, "release/*"]   # fnmatch globs on the branch name
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.build_spec import registry_of

FILE_NAME = ".s2i.yaml"

# Build names end up in status contexts and image-cache names: keep them DNS-label-like.
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# An image repository path and optional tag (the registry host is split off first).
_IMAGE_PATH = re.compile(r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$")
_BUILD_KEYS = ("name", "template", "image", "branches")


@dataclass(frozen=True, slots=True)
class ConfigError:
    line: int  # 1-based, as editors show it
    column: int  # 1-based
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


class RepoConfigError(Exception):
    """The file is not a valid `.s2i.yaml`; carries every error found, in file order."""

    def __init__(self, path: str, errors: list[ConfigError]) -> None:
        self.path = path
        self.errors = sorted(errors, key=lambda e: (e.line, e.column))
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(f"{self.path} {e}" for e in self.errors)


@dataclass(frozen=True, slots=True)
class BuildEntry:
    name: str
    template: str
    image: str
    branches: tuple[str, ...]
    line: int


@dataclass(frozen=True, slots=True)
class RepoConfig:
    builds: tuple[BuildEntry, ...]


def _valid_image(image: str) -> bool:
    """[host[:port]/]path[:tag], where the host is recognised by Docker's rule."""
    host = registry_of(image)
    path = image[len(host) + 1 :] if host else image
    return bool(_IMAGE_PATH.match(path))


def _error(node: Node, message: str) -> ConfigError:
    return ConfigError(node.start_mark.line + 1, node.start_mark.column + 1, message)


def _pairs(node: MappingNode) -> Iterator[tuple[str, Node, Node]]:
    for key, value in node.value:
        yield (key.value if isinstance(key, ScalarNode) else str(key.value)), key, value


def _string(node: Node, field: str, errors: list[ConfigError]) -> str | None:
    if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:str" and node.value:
        return str(node.value)
    errors.append(_error(node, f"'{field}' must be a non-empty string"))
    return None


def _build(node: Node, templates: Collection[str], errors: list[ConfigError]) -> BuildEntry | None:
    if not isinstance(node, MappingNode):
        errors.append(_error(node, "each build must be a mapping with " + ", ".join(_BUILD_KEYS)))
        return None
    before = len(errors)
    values: dict[str, Node] = {}
    for key, key_node, value in _pairs(node):
        if key not in _BUILD_KEYS:
            errors.append(
                _error(key_node, f"unknown key '{key}'; allowed: {', '.join(_BUILD_KEYS)}")
            )
        elif key in values:
            errors.append(_error(key_node, f"'{key}' is given twice"))
        else:
            values[key] = value
    for key in _BUILD_KEYS:
        if key not in values:
            errors.append(_error(node, f"missing required key '{key}'"))

    name = _string(values["name"], "name", errors) if "name" in values else None
    if name is not None and not _NAME.match(name):
        errors.append(
            _error(values["name"], f"name '{name}' must be lower-case letters, digits and '-'")
        )
    template = _string(values["template"], "template", errors) if "template" in values else None
    if template is not None and template not in templates:
        known = ", ".join(sorted(templates)) or "(none)"
        errors.append(_error(values["template"], f"unknown template '{template}'; known: {known}"))
    image = _string(values["image"], "image", errors) if "image" in values else None
    if image is not None and not _valid_image(image):
        errors.append(
            _error(values["image"], f"'{image}' is not an image reference like host/repo[:tag]")
        )
    branches: list[str] = []
    if "branches" in values:
        seq = values["branches"]
        if isinstance(seq, SequenceNode) and seq.value:
            for item in seq.value:
                branch = _string(item, "branches[]", errors)
                if branch is not None:
                    branches.append(branch)
        else:
            errors.append(_error(seq, "'branches' must be a non-empty list of branch globs"))
    if len(errors) > before or name is None or template is None or image is None:
        return None
    return BuildEntry(name, template, image, tuple(branches), node.start_mark.line + 1)


def parse_repo_config(
    text: str, *, templates: Collection[str], path: str = FILE_NAME
) -> RepoConfig:
    """Parse and validate; raise RepoConfigError listing every problem with its position."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise RepoConfigError(
            path, [ConfigError(line, column, f"invalid YAML: {exc.problem}")]
        ) from None
    if root is None:
        raise RepoConfigError(path, [ConfigError(1, 1, "the file is empty; expected 'builds:'")])
    errors: list[ConfigError] = []
    if not isinstance(root, MappingNode):
        raise RepoConfigError(path, [_error(root, "expected a mapping with the key 'builds'")])
    sections = dict((key, (key_node, value)) for key, key_node, value in _pairs(root))
    for key, (key_node, _) in sections.items():
        if key != "builds":
            errors.append(_error(key_node, f"unknown key '{key}'; allowed: builds"))
    if "builds" not in sections:
        errors.append(_error(root, "missing required key 'builds'"))
        raise RepoConfigError(path, errors)
    seq = sections["builds"][1]
    if not isinstance(seq, SequenceNode) or not seq.value:
        raise RepoConfigError(path, [*errors, _error(seq, "'builds' must be a non-empty list")])
    builds: list[BuildEntry] = []
    for item in seq.value:
        entry = _build(item, templates, errors)
        if entry is None:
            continue
        if any(b.name == entry.name for b in builds):
            errors.append(_error(item, f"build name '{entry.name}' is used twice"))
        builds.append(entry)
    if errors:
        raise RepoConfigError(path, errors)
    return RepoConfig(tuple(builds))
