"""The runtime stage s2i-bot appends to s2i's generated Dockerfile. Pure text in, text out.

`s2i build --as-dockerfile` refuses `--runtime-image` ("use multi-stage builds instead"), so,
as OpenShift's builder does, we add the second stage ourselves: FROM the runtime image, copy
each runtime artifact out of s2i's builder stage (which we name `s2i-build`), keep s2i's
provenance labels, and run the runtime image's `run` script.

Every value written here is checked again (bot/safe_values.py; the config was checked when it
was read) and refused with UnsafeValue, and every instruction that has a JSON (exec) form is
written in it (`COPY [...]`, `RUN [...]`, `CMD [...]`), so no value can end an instruction
and start another.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from bot.build_secrets import SecretUse, env_problem, name_problem
from bot.safe_values import (
    absolute_path_problem,
    artifact_problem,
    control_character,
    image_problem,
    user_problem,
)
from bot.templates import RuntimeStage

BUILDER_STAGE = "s2i-build"


class UnsafeValue(ValueError):
    """A value the runner will not write into a Dockerfile."""


def _checked(problem: str | None) -> None:
    if problem:
        raise UnsafeValue(problem)


def name_builder_stage(dockerfile: str, builder_image: str) -> str:
    """Name s2i's builder stage, so the runtime stage and the cache image can refer to it:
    with --incremental it is not stage 0 (`FROM <previous> as cached` comes first)."""
    _checked(image_problem(builder_image))
    lines = dockerfile.splitlines()
    for index, line in enumerate(lines):
        parts = line.split()
        if len(parts) == 2 and parts[0].upper() == "FROM" and parts[1] == builder_image:
            lines[index] = f"{line} AS {BUILDER_STAGE}"
            return "\n".join(lines) + "\n"
    raise ValueError(f"no 'FROM {builder_image}' in the Dockerfile s2i generated")


_SAVE = re.compile(
    r"^RUN if \[ -s (?P<script>\S+/save-artifacts) \]; then (?P=script) > /tmp/artifacts\.tar; "
    r"else touch /tmp/artifacts\.tar; fi$"
)
_COPY_TAR = re.compile(r"^COPY (?P<flags>.*)--from=cached /tmp/artifacts\.tar /tmp/artifacts\.tar$")
_UNPACKED = "/tmp/s2i-bot-artifacts"
_COPY_FLAGS = re.compile(r"(?:--chown=[A-Za-z0-9_.-]+(?::[A-Za-z0-9_.-]+)? )?")
_EXTRACT = re.compile(r"^RUN if \[ -s /tmp/artifacts\.tar \]; then .*rm /tmp/artifacts\.tar$")


def unpack_artifacts_in_cached_stage(dockerfile: str) -> str:
    """s2i's incremental Dockerfile streams save-artifacts into a tar in the `cached` stage,
    COPYs the tar into the build stage and unpacks it there: the artifacts land in two layers
    (the tar, then its files), each pushed with every image. Unpacking in the cached stage
    and copying the directory puts them in one. A Dockerfile not in that shape is returned
    unchanged."""
    lines = logical_lines(dockerfile)
    save, copy, extract = (_find(lines, p) for p in (_SAVE, _COPY_TAR, _EXTRACT))
    if save is None or copy is None or extract is None:
        return dockerfile
    script = save[1].group("script")
    flags = copy[1].group("flags")
    _checked(absolute_path_problem(script))
    if not _COPY_FLAGS.fullmatch(flags):
        raise UnsafeValue(f"unexpected COPY flags '{flags}' in the Dockerfile s2i generated")
    # A fresh directory: the previous image may hold an older /tmp/artifacts of its own.
    shell = f"mkdir {_UNPACKED} && if [ -s {script} ]; then {script} | tar -xf - -C {_UNPACKED}; fi"
    lines[save[0]] = f"RUN {json.dumps(['/bin/sh', '-c', shell])}"
    lines[copy[0]] = f"COPY {flags}--from=cached {json.dumps([_UNPACKED, '/tmp/artifacts'])}"
    del lines[extract[0]]
    return "\n".join(lines) + "\n"


# A builder's promise (builders/README.md): what its save-artifacts streams is the content
# of this directory of the image, which assemble left there.
ARTIFACTS_DIR = "io.s2i-bot.artifacts-dir"


def copy_artifacts_dir(dockerfile: str, directory: str) -> str:
    """s2i's incremental Dockerfile taking the previous build's artifacts straight from the
    directory its builder keeps them in (ARTIFACTS_DIR): no container runs save-artifacts in
    the `cached` stage, and the artifacts land in one layer. A Dockerfile not in s2i's shape
    is returned unchanged."""
    _checked(absolute_path_problem(directory))
    lines = logical_lines(dockerfile)
    save, copy, extract = (_find(lines, p) for p in (_SAVE, _COPY_TAR, _EXTRACT))
    if save is None or copy is None or extract is None:
        return dockerfile
    flags = copy[1].group("flags")
    if not _COPY_FLAGS.fullmatch(flags):
        raise UnsafeValue(f"unexpected COPY flags '{flags}' in the Dockerfile s2i generated")
    lines[copy[0]] = f"COPY {flags}--from=cached {json.dumps([directory, '/tmp/artifacts'])}"
    for index in sorted((save[0], extract[0]), reverse=True):
        del lines[index]
    return "\n".join(lines) + "\n"


def _find(lines: list[str], pattern: re.Pattern[str]) -> tuple[int, re.Match[str]] | None:
    for index, line in enumerate(lines):
        if match := pattern.match(line):
            return index, match
    return None


def logical_lines(dockerfile: str) -> list[str]:
    """Dockerfile instructions with backslash continuations joined by single spaces."""
    lines, parts = [], []
    # Lines end at "\n" only, as Docker's parser reads them (bufio.ScanLines), not at every
    # character Python's splitlines() takes for a line break.
    for raw in dockerfile.split("\n"):
        stripped = raw.strip()
        if stripped.endswith("\\"):
            parts.append(stripped[:-1].strip())
            continue
        parts.append(stripped)
        line = " ".join(p for p in parts if p)
        if line:
            lines.append(line)
        parts = []
    if any(parts):
        lines.append(" ".join(p for p in parts if p))
    return lines


# One LABEL of s2i's: "key"="value" pairs, Go-quoted (strconv.Quote escapes every
# non-printable character), no raw control character anywhere.
_PLAIN = r"[^\x00-\x1f\x7f-\x9f\u2028\u2029]"
_QUOTED = rf'"(?:(?!["\\]){_PLAIN}|\\{_PLAIN})*"'
_LABEL = re.compile(rf"LABEL(?: {_QUOTED}={_QUOTED})+")


def label_instructions(dockerfile: str) -> list[str]:
    """s2i's LABEL instructions, each checked to be only quoted pairs on one line."""
    labels = [line for line in logical_lines(dockerfile) if line.upper().startswith("LABEL ")]
    for label in labels:
        if not _LABEL.fullmatch(label):
            found = control_character(label)
            detail = f" (it holds {found})" if found else ""
            raise UnsafeValue(f"a LABEL of s2i's Dockerfile is not quoted pairs{detail}")
    return labels


def runtime_stage(
    builder_dockerfile: str, runtime: RuntimeStage, *, scripts_dir: str, user: str
) -> str:
    """The text of the stage that copies the builder stage's artifacts into the slim runtime
    image. UnsafeValue when a value is not one the runner writes."""
    _checked(image_problem(runtime.image))
    _checked(user_problem(user))
    _checked(absolute_path_problem(scripts_dir))
    lines = [f"FROM {runtime.image}", *label_instructions(builder_dockerfile)]
    for artifact in runtime.artifacts:
        _checked(artifact_problem(f"{artifact.source}:{artifact.destination}"))
        destination = artifact.destination.rstrip("/") + "/"
        paths = json.dumps([artifact.source, destination])
        lines.append(f"COPY --from={BUILDER_STAGE} --chown={user}:0 {paths}")
    lines += [f"USER {user}", f"CMD {json.dumps([scripts_dir.rstrip('/') + '/run'])}"]
    return "\n".join(lines) + "\n"


def scripts_dir_from_url(url: str) -> str:
    """`image:///usr/libexec/s2i` -> `/usr/libexec/s2i` (s2i's scripts-url inside an image)."""
    prefix = "image://"
    return url[len(prefix) :] if url.startswith(prefix) else "/usr/libexec/s2i"


_ASSEMBLE = re.compile(r"RUN (?P<script>/[A-Za-z0-9._/-]+/assemble)")
# The dependency layer's step (bot/runner/dependency_layer.py): a private index is needed there.
_ASSEMBLE_DEPENDENCIES = re.compile(r"RUN (?P<script>/[A-Za-z0-9._/-]+/assemble-dependencies)")
_UID = re.compile(r"(?P<uid>[0-9]{1,10})(?::[A-Za-z0-9_][A-Za-z0-9_.-]*)?")


def mount_secrets(dockerfile: str, secrets: Sequence[SecretUse], user: str) -> str:
    """s2i's assemble step, and it alone (with the dependency layer's step when the
    Dockerfile has one: bot/runner/dependency_layer.py), with each build secret mounted as a
    file (BuildKit's and buildah's `RUN --mount=type=secret`, readable only by the assemble
    user) and its
    variable set to the file's path for that one command, never in an ENV instruction: no
    layer, no cache image and no image configuration holds the file or names it. Unchanged
    without secrets."""
    if not secrets:
        return dockerfile
    uid = _UID.fullmatch(user)
    if uid is None:
        raise UnsafeValue(
            f"the builder's assemble user '{user[:40]}' is not a numeric uid: build secrets are "
            "mounted readable by that uid alone (set io.openshift.s2i.assemble-user to one)"
        )
    lines = dockerfile.split("\n")
    found = [i for i, line in enumerate(lines) if _ASSEMBLE.fullmatch(line.strip())]
    if len(found) != 1:
        raise UnsafeValue(
            f"expected one 'RUN <scripts>/assemble' in the Dockerfile s2i generated, found "
            f"{len(found)}: the build secrets would not be mounted on assemble alone"
        )
    mounts, env = [], []
    for use in secrets:
        _checked(name_problem(use.name) or env_problem(use.env))
        options = f"type=secret,id={use.name},target={use.target},uid={uid['uid']},mode=0400"
        mounts.append(f"--mount={options}")
        if use.env:
            env.append(f"{use.env}={use.target}")
    steps = [i for i, line in enumerate(lines) if _ASSEMBLE_DEPENDENCIES.fullmatch(line.strip())]
    for index in [*found, *steps[:1]]:
        line = lines[index].strip()
        match = _ASSEMBLE.fullmatch(line) or _ASSEMBLE_DEPENDENCIES.fullmatch(line)
        assert match is not None
        lines[index] = " ".join(["RUN", *mounts, *env, match["script"]])
    return "\n".join(lines)
