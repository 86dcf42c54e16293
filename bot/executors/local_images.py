"""What finished local builds leave in the engine's image storage, removed.

Every image a build makes from s2i's Dockerfile carries s2i's label
`io.openshift.s2i.build.source-location`: the source directory, which the local executor
puts under `<work_dir>/<build id>/`. So the images of a build are found by that label, tagged
(the output, the cache image) or not (the builder stage, the steps of a multi-stage build,
the `cached` stage of an incremental one), and removed once the build's directory is gone,
however the build ended. The builder and runtime images carry no such label: they stay for
the builds that share them. Images made elsewhere (`s2i-bot build` on a working tree, another
bot with another work_dir) are not under work_dir and are left alone.

docker: `docker image rm` of each such image by name, then by id (untagged parents go with
them unless another image uses them). buildah (the same vfs storage the runner uses):
`buildah rmi`.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

SOURCE_LABEL = "io.openshift.s2i.build.source-location"
_TIMEOUT = 120


def _run(argv: Sequence[str], env: dict[str, str] | None = None) -> str:
    try:
        result = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=_TIMEOUT, check=False, env=env
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("%s: %s", argv[0], exc)
        return ""
    if result.returncode != 0 and result.stderr.strip():
        log.info("%s: %s", " ".join(argv[:3]), result.stderr.strip().splitlines()[-1])
    return result.stdout


def _finished_build(source: str, work_dir: Path) -> bool:
    """A source location under work_dir whose build directory no longer exists."""
    path = Path(source)
    try:
        relative = path.relative_to(work_dir)
    except ValueError:
        return False
    return bool(relative.parts) and not (work_dir / relative.parts[0]).exists()


def prune_finished_builds(engine: str, work_dir: Path) -> int:
    """Remove the images of finished builds under work_dir from the engine's storage; the
    number of images removed."""
    return prune_images(engine, lambda source: _finished_build(source, work_dir))


def prune_images(engine: str, doomed_source: Callable[[str], bool]) -> int:
    """Remove from the engine's storage the images whose s2i source location `doomed_source`
    condemns; the number of images removed."""
    if engine == "docker":
        cli, env, name = ["docker"], None, "{{.Repository}}:{{.Tag}}"
        labels = f'{{{{index .Config.Labels "{SOURCE_LABEL}"}}}}'
        inspect, remove = [*cli, "image", "inspect"], [*cli, "image", "rm"]
    else:
        cli, env, name = ["buildah"], os.environ | {"STORAGE_DRIVER": "vfs"}, "{{.Name}}:{{.Tag}}"
        labels = f'{{{{index .OCIv1.Config.Labels "{SOURCE_LABEL}"}}}}'
        inspect, remove = [*cli, "inspect", "--type", "image"], [*cli, "rmi"]
    listing = [*cli, "images", "-a", "--no-trunc", "--filter", f"label={SOURCE_LABEL}",
               "--format", "{{.ID}} " + name]  # fmt: skip
    names: dict[str, list[str]] = {}
    for line in _run(listing, env).splitlines():
        image_id, _, tag = line.partition(" ")
        if image_id:
            names.setdefault(image_id, []).extend([tag] if "<none>" not in tag else [])
    if not names:
        return 0
    ids = list(names)
    sources = _run([*inspect, "--format", labels, *ids], env).splitlines()
    if len(sources) != len(ids):  # one vanished meanwhile: ask one by one
        sources = [_run([*inspect, "--format", labels, i], env).strip() for i in ids]
    doomed = [
        (image_id, names[image_id])
        for image_id, source in zip(ids, sources, strict=True)
        if doomed_source(source.strip())
    ]
    for image_id, tags in doomed:
        if tags:
            _run([*remove, *tags], env)
        _run([*remove, image_id], env)  # what is left of it: untagged, or a stage's image
    return len(doomed)
