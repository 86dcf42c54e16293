"""Build badges, pure: a build name's state on a branch -> a small SVG for READMEs, in the
flat style shields.io made common (two rounded boxes: label, then the state in its colour).
Text is escaped as XML; widths are estimated from the character count (Verdana 11px, about
7 px a character), as badges do without a font at hand."""

from __future__ import annotations

from bot.build_record import Build, BuildState
from bot.pages.html_layout import esc

COLOURS = {
    "passing": "#2ea44f",
    "failing": "#cb2431",
    "building": "#dbab09",
    "unknown": "#9f9f9f",
}


def badge_state(builds: list[Build]) -> str:
    """passing / failing / building / unknown, from a name's builds on a branch, newest first.
    A cancelled build says nothing about the code: the one before it speaks."""
    for build in builds:
        match build.state:
            case BuildState.QUEUED | BuildState.RUNNING:
                return "building"
            case BuildState.SUCCEEDED:
                return "passing"
            case BuildState.FAILED | BuildState.ERROR:
                return "failing"
            case BuildState.CANCELLED:
                continue
    return "unknown"


def _width(text: str) -> int:
    return 7 * len(text) + 12


def badge_svg(label: str, state: str) -> str:
    left, right = _width(label), _width(state)
    total = left + right
    colour = COLOURS[state]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f'aria-label="{esc(label)}: {esc(state)}"><title>{esc(label)}: {esc(state)}</title>'
        f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
        'font-size="11">'
        f'<text x="{left / 2:.1f}" y="14">{esc(label)}</text>'
        f'<text x="{left + right / 2:.1f}" y="14">{esc(state)}</text></g></svg>'
    )
