"""The real `s2i build --as-dockerfile` invocation.

In --as-dockerfile mode s2i reads no image metadata (it needs no daemon), so, as OpenShift's
builder does, we read the builder image's labels ourselves and pass them on as flags.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

SCRIPTS_URL = "io.openshift.s2i.scripts-url"
DESTINATION = "io.openshift.s2i.destination"
ASSEMBLE_USER = "io.openshift.s2i.assemble-user"
DEFAULT_SCRIPTS_URL = "image:///usr/libexec/s2i"


def s2i_argv(
    s2i: str,
    *,
    source: Path,
    builder_image: str,
    dockerfile: Path,
    labels: Mapping[str, str],
    env: Mapping[str, str],
    context_dir: str = "",
    previous_image: str | None = None,
) -> list[str]:
    argv = [
        s2i,
        "build",
        str(source),
        builder_image,
        # With --incremental, s2i takes the image "tag" as the previous image: FROM it AS cached.
        *([previous_image, "--incremental"] if previous_image else []),
        "--as-dockerfile",
        str(dockerfile),
        "--scripts-url",
        labels.get(SCRIPTS_URL, DEFAULT_SCRIPTS_URL),
    ]
    if DESTINATION in labels:
        argv += ["--destination", labels[DESTINATION]]
    if ASSEMBLE_USER in labels:
        argv += ["--assemble-user", labels[ASSEMBLE_USER]]
    if context_dir:
        argv += ["--context-dir", context_dir]
    for key, value in sorted(env.items()):
        argv += ["-e", f"{key}={value}"]
    return argv
