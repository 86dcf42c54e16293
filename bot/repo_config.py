"""`.s2i.yaml`: a repository's builds, validated with line-precise errors.

The file's shape is a JSON Schema (bot/schema/s2i.schema.json, usable by editors); on top of
it come the checks a schema cannot make (known templates, unique names, tag placeholders).
Every error carries the line and column of the node it is about, because a broken file becomes
a failed commit status that quotes the file, line and reason.

The file comes from whoever can push, so it is bounded before any other work: at most
MAX_FILE_BYTES, no YAML aliases (a 600-byte "billion laughs" expands to gigabytes), at most
MAX_DEPTH levels of nesting (PyYAML's composer recurses) and MAX_NODES nodes. Tag templates are
plain `{name}` placeholders (bot/tag_templates.py). Anything wrong is a RepoConfigError, never
another exception.

    builds:
      - name: web                         # the status context is s2i/<name>
        template: go                      # a builder template from config/templates
        image: registry.example.com/acme/web
        tags: ["{branch}", "{short_sha}"] # or per trigger kind: {branch: [...], tag: [...]}
        context: services/web             # optional sub-directory
        env: {GO_MAIN_PACKAGE: ./cmd/web}
        incremental: true
        timeout: 600                      # seconds (capped by the bot's max_build_seconds)
        secrets: [npmrc]                  # build secrets the operator lends (bot/build_secrets.py)
        triggers:
          branches: [main, "release/*"]
          tags: ["v*"]
          pull_requests: true             # or globs on the base branch
          paths: ["services/web/**"]
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import jsonschema
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.image_ref import registry_of
from bot.safe_values import (
    artifact_problem,
    artifact_url_problem,
    context_problem,
    control_character,
    env_name_problem,
    env_value_problem,
    image_problem,
)
from bot.tag_templates import TagTemplateError, placeholders
from bot.templates import Artifact

FILE_NAME = ".s2i.yaml"
TRIGGER_KINDS = ("branch", "tag", "pull_request", "release")

# Which placeholders have a value for which kind of event.
PLACEHOLDERS: Mapping[str, frozenset[str]] = {
    "branch": frozenset({"branch", "sha", "short_sha"}),
    "tag": frozenset({"tag", "version", "sha", "short_sha"}),
    "pull_request": frozenset({"pr", "branch", "sha", "short_sha"}),
    "release": frozenset({"tag", "version", "sha", "short_sha"}),
}
DEFAULT_TAGS: Mapping[str, tuple[str, ...]] = {
    "branch": ("{branch}",),
    "tag": ("{version}",),
    "pull_request": ("pr-{pr}",),
    "release": ("{version}",),
}
_IMAGE_PATH = re.compile(r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*$")
# Bounds checked on the YAML event stream, before anything is built from it.
MAX_FILE_BYTES = 64 * 1024
MAX_DEPTH = 16  # mappings and sequences inside each other; a real file needs 5
MAX_NODES = 5000  # scalars, mappings and sequences; a file of 50 builds needs about 1500
_SHOWN = 60  # how much of a value from the file an error message quotes


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
        self.errors = sorted(set(errors), key=lambda e: (e.line, e.column, e.message))
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(f"{self.path} {e}" for e in self.errors)


@dataclass(frozen=True, slots=True)
class Triggers:
    branches: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    pull_requests: tuple[str, ...] | bool = False  # True: every base branch
    releases: bool = False
    paths: tuple[str, ...] = ()
    paths_ignore: tuple[str, ...] = ()

    def kinds(self) -> set[str]:
        kinds = set()
        if self.branches:
            kinds.add("branch")
        if self.tags:
            kinds.add("tag")
        if self.pull_requests:
            kinds.add("pull_request")
        if self.releases:
            kinds.add("release")
        return kinds


@dataclass(frozen=True, slots=True)
class RuntimeOverride:
    image: str
    artifacts: tuple[Artifact, ...] = ()


@dataclass(frozen=True, slots=True)
class BinarySource:
    url: str | None = None
    release_asset: str | None = None  # a glob on the release's asset names


@dataclass(frozen=True, slots=True)
class BuildEntry:
    name: str
    template: str
    image: str
    triggers: Triggers
    tags: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_TAGS))
    context: str = ""
    env: Mapping[str, str] = field(default_factory=dict)
    incremental: bool | None = None  # None: the template's default
    timeout: int | None = None  # seconds; None: the bot's max_build_seconds
    runtime: RuntimeOverride | None = None
    binary: BinarySource | None = None
    secrets: tuple[str, ...] = ()  # build secrets' names (bot/build_secrets.py)
    line: int = 0


@dataclass(frozen=True, slots=True)
class RepoConfig:
    builds: tuple[BuildEntry, ...]
    note: str = ""  # how the bot came by it, when not from the file (template detection)
    # Whether a new digest of a build's builder or runtime image rebuilds it (bot/base_images.py).
    rebuild_on_base_change: bool = True


def schema() -> dict[str, Any]:
    text = resources.files("bot.schema").joinpath("s2i.schema.json").read_text()
    return dict(json.loads(text))


_VALIDATOR = jsonschema.Draft202012Validator(schema())


# -- positions ------------------------------------------------------------------------------


def _position(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _error(node: Node, message: str) -> ConfigError:
    return ConfigError(*_position(node), message)


def _child(node: Node, key: str | int) -> tuple[Node | None, Node | None]:
    """(key node, value node) of a mapping entry or sequence item."""
    if isinstance(node, MappingNode):
        for key_node, value in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == key:
                return key_node, value
    if isinstance(node, SequenceNode) and isinstance(key, int) and key < len(node.value):
        return None, node.value[key]
    return None, None


def _node_at(root: Node, path: Sequence[str | int]) -> Node:
    node = root
    for part in path:
        _, child = _child(node, part)
        if child is None:
            break
        node = child
    return node


def _keys(node: Node) -> Iterator[tuple[str, Node]]:
    if isinstance(node, MappingNode):
        for key_node, _ in node.value:
            yield str(key_node.value), key_node


def _field(path: Sequence[str | int]) -> str:
    names = [p for p in path if isinstance(p, str)]
    return names[-1] if names else "the file"


def _schema_errors(root: Node, data: Any) -> list[ConfigError]:
    errors = []
    pending = list(_VALIDATOR.iter_errors(data))
    while pending:
        error = pending.pop(0)
        path = list(error.absolute_path)
        node = _node_at(root, path)
        name, kind = _field(path), error.validator
        if kind == "additionalProperties":
            allowed = sorted(error.schema.get("properties", {}))
            for key, key_node in _keys(node):
                if key not in allowed:
                    message = f"unknown key '{_shown(key)}'; allowed: {', '.join(allowed)}"
                    errors.append(_error(key_node, message))
        elif kind == "required":
            missing = error.message.split("'")[1]
            errors.append(_error(node, f"missing required key '{missing}'"))
        elif kind == "type":
            wanted = error.validator_value
            wanted = " or ".join(wanted) if isinstance(wanted, list) else wanted
            errors.append(_error(node, f"'{name}' must be {_article(wanted)}"))
        elif kind in ("minItems", "minProperties", "minLength"):
            errors.append(_error(node, f"'{name}' must not be empty"))
        elif kind in ("maxItems", "maxProperties", "maxLength"):
            limit = error.validator_value
            errors.append(_error(node, f"'{name}' has {len(error.instance)}; at most {limit}"))
        elif kind == "uniqueItems":
            errors.append(_error(node, f"'{name}' names an item twice"))
        elif kind == "pattern" and name == "name":
            message = f"name '{_shown(error.instance)}' must be lower-case letters, digits and '-'"
            errors.append(_error(node, message))
        elif kind == "oneOf" and (branch := _matching_branch(error)) is not None:
            pending.insert(0, branch)
        elif "description" in error.schema:
            errors.append(_error(node, f"'{name}': {error.schema['description']}"))
        else:
            errors.append(_error(node, f"'{name}': {error.message[:200]}"))
    return errors


def _matching_branch(error: jsonschema.ValidationError) -> jsonschema.ValidationError | None:
    """Of a failed `oneOf`, the first error of the one branch whose type the value has (a tag
    list that is too long, rather than "must be one of"), when exactly one has it."""
    context = error.context or []
    wrong_type = {
        e.relative_schema_path[0] for e in context if e.validator == "type" and not e.path
    }
    rest = [e for e in context if e.relative_schema_path[0] not in wrong_type]
    return rest[0] if len({e.relative_schema_path[0] for e in rest}) == 1 else None


def _article(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _shown(text: str) -> str:
    """A value from the file as an error message quotes it: bounded, one line."""
    text = " ".join(str(text).split())
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


# -- meaning ------------------------------------------------------------------------------


def _tag_errors(
    item: Node, triggers: Triggers, tags: Mapping[str, tuple[str, ...]]
) -> list[ConfigError]:
    errors = []
    _, tags_node = _child(item, "tags")
    for kind in sorted(triggers.kinds()):
        for template in tags[kind]:
            where = tags_node if tags_node is not None else item
            if isinstance(where, MappingNode):
                where = _child(where, kind)[1] or where
            try:
                names = set(placeholders(template))
            except TagTemplateError as exc:
                errors.append(_error(where, f"tag '{_shown(template)}': {exc}"))
                continue
            unknown = names - PLACEHOLDERS[kind]
            if unknown:
                allowed = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS[kind]))
                bad = ", ".join("{" + _shown(p) + "}" for p in sorted(unknown))
                message = (
                    f"tag '{_shown(template)}' uses {bad}, which has no value for {kind} builds"
                )
                errors.append(_error(where, f"{message}; allowed: {allowed}"))
            if kind == "pull_request" and "pr" not in names:
                message = f"pull request tag '{_shown(template)}' must contain {{pr}}"
                reason = "so a pull request can never overwrite another image tag"
                errors.append(_error(where, f"{message}, {reason}"))
    return errors


def _template_errors(node: Node, template: str, templates: Collection[str]) -> list[ConfigError]:
    if template in templates:
        return []
    known = ", ".join(sorted(templates)) or "(none)"
    return [_error(node, f"unknown template '{_shown(template)}'; known: {known}")]


# Why this repository may not use a build secret (bot/build_secrets.py SecretPolicy.problem
# bound to the repository), or None.
SecretProblem = Callable[[str], str | None]


def _secret_errors(
    item: Node, names: Sequence[str], secret_problem: SecretProblem | None
) -> list[ConfigError]:
    if secret_problem is None:
        return []
    errors = []
    for index, name in enumerate(names):
        if problem := secret_problem(name):
            errors.append(_error(_node_at(item, ["secrets", index]), problem))
    return errors


def _entry(
    item: Node,
    data: Mapping[str, Any],
    templates: Collection[str],
    secret_problem: SecretProblem | None = None,
) -> tuple[BuildEntry | None, list[ConfigError]]:
    errors = _template_errors(_child(item, "template")[1] or item, data["template"], templates)
    errors += _secret_errors(item, data.get("secrets", ()), secret_problem)
    image = data["image"]
    host = registry_of(image)
    if not _IMAGE_PATH.fullmatch(image[len(host) + 1 :] if host else image):
        node = _child(item, "image")[1] or item
        message = f"'{_shown(image)}' is not an image repository like registry.example.com/team/app"
        errors.append(_error(node, f"{message} (lower case, no tag: tags go in 'tags')"))
    raw = data["triggers"]
    pull_requests = raw.get("pull_requests", False)
    triggers = Triggers(
        branches=tuple(raw.get("branches", ())),
        tags=tuple(raw.get("tags", ())),
        pull_requests=tuple(pull_requests) if isinstance(pull_requests, list) else pull_requests,
        releases=raw.get("releases", False),
        paths=tuple(raw.get("paths", ())),
        paths_ignore=tuple(raw.get("paths_ignore", ())),
    )
    if not triggers.kinds():
        node = _child(item, "triggers")[1] or item
        errors.append(_error(node, "no trigger: give branches, tags, pull_requests or releases"))
    raw_tags = data.get("tags")
    if isinstance(raw_tags, list):
        tags = {kind: tuple(raw_tags) for kind in TRIGGER_KINDS}
    else:
        tags = dict(DEFAULT_TAGS) | {k: tuple(v) for k, v in (raw_tags or {}).items()}
    errors += _tag_errors(item, triggers, tags)
    binary = data.get("binary")
    if binary and binary.get("release_asset") and not triggers.releases:
        node = _child(item, "binary")[1] or item
        errors.append(_error(node, "'release_asset' needs 'releases: true' in triggers"))
    runtime = data.get("runtime")
    errors += _value_errors(item, data)
    if errors:
        return None, errors
    return BuildEntry(
        name=data["name"],
        template=data["template"],
        image=image,
        triggers=triggers,
        tags=tags,
        context=data.get("context", "").rstrip("/"),
        env={k: _env_value(v) for k, v in data.get("env", {}).items()},
        incremental=data.get("incremental"),
        timeout=int(data["timeout"]) if "timeout" in data else None,
        runtime=RuntimeOverride(
            runtime["image"], tuple(Artifact.parse(a) for a in runtime.get("artifacts", ()))
        ) if runtime else None,
        binary=BinarySource(binary.get("url"), binary.get("release_asset")) if binary else None,
        secrets=tuple(data.get("secrets", ())),
        line=_position(item)[0],
    ), []  # fmt: skip


def _value_errors(item: Node, data: Mapping[str, Any]) -> list[ConfigError]:
    """The values the runner writes into a Dockerfile, an argv or a path, checked as it
    checks them again (bot/safe_values.py). A value with a control character is already
    refused by _control_errors."""
    checks: list[tuple[Node | None, str | None]] = []
    if "context" in data:
        checks.append((_node_at(item, ["context"]), context_problem(data["context"])))
    env_node = _child(item, "env")[1]
    for name, value in data.get("env", {}).items():
        key_node, value_node = _child(env_node, name) if env_node is not None else (None, None)
        checks.append((key_node, env_name_problem(name)))
        checks.append((value_node, env_value_problem(name, _env_value(value))))
    runtime = data.get("runtime") or {}
    if "image" in runtime:
        checks.append((_node_at(item, ["runtime", "image"]), image_problem(runtime["image"])))
    for index, artifact in enumerate(runtime.get("artifacts", ())):
        node = _node_at(item, ["runtime", "artifacts", index])
        checks.append((node, artifact_problem(artifact)))
    binary = data.get("binary") or {}
    if "url" in binary:
        checks.append((_node_at(item, ["binary", "url"]), artifact_url_problem(binary["url"])))
    return [
        _error(node or item, problem)
        for node, problem in checks
        if problem and not (isinstance(node, ScalarNode) and control_character(node.value))
    ]


def _control_errors(root: Node) -> list[ConfigError]:
    """Every key and string of the file: no control characters. A newline in a value that
    reaches the generated Dockerfile would start an instruction of the file's choosing; no
    value of `.s2i.yaml` has a use for one."""
    errors = []
    stack: list[tuple[Node, str]] = [(root, "the file")]
    while stack:
        node, name = stack.pop()
        if isinstance(node, MappingNode):
            for key, value in node.value:
                key_name = str(key.value) if isinstance(key, ScalarNode) else name
                stack += [(key, key_name), (value, key_name)]
        elif isinstance(node, SequenceNode):
            stack += [(child, name) for child in node.value]
        elif isinstance(node, ScalarNode) and (found := control_character(str(node.value))):
            shown = _shown(name.encode("unicode_escape").decode())
            message = f"'{shown}' must not contain control characters (found {found})"
            errors.append(_error(node, message))
    return errors


def _env_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _event_error(event: yaml.Event, message: str) -> ConfigError:
    mark = event.start_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return ConfigError(line, column, message)


def file_too_large(size: int, path: str = FILE_NAME) -> RepoConfigError:
    """The error for a file of `size` bytes over MAX_FILE_BYTES (also when the forge did not
    even serve it)."""
    message = f"the file is {size} bytes; at most {MAX_FILE_BYTES} (64 KiB) are read"
    return RepoConfigError(path, [ConfigError(1, 1, message)])


def _bounds_error(text: str) -> ConfigError | None:
    """The first bound the file breaks, read from the YAML event stream (which expands no
    alias and builds nothing), or None."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        return file_too_large(size).errors[0]
    depth = nodes = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            return _event_error(
                event,
                f"YAML aliases (*{_shown(event.anchor or '')}) are not supported: "
                "write the value out where it is used",
            )
        if isinstance(event, yaml.ScalarEvent | yaml.CollectionStartEvent):
            nodes += 1
            if nodes > MAX_NODES:
                return _event_error(event, f"the file has more than {MAX_NODES} values")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                return _event_error(event, f"nested more than {MAX_DEPTH} levels deep")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return None


def _key_errors(root: Node) -> list[ConfigError]:
    """Keys given twice (YAML keeps the last one silently) and merge keys (`<<`, which only
    make sense with aliases)."""
    errors = []
    stack = [root]
    while stack:  # iterative: the depth is bounded, but recursion needs no second thought
        node = stack.pop()
        if isinstance(node, MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                if isinstance(key, ScalarNode):
                    if key.tag == "tag:yaml.org,2002:merge":
                        errors.append(_error(key, "merge keys (<<) are not supported"))
                    elif key.value in seen:
                        errors.append(_error(key, f"key '{_shown(key.value)}' is given twice"))
                    seen.add(key.value)
                stack += [key, value]
        elif isinstance(node, SequenceNode):
            stack += node.value
    return errors


def _load(text: str, path: str) -> tuple[Node | None, Any]:
    """The file's node tree (for positions) and its data, within the bounds."""
    try:
        bounds = _bounds_error(text)
        if bounds is not None:
            raise RepoConfigError(path, [bounds])
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
            errors = _key_errors(root) if root is not None else []
            if errors:
                raise RepoConfigError(path, errors)
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"invalid YAML: {exc.problem or exc.context}"
        raise RepoConfigError(path, [ConfigError(line, column, message)]) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        before = text[: exc.position]
        line, column = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        code = exc.character if isinstance(exc.character, int) else 0
        message = f"invalid YAML: character #x{code:04x} is not allowed"
        raise RepoConfigError(path, [ConfigError(line, column, message)]) from None
    except ValueError as exc:  # a scalar that cannot be built, e.g. an integer too long
        raise RepoConfigError(path, [ConfigError(1, 1, f"invalid YAML: {exc}")]) from None
    return root, data


def parse_repo_config(
    text: str,
    *,
    templates: Collection[str],
    path: str = FILE_NAME,
    secret_problem: SecretProblem | None = None,
) -> RepoConfig:
    """Parse and validate; raise RepoConfigError listing every problem with its position.
    With `secret_problem`, each build secret a build names is checked (unknown, or not for
    this repository); without, only its shape."""
    root, data = _load(text, path)
    if root is None:
        raise RepoConfigError(path, [ConfigError(1, 1, "the file is empty; expected 'builds:'")])
    if not isinstance(data, dict):
        raise RepoConfigError(path, [_error(root, "expected a mapping with the key 'builds'")])
    control = _control_errors(root)
    shown_at = {(e.line, e.column) for e in control}
    errors = [e for e in _schema_errors(root, data) if (e.line, e.column) not in shown_at]
    errors += control
    if errors:
        # Still name unknown templates, so one run of `validate` shows every mistake.
        raw_builds = data.get("builds")
        for index, item in enumerate(raw_builds if isinstance(raw_builds, list) else []):
            if isinstance(item, dict) and isinstance(item.get("template"), str):
                node = _node_at(root, ["builds", index, "template"])
                errors += _template_errors(node, item["template"], templates)
        raise RepoConfigError(path, errors)
    builds: list[BuildEntry] = []
    items = _child(root, "builds")[1]
    assert isinstance(items, SequenceNode)
    for item, entry_data in zip(items.value, data["builds"], strict=True):
        entry, entry_errors = _entry(item, entry_data, templates, secret_problem)
        errors += entry_errors
        if entry is None:
            continue
        if any(b.name == entry.name for b in builds):
            errors.append(_error(item, f"build name '{entry.name}' is used twice"))
        builds.append(entry)
    if errors:
        raise RepoConfigError(path, errors)
    return RepoConfig(
        tuple(builds), rebuild_on_base_change=data.get("rebuild_on_base_change", True)
    )
