"""What a value may look like before it reaches a generated Dockerfile, an argv or a path.

Whoever can push writes `.s2i.yaml`, so each of its values that the runner puts into s2i's
Dockerfile (runtime image, runtime artifacts, env names and values), into a tool's argv or
onto the file system (context directory, artifact URL and file name) is checked here with an
anchored pattern (`fullmatch`: Python's `$` also matches before a final newline). The same
checks run when the file is read (bot/repo_config.py, a failed `s2i/config` status quoting the
line) and again when the runner renders (bot/runner/dockerfile.py, bot/runner/source_tree.py),
so a value that slipped past one is still refused by the other. Pure: each check returns the
problem as a sentence, or None.

A Dockerfile instruction ends at a newline (Docker's parser reads lines; the BuildKit and
buildah parsers alike), so no value may hold one: every control character is refused (C0,
DEL, C1), and the Unicode line and paragraph separators with them.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

# Docker's image reference grammar (distribution/reference): [host[:port]/]path[:tag][@digest],
# path components lower case, separated by '.', '_', '__' or dashes.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST = rf"(?:{_LABEL}(?:\.{_LABEL})*(?::[0-9]{{1,5}})?)"
_IMAGE_REF = re.compile(
    rf"(?:{_HOST}/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?"
)
# A path inside an image: no quotes, spaces, '$' (Docker expands variables in COPY, even in
# its JSON form) or backslashes. An artifact's source may be a glob in the builder stage.
_ARTIFACT_SOURCE = re.compile(r"/[A-Za-z0-9._@+=,~*?/-]*")
_ARTIFACT_DESTINATION = re.compile(r"[A-Za-z0-9._@+=,~/-]+")
_ABSOLUTE_PATH = re.compile(r"/[A-Za-z0-9._@+=,~/-]*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# USER in a Dockerfile: a name or uid, optionally :group.
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(?::[A-Za-z0-9_][A-Za-z0-9_.-]*)?")
_FILE_NAME = re.compile(r"[A-Za-z0-9._+-]+")


def control_character(text: str) -> str | None:
    """The first control character of text as U+XXXX, or None."""
    match = _CONTROL.search(text)
    return f"U+{ord(match.group()):04X}" if match else None


def _no_control(what: str, text: str) -> str | None:
    found = control_character(text)
    return f"{what} must not contain control characters (found {found})" if found else None


def image_problem(image: str) -> str | None:
    """An image reference as FROM takes it: registry.example.com/team/app:tag."""
    if problem := _no_control("an image reference", image):
        return problem
    if not _IMAGE_REF.fullmatch(image):
        return (
            f"'{image}' is not an image reference like registry.example.com/team/app:tag "
            "(lower-case path, optional tag and @sha256 digest)"
        )
    return None


def artifact_problem(text: str) -> str | None:
    """A runtime artifact `/source/in/builder:destination-dir` (s2i's --runtime-artifact)."""
    if problem := _no_control("a runtime artifact", text):
        return problem
    source, sep, destination = text.partition(":")
    if not sep or not _ARTIFACT_SOURCE.fullmatch(source):
        return (
            f"artifact '{text}' must be '/absolute/source:destination-dir'; the source an "
            "absolute path of letters, digits and . _ - / @ + = , ~ (and * ? as globs)"
        )
    if not _ARTIFACT_DESTINATION.fullmatch(destination):
        return (
            f"artifact '{text}': the destination must be a path of letters, digits and "
            ". _ - / @ + = , ~"
        )
    return None


def env_name_problem(name: str) -> str | None:
    if not _ENV_NAME.fullmatch(name):
        shown = name.encode("unicode_escape").decode()
        return f"env name '{shown}' must be letters, digits and '_', not starting with a digit"
    return None


def env_value_problem(name: str, value: str) -> str | None:
    return _no_control(f"the value of env {name}", value)


def context_problem(context: str) -> str | None:
    """`context`: a relative directory inside the checkout. Whether a component is a symlink
    only the checkout can tell: bot/runner/source_tree.py checks that."""
    if problem := _no_control("context", context):
        return problem
    if context.startswith("/") or "\\" in context:
        return f"context '{context}' must be a relative path inside the repository (no leading /)"
    if ".." in context.split("/"):
        return f"context '{context}' must stay inside the repository ('..' is not allowed)"
    return None


def user_problem(user: str) -> str | None:
    if not _USER.fullmatch(user):
        return f"user '{user}' must be a user name or uid, optionally ':group'"
    return None


def absolute_path_problem(path: str) -> str | None:
    if not _ABSOLUTE_PATH.fullmatch(path):
        return f"'{path}' must be an absolute path of letters, digits and . _ - / @ + = , ~"
    return None


def file_name_problem(name: str) -> str | None:
    """A file name of its own (no directory, not . or ..)."""
    if not _FILE_NAME.fullmatch(name) or name in (".", ".."):
        return f"'{name}' must be a file name of letters, digits and . _ + -"
    return None


def artifact_url_problem(url: str) -> str | None:
    """A B2I `binary.url` as the file may give it: http(s), a host, no credentials. Where it
    may lead (no private address, a size cap, each redirect again) the runner checks when it
    downloads (bot/runner/artifact.py)."""
    if problem := _no_control("url", url):
        return problem
    if any(c.isspace() for c in url):
        return f"url '{url}' must not contain spaces"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError as exc:
        return f"url '{url}' is not a URL: {exc}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"url '{url}' must be an http:// or https:// URL with a host"
    if parts.username is not None or parts.password is not None:
        return f"url '{url}' must not carry credentials (user:password@)"
    return None
