"""The checkout may not name anything outside itself: checked before s2i sees it.

s2i copies the tree it is given and, for `--context-dir`, joins that directory onto its own
upload directory and copies what is there following symlinks (source-to-image
pkg/scm/downloaders/git/clone.go: CopyContents; fs.Copy "follows symlinks and copies files by
content"). So a `context` of `../..`, or a symlink to `/proc/self/environ` or to the runner's
credentials, would put the host's files into the image. Before s2i runs, the runner refuses:
- a context that is absolute, climbs with `..`, or passes through a symlink;
- every symlink in the tree whose target resolves outside it (naming each link). A symlink to
  a file or directory inside the tree is fine: s2i copies what it points to.
Nothing changes the tree between this check and s2i: no repository code runs in between.
"""

from __future__ import annotations

import os
from pathlib import Path

from bot.runner.errors import BuildFailure
from bot.safe_values import context_problem

SHOWN_LINKS = 5  # how many escaping links a failure names


def context_dir(checkout: Path, context: str) -> Path:
    """The directory to build inside the checkout; BuildFailure when `context` is not one."""
    if problem := context_problem(context):
        raise BuildFailure(problem)
    current = checkout
    for part in [p for p in context.split("/") if p not in ("", ".")]:
        current = current / part
        if current.is_symlink():
            raise BuildFailure(
                f"context '{context}': {current.relative_to(checkout)} is a symlink; "
                "the context must be a real directory of the repository"
            )
        if not current.is_dir():
            raise BuildFailure(
                f"context '{context}': {current.relative_to(checkout)} is not a directory "
                "of the repository at this commit"
            )
    return current


def escaping_symlinks(root: Path) -> list[tuple[str, str]]:
    """(link, target) for every symlink under root that resolves outside root, in walk order.
    Symlinked directories are not descended into (os.walk does not follow them)."""
    base = os.path.realpath(root)
    found = []
    for directory, dirs, files in os.walk(root, followlinks=False):
        for name in sorted(dirs) + sorted(files):
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                continue
            resolved = os.path.realpath(path)
            if resolved != base and not resolved.startswith(base + os.sep):
                found.append((os.path.relpath(path, root), os.readlink(path)))
        dirs.sort()
    return found


def refuse_escaping_symlinks(root: Path) -> None:
    """BuildFailure naming the symlinks that point outside the tree, if there are any."""
    links = escaping_symlinks(root)
    if not links:
        return
    shown = ", ".join(f"{link} -> {target}" for link, target in links[:SHOWN_LINKS])
    more = f" and {len(links) - SHOWN_LINKS} more" if len(links) > SHOWN_LINKS else ""
    raise BuildFailure(
        f"symlink {shown}{more} points outside the repository; s2i would copy what it points "
        "to into the image: make it relative to a file inside the repository, or remove it"
    )
