"""The real `s2i build --as-dockerfile` invocation.

In --as-dockerfile mode s2i reads no image metadata (it needs no daemon), so, as OpenShift's
builder does, we read the builder image's labels ourselves and pass them on as flags.

s2i writes each `-e NAME=VALUE` into the Dockerfile as `ENV NAME="VALUE"`, escaping only
`$`, `"` and `\\` (source-to-image pkg/scripts/environment.go), so a newline in either would
start an instruction of the repository's choosing: names and values are checked here again
(bot/safe_values.py). `--ignore-submodules`: s2i clones the checkout and would run `git
submodule update --init`, fetching whatever URLs `.gitmodules` names (internal hosts
included) into the image.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bot.runner.dockerfile import UnsafeValue
from bot.safe_values import context_problem, env_name_problem, env_value_problem, image_problem

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
    for problem in (
        image_problem(builder_image),
        context_problem(context_dir),
        *(env_name_problem(k) or env_value_problem(k, v) for k, v in env.items()),
    ):
        if problem:
            raise UnsafeValue(problem)
    argv = [
        s2i,
        "build",
        str(source),
        builder_image,
        # With --incremental, s2i takes the image "tag" as the previous image: FROM it AS cached.
        *([previous_image, "--incremental"] if previous_image else []),
        "--as-dockerfile",
        str(dockerfile),
        # The builder's scripts as the *image's* default, as OpenShift's builder passes them
        # (api.Config.ImageScriptsURL): the repository's .s2i/bin comes first. With
        # --scripts-url instead, s2i --as-dockerfile ignores .s2i/bin altogether
        # (pkg/build/strategies/dockerfile: "overrides it all").
        "--image-scripts-url",
        labels.get(SCRIPTS_URL, DEFAULT_SCRIPTS_URL),
        "--ignore-submodules",
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
