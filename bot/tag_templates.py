"""Image tag templates (`"{branch}-{short_sha}"`): parsed, checked and rendered. Pure.

A template is literal tag characters and plain `{name}` placeholders, nothing else. It is
never given to `str.format`: a format spec (`{sha:>2000000000}`) would allocate gigabytes,
`{pr:.0}` would render the pull request number as nothing, and `{x.y}` / `{x[0]}` reach into
objects. A rendered tag is what a registry accepts (the OCI distribution spec's tag rule,
`[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`); values that do not fit are shortened, never the pull
request number, so a pull request's image can never land on another tag.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

MAX_LENGTH = 128  # OCI distribution spec, "Pulling manifests": a tag is at most 128 characters
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
KEPT_WHOLE = frozenset({"pr"})  # never shortened: a pull request's tag must name it
_PIECE = re.compile(r"\{([a-z_]+)\}|([A-Za-z0-9_.-]+)|(.)", re.DOTALL)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_SHOWN = 40  # how much of an offending piece an error message quotes


class TagTemplateError(ValueError):
    """A tag template that is not literal tag characters and plain `{name}` placeholders, or
    that renders to no valid tag; the message says what is wrong and how to write it."""


@dataclass(frozen=True, slots=True)
class Placeholder:
    name: str


Piece = str | Placeholder


def _shown(text: str) -> str:
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def parse(template: str) -> tuple[Piece, ...]:
    """The template's literal pieces and placeholders, in order; TagTemplateError for a
    format spec, conversion, index, attribute, stray brace or a character no tag may have."""
    pieces: list[Piece] = []
    for match in _PIECE.finditer(template):
        name, literal, other = match.groups()
        if name is not None:
            pieces.append(Placeholder(name))
        elif literal is not None:
            pieces.append(literal)
        elif other in "{}":
            rest = template[match.start() :]
            end = rest.find("}")
            piece = rest[: end + 1] if other == "{" and end > 0 else other
            raise TagTemplateError(
                f"'{_shown(piece)}' is not a placeholder: write a plain {{name}} such as "
                "{branch} (no format specs, conversions, indexes or attributes)"
            )
        else:
            raise TagTemplateError(
                f"{other!r} cannot be in an image tag: use letters, digits, '_', '.' and '-'"
            )
    if not pieces:
        raise TagTemplateError("a tag template must not be empty")
    literal = sum(len(p) for p in pieces if isinstance(p, str))
    if literal + sum(1 for p in pieces if isinstance(p, Placeholder)) > MAX_LENGTH:
        raise TagTemplateError(f"a tag is at most {MAX_LENGTH} characters")
    return tuple(pieces)


def placeholders(template: str) -> list[str]:
    """The names the template uses, in order (TagTemplateError as `parse`)."""
    return [p.name for p in parse(template) if isinstance(p, Placeholder)]


def sanitize(text: str) -> str:
    """A value as tag characters: `feature/x` -> `feature-x`."""
    return _UNSAFE.sub("-", text)


def render(template: str, values: Mapping[str, str]) -> str:
    """The tag for these values. Too long a result is shortened in its longest values (never
    in the literal text or a pull request number); TagTemplateError when a placeholder has no
    value or no valid tag comes out."""
    pieces = parse(template)
    filled: list[list[str]] = []  # [text, name or ""], so values can be shortened in place
    for piece in pieces:
        if isinstance(piece, Placeholder):
            if piece.name not in values:
                raise TagTemplateError(f"{{{piece.name}}} has no value for this event")
            filled.append([sanitize(values[piece.name]), piece.name])
        else:
            filled.append([piece, ""])
    excess = sum(len(text) for text, _ in filled) - MAX_LENGTH
    while excess > 0:
        shortenable = [f for f in filled if f[1] and f[1] not in KEPT_WHOLE and len(f[0]) > 1]
        if not shortenable:
            break
        longest = max(shortenable, key=lambda f: len(f[0]))
        cut = min(excess, len(longest[0]) - 1)
        longest[0] = longest[0][: len(longest[0]) - cut]
        excess -= cut
    tag = "".join(text for text, _ in filled)
    # A tag starts with a letter, digit or '_': a value's leading '.' or '-' goes.
    tag = tag.lstrip(".-")
    if not TAG.fullmatch(tag):
        raise TagTemplateError(
            f"tag template '{_shown(template)}' renders to '{_shown(tag)}', which is not a "
            f"valid image tag ({TAG.pattern})"
        )
    return tag
