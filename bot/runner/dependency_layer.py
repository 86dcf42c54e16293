"""The dependency layer: a builder that opts in gets its dependencies (a virtualenv,
node_modules) installed in a layer of their own, before the application's source is copied,
so the engine's build cache reuses that layer, and the registry the pushed blob, for as long
as the files the dependencies are installed from do not change (builders/README.md).

A builder opts in with the label `io.s2i-bot.dependency-files` (the files, relative to the
application's source, that decide its dependencies, e.g. `requirements.txt` or
`package.json package-lock.json`) and an `assemble-dependencies` script beside its
`assemble`. The runner copies those of the files the source has into a directory of the build
context of their own; the Dockerfile, right after s2i's `FROM <builder>` and `ENV`s and
before anything that changes with each commit (s2i's LABELs name the commit; its COPY of the
source), copies them to where assemble finds the source (`<destination>/src`) and runs
`assemble-dependencies`. With the same files and environment, the docker classic builder (or
`buildah bud --layers`) finds every one of these steps in its cache: the layer is the one the
previous image has, with the same digest, and the push says it exists. assemble then sees the
dependencies installed (the builder's own marker) and installs only the application.

A builder without the label, or a repository with its own `.s2i/bin/assemble` (which may not
know about the layer), builds as s2i's Dockerfile says. Pure text in, text out, but for
`copy_dependency_files`.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

from bot.runner import s2i
from bot.runner.dockerfile import BUILDER_STAGE, UnsafeValue, logical_lines, scripts_dir_from_url
from bot.runner.process import BuildLog
from bot.safe_values import absolute_path_problem, user_problem

DEPENDENCY_FILES = "io.s2i-bot.dependency-files"
SCRIPT = "assemble-dependencies"
# Beside s2i's `upload/` in the build context.
CONTEXT_DIR = "s2i-bot-dependencies"

_RELATIVE = re.compile(r"[A-Za-z0-9_.+-]+(?:/[A-Za-z0-9_.+-]+)*")


def dependency_files(label: str) -> list[str]:
    """The files the label names; UnsafeValue for one that is not a plain relative path."""
    names = label.split()
    for name in names:
        parts = name.split("/")
        if not _RELATIVE.fullmatch(name) or any(p in (".", "..") for p in parts):
            raise UnsafeValue(
                f"the builder's label {DEPENDENCY_FILES} names '{name[:60]}', which is not a "
                "path relative to the source of letters, digits and . _ + - /"
            )
    return names


def copy_dependency_files(context: Path, names: list[str]) -> list[str]:
    """Copy the named files that s2i's upload/src holds (regular files inside it; symlinks
    are left out) into the context's CONTEXT_DIR; the names of those copied."""
    source = (context / "upload" / "src").resolve()
    target = context / CONTEXT_DIR
    copied = []
    for name in names:
        path = source / name
        if path.is_symlink() or not path.is_file():
            continue
        if not path.resolve().is_relative_to(source):  # a symlinked directory on the way
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        # Contents only, with the same mode each time: the classic builder keys a COPY on
        # the files' contents, names, modes and owners (not their times).
        shutil.copyfile(path, target / name)
        (target / name).chmod(0o644)
        copied.append(name)
    return copied


def uses_image_assemble(dockerfile: str, scripts_dir: str) -> bool:
    """Whether the build runs the builder image's own assemble (not the repository's)."""
    assemble = f"RUN {scripts_dir.rstrip('/')}/assemble"
    return sum(line == assemble for line in logical_lines(dockerfile)) == 1


def with_dependency_layer(dockerfile: str, *, scripts_dir: str, destination: str, user: str) -> str:
    """s2i's Dockerfile with the dependency steps right after the builder stage's FROM and
    ENV instructions, and s2i's LABELs moved after them (a label names the commit: before
    the steps, it would make each commit's layers new)."""
    for problem in (
        absolute_path_problem(scripts_dir),
        absolute_path_problem(destination),
        user_problem(user),
    ):
        if problem:
            raise UnsafeValue(problem)
    lines = logical_lines(dockerfile)
    start = next(
        (i for i, line in enumerate(lines)
         if line.upper().startswith("FROM ") and line.endswith(f" AS {BUILDER_STAGE}")),
        None,
    )  # fmt: skip
    if start is None:
        raise ValueError(f"no 'FROM ... AS {BUILDER_STAGE}' in the Dockerfile")
    end = start + 1
    while end < len(lines) and lines[end].split(" ", 1)[0].upper() in ("LABEL", "ENV", "#"):
        end += 1
    head = lines[start + 1 : end]
    envs = [line for line in head if line.upper().startswith("ENV ")]
    labels = [line for line in head if line.upper().startswith("LABEL ")]
    chown = user if ":" in user else f"{user}:0"
    src = destination.rstrip("/") + "/src/"
    steps = [
        f"COPY --chown={chown} {json.dumps([CONTEXT_DIR + '/', src])}",
        f"USER {user}",
        f"RUN {scripts_dir.rstrip('/')}/{SCRIPT}",
    ]
    out = [*lines[: start + 1], *envs, *steps, *labels, *lines[end:]]
    return "\n".join(out) + "\n"


def add_dependency_layer(
    text: str, labels: Mapping[str, str], context: Path, user: str, log: BuildLog
) -> tuple[str, bool]:
    """The Dockerfile with the dependency layer when the builder opts in and the source has
    any of its dependency files (copied into the context); whether it has one."""
    label = labels.get(DEPENDENCY_FILES, "").strip()
    if not label:
        return text, False
    url = labels.get(s2i.SCRIPTS_URL, s2i.DEFAULT_SCRIPTS_URL)
    scripts_dir = scripts_dir_from_url(url)
    if not url.startswith("image://"):
        log.line(f"dependency layer: not used, the builder's scripts are not in the image ({url})")
        return text, False
    if not uses_image_assemble(text, scripts_dir):
        log.line("dependency layer: not used, the repository has an assemble script of its own")
        return text, False
    copied = copy_dependency_files(context, dependency_files(label))
    if not copied:
        log.line(f"dependency layer: not used, the source has none of {label}")
        return text, False
    destination = labels.get(s2i.DESTINATION, "/tmp")
    text = with_dependency_layer(text, scripts_dir=scripts_dir, destination=destination, user=user)
    log.line(
        f"dependency layer: {scripts_dir}/{SCRIPT} installs from {' '.join(copied)} in a layer "
        "of its own, reused while they are unchanged"
    )
    return text, True
