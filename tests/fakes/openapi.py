"""GitHub's published OpenAPI description, used to check what the fakes accept and return.

The description is GitHub's own, from the npm package ``@octokit/openapi``, stored in
``tests/fakes/data/github/`` (see the README there: which version, how to refresh it). The
document is 13 MB, so it is parsed once per process (:func:`load` is cached) and each component
schema is converted to JSON Schema only when a validation first needs it.

OpenAPI 3.0 schemas are JSON Schema draft 4 plus a few keywords; the conversion
(:func:`to_json_schema`) turns ``nullable: true`` into a ``null`` type, drops keywords that
only document (``example``, ``discriminator``...), and rewrites ``#/components/schemas/X``
references to ``urn:github-openapi:schemas:X`` resources that a ``referencing`` registry
converts on demand.
"""

from __future__ import annotations

import functools
import json
import lzma
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema.exceptions
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

DATA = Path(__file__).parent / "data" / "github"
# github.com's description (``generated/api.github.com.json`` of @octokit/openapi), xz-compressed.
DESCRIPTION = DATA / "api.github.com.json.xz"

_SCHEMA_REF = "#/components/schemas/"
_PARAMETER_REF = "#/components/parameters/"
_URN = "urn:github-openapi:schemas:"
# Keywords that only document; dropped so draft 4 validation never trips on them.
_DOC_ONLY = frozenset(
    {"nullable", "example", "examples", "discriminator", "xml", "externalDocs", "deprecated"}
    | {"readOnly", "writeOnly", "description", "title"}
)
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "definitions"})
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf"})
_SCHEMA_ONE = frozenset({"items", "additionalProperties", "not"})

JSON = Any  # a decoded JSON value


def to_json_schema(schema: JSON) -> JSON:
    """Convert one OpenAPI 3.0 schema object to JSON Schema draft 4 (not its ``$ref`` targets)."""
    if not isinstance(schema, dict):
        return schema  # ``additionalProperties: false`` and friends
    out: dict[str, JSON] = {}
    for key, value in schema.items():
        if key in _DOC_ONLY:
            continue
        if key in _SCHEMA_MAPS:
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS:
            out[key] = [to_json_schema(sub) for sub in value]
        elif key in _SCHEMA_ONE:
            out[key] = to_json_schema(value)
        elif key == "$ref":
            out[key] = _rewrite_ref(value)
        else:
            out[key] = value
    if schema.get("nullable") is True:
        # OpenAPI 3.0 "nullable: true" = JSON Schema's extra "null" type (OAS 3.0.3 §4.7.24.1).
        if "type" in out and "$ref" not in out:
            out["type"] = [out["type"], "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def _rewrite_ref(ref: str) -> str:
    if not ref.startswith(_SCHEMA_REF):
        raise ValueError(f"unsupported $ref in GitHub's description: {ref}")
    name, _, rest = ref[len(_SCHEMA_REF) :].partition("/")
    return _URN + name + (f"#/{rest}" if rest else "")


@dataclass(frozen=True)
class Operation:
    """One documented (method, path template) of GitHub's REST API."""

    method: str
    template: str
    operation_id: str
    spec: dict[str, JSON] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Match:
    operation: Operation
    params: dict[str, str]


class OpenAPI:
    """Finds operations by (method, path) and validates bodies against their schemas."""

    def __init__(self, document: dict[str, JSON]) -> None:
        self._doc = document
        self._lock = threading.Lock()
        self._converted: dict[str, JSON] = {}
        self._routes: list[tuple[re.Pattern[str], list[str], str]] | None = None
        self._registry: Registry[JSON] = Registry(retrieve=self._retrieve)  # type: ignore[call-arg]

    # -- finding operations -------------------------------------------------------------
    def find(self, method: str, path: str) -> Match | None:
        """The documented operation for ``path`` (without the ``/api/v3`` prefix), or None.

        A literal segment wins over a template (``/repos/{o}/{r}/commits/{ref}/statuses``
        beats ``{ref}`` swallowing ``x/statuses``): candidates are tried most literal first.
        """
        method = method.lower()
        for pattern, names, template in self._route_table():
            m = pattern.fullmatch(path)
            if m is None:
                continue
            spec = self._doc["paths"][template].get(method)
            if spec is not None:
                op = Operation(method.upper(), template, spec.get("operationId", ""), spec)
                return Match(op, dict(zip(names, m.groups(), strict=True)))
        return None

    def operation(self, method: str, template: str) -> Operation:
        spec = self._doc["paths"][template][method.lower()]
        return Operation(method.upper(), template, spec.get("operationId", ""), spec)

    def _route_table(self) -> list[tuple[re.Pattern[str], list[str], str]]:
        with self._lock:
            if self._routes is None:
                shared = self._doc["components"]["parameters"]
                routes = [(*_compile(t, item, shared), t) for t, item in self._doc["paths"].items()]
                # Most literal first; then fewer parameters.
                routes.sort(key=lambda r: (-len(re.sub(r"\{[^}]*\}", "", r[2])), len(r[1])))
                self._routes = routes
            return self._routes

    # -- validation ---------------------------------------------------------------------
    def validate_request(self, op: Operation, body: JSON) -> list[str]:
        """Errors of a request JSON body against the operation's ``requestBody`` schema."""
        request_body = op.spec.get("requestBody")
        if request_body is None:
            return [] if body is None else [f"{op.operation_id}: takes no request body"]
        if body is None:
            required = request_body.get("required", False)
            return [f"{op.operation_id}: request body is required"] if required else []
        schema = _json_schema_of(request_body.get("content", {}))
        if schema is None:
            return []
        return self._validate(schema, body, f"{op.method} {op.template} request")

    def validate_response(self, op: Operation, status: int, body: JSON) -> list[str]:
        """Errors of a JSON response body against the schema documented for ``status``.

        GitHub documents 2xx answers per operation but not every error it can send (401,
        422...); an undocumented error status is checked against ``basic-error``, the shape of
        every GitHub error body. An undocumented success status is itself an error.
        """
        where = f"{op.method} {op.template} response {status}"
        responses = op.spec.get("responses", {})
        response = responses.get(str(status)) or responses.get("default")
        if response is None:
            if status < 400:
                return [f"{where}: status {status} is not documented (has {sorted(responses)})"]
            return self._validate({"$ref": _SCHEMA_REF + "basic-error"}, body, where)
        response = self._deref(response)
        content = response.get("content")
        if not content:
            return [] if body is None else [f"{where}: documented without a body"]
        schema = _json_schema_of(content)
        return [] if schema is None else self._validate(schema, body, where)

    def validate_webhook(self, event: str, payload: JSON) -> list[str]:
        """Errors of a webhook payload against GitHub's schema for its event and action
        (the description's ``x-webhooks``, keyed like ``pull-request-opened``)."""
        key = event.replace("_", "-")
        action = payload.get("action") if isinstance(payload, dict) else None
        if action:
            key += "-" + str(action).replace("_", "-")
        hook = self._doc.get("x-webhooks", {}).get(key)
        if hook is None:
            return [f"{key}: not a webhook in GitHub's description"]
        schema = _json_schema_of(hook["post"]["requestBody"]["content"])
        return [] if schema is None else self._validate(schema, payload, f"webhook {key}")

    def schema(self, name: str) -> JSON:
        """The converted ``#/components/schemas/<name>``."""
        with self._lock:
            if name not in self._converted:
                self._converted[name] = to_json_schema(self._doc["components"]["schemas"][name])
            return self._converted[name]

    def example(self, name: str) -> JSON:
        """``#/components/examples/<name>`` value (shared; deep-copy before changing it)."""
        return self._doc["components"]["examples"][name]["value"]

    def _validate(self, schema: JSON, body: JSON, where: str) -> list[str]:
        validator = jsonschema.Draft4Validator(to_json_schema(schema), registry=self._registry)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        return [f"{where}: {_describe(e)}" for e in errors]

    def _deref(self, obj: dict[str, JSON]) -> dict[str, JSON]:
        while "$ref" in obj:
            node: JSON = self._doc
            for part in obj["$ref"].removeprefix("#/").split("/"):
                node = node[part]
            obj = node
        return obj

    def _retrieve(self, uri: str) -> Resource[JSON]:
        if not uri.startswith(_URN):
            raise LookupError(uri)
        return Resource.from_contents(self.schema(uri[len(_URN) :]), default_specification=DRAFT4)


def _compile(
    template: str, item: dict[str, JSON], shared: dict[str, JSON]
) -> tuple[re.Pattern[str], list[str]]:
    # ``x-multi-segment`` parameters (a file path, a ref with slashes) may contain "/"; most
    # are shared ``#/components/parameters/...`` (``git-ref-only``: ``tags/v1.2.3``).
    params = [
        shared[p["$ref"].removeprefix(_PARAMETER_REF)] if "$ref" in p else p
        for method in ("get", "post", "put", "patch", "delete")
        for p in item.get(method, {}).get("parameters", [])
    ]
    multi = {p.get("name") for p in params if p.get("x-multi-segment")}
    names: list[str] = []
    regex = ""
    for literal, name in re.findall(r"([^{]*)(?:\{([^}]*)\})?", template):
        regex += re.escape(literal)
        if name:
            names.append(name)
            regex += "(.+)" if name in multi else "([^/]+)"
    return re.compile(regex), names


def _json_schema_of(content: dict[str, JSON]) -> JSON | None:
    for media_type in ("application/json", *content):
        if media_type in content and "json" in media_type:
            schema: JSON = content[media_type].get("schema")
            return schema
    return None


def _describe(error: jsonschema.exceptions.ValidationError) -> str:
    message = error.message if len(error.message) < 200 else error.message[:200] + "..."
    text = f"at {error.json_path}: {message}"
    if error.context:  # oneOf/anyOf: say why the closest branch failed
        best = jsonschema.exceptions.best_match(error.context)
        text += f" (closest: at {best.json_path}: {best.message[:200]})"
    return text


@functools.cache
def load(path: Path = DESCRIPTION) -> OpenAPI:
    """GitHub's OpenAPI description, parsed once per process."""
    with lzma.open(path) as f:
        return OpenAPI(json.load(f))
