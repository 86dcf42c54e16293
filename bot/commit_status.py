"""Build -> commit status, and the sizes and links shown with it. Pure.

A build's link names it by its random key (/builds/<key>), never by its id: whoever sees the
status may read the log, nobody can guess another build's. A reason may quote a log line or
`.s2i.yaml`: it goes out on one line without control characters (bot/quoting.py).
"""

from __future__ import annotations

from bot.build_record import Build, BuildState
from bot.forges.base import CommitStatus, StatusState
from bot.quoting import one_line

CONTEXT_PREFIX = "s2i/"
DESCRIPTION_MAX = 1000  # each driver cuts it to its forge's limit (GitHub 140, GitLab 255)


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def build_url(public_url: str, key: str) -> str:
    return f"{public_url}/builds/{key}"


def log_url(public_url: str, key: str) -> str:
    return f"{build_url(public_url, key)}/log"


def context_of(build: Build) -> str:
    return CONTEXT_PREFIX + build.name


def status_for(build: Build, public_url: str) -> CommitStatus:
    """The commit status that tells a developer where their build stands. The digest goes in
    full: it is what users copy (`docker pull image@sha256:...`)."""
    match build.state:
        case BuildState.QUEUED:
            state, description = StatusState.PENDING, _noted("queued", build)
        case BuildState.RUNNING:
            state, description = StatusState.RUNNING, _noted("building", build)
        case BuildState.SUCCEEDED:
            size = f" ({human_size(build.size)})" if build.size is not None else ""
            state, description = StatusState.SUCCESS, f"{build.digest}{size}"
            if rebuilt := build.spec.rebuilt_on if build.spec else "":
                # Within GitHub's 140 characters: the image's digest in full (what users
                # copy), the base's shortened as `docker images` shows it, without its tag
                # and without the size (both on /builds/<key>).
                description = f"{build.digest}, rebuilt on {short_digest(rebuilt)}"
        case BuildState.FAILED:
            state, description = StatusState.FAILURE, build.reason or "the build failed"
        case BuildState.CANCELLED:
            state, description = StatusState.CANCELLED, build.reason or "cancelled"
        case BuildState.ERROR:
            state, description = StatusState.ERROR, build.reason or "the build errored"
    ref = (build.spec.status_ref or _short_ref(build.spec.source.ref)) if build.spec else ""
    return CommitStatus(
        state,
        context_of(build),
        one_line(description, DESCRIPTION_MAX),
        build_url(public_url, build.key),  # the build page (the log, live, and why it failed)
        ref,
    )


def short_digest(reference: str) -> str:
    """`host/repo:tag@sha256:<64 hex>` -> `host/repo@sha256:<12 hex>`; else as it is."""
    image, at, digest = reference.rpartition("@")
    algorithm, colon, hex_digits = digest.partition(":")
    if not at or not colon:
        return reference
    name, _, tag = image.rpartition(":")
    if name and "/" not in tag:
        image = name
    return f"{image}@{algorithm}:{hex_digits[:12]}"


def _noted(description: str, build: Build) -> str:
    note = build.spec.note if build.spec else ""
    return f"{description} ({note})" if note else description


def _short_ref(ref: str) -> str:
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref
