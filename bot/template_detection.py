"""Template detection for repositories without `.s2i.yaml` (opt-in): the first template
whose marker file the repository has, in this order. Pure."""

from __future__ import annotations

from collections.abc import Callable

# (marker file, template): a Go module, a Node package, a Python project, a Maven project,
# a static site. Order matters: a Python app with a package.json for its front end is
# still more likely a Node build, as Heroku's buildpack detection also decides.
MARKERS: tuple[tuple[str, str], ...] = (
    ("go.mod", "go"),
    ("package.json", "nodejs"),
    ("requirements.txt", "python"),
    ("pyproject.toml", "python"),
    ("pom.xml", "java"),
    ("index.html", "static"),
)


def detect_template(has_file: Callable[[str], bool]) -> tuple[str, str] | None:
    """(template, the marker file that chose it), or None."""
    for marker, template in MARKERS:
        if has_file(marker):
            return template, marker
    return None
