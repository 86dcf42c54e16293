"""The runtime stage s2i-bot appends to s2i's generated Dockerfile. Pure text in, text out.

`s2i build --as-dockerfile` refuses `--runtime-image` ("use multi-stage builds instead"), so,
as OpenShift's builder does, we add the second stage ourselves: FROM the runtime image, copy
each runtime artifact out of the builder stage (stage 0), keep s2i's provenance labels, and
run the runtime image's `run` script.
"""

from __future__ import annotations

import json

from bot.templates import RuntimeStage

BUILDER_STAGE = "s2i-build"


def name_builder_stage(dockerfile: str, builder_image: str) -> str:
    """Name s2i's builder stage, so the runtime stage and the cache image can refer to it:
    with --incremental it is not stage 0 (`FROM <previous> as cached` comes first)."""
    lines = dockerfile.splitlines()
    for index, line in enumerate(lines):
        parts = line.split()
        if len(parts) == 2 and parts[0].upper() == "FROM" and parts[1] == builder_image:
            lines[index] = f"{line} AS {BUILDER_STAGE}"
            return "\n".join(lines) + "\n"
    raise ValueError(f"no 'FROM {builder_image}' in the Dockerfile s2i generated")


def logical_lines(dockerfile: str) -> list[str]:
    """Dockerfile instructions with backslash continuations joined by single spaces."""
    lines, parts = [], []
    for raw in dockerfile.splitlines():
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


def label_instructions(dockerfile: str) -> list[str]:
    return [line for line in logical_lines(dockerfile) if line.upper().startswith("LABEL ")]


def runtime_stage(
    builder_dockerfile: str, runtime: RuntimeStage, *, scripts_dir: str, user: str
) -> str:
    """The text of the stage that turns stage 0's artifacts into the slim runtime image."""
    lines = [f"FROM {runtime.image}", *label_instructions(builder_dockerfile)]
    for artifact in runtime.artifacts:
        destination = artifact.destination.rstrip("/") + "/"
        lines.append(
            f"COPY --from={BUILDER_STAGE} --chown={user}:0 {artifact.source} {destination}"
        )
    lines += [f"USER {user}", f"CMD {json.dumps([scripts_dir.rstrip('/') + '/run'])}"]
    return "\n".join(lines) + "\n"


def scripts_dir_from_url(url: str) -> str:
    """`image:///usr/libexec/s2i` -> `/usr/libexec/s2i` (s2i's scripts-url inside an image)."""
    prefix = "image://"
    return url[len(prefix) :] if url.startswith(prefix) else "/usr/libexec/s2i"
