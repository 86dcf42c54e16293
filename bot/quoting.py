"""Text from logs, reasons and `.s2i.yaml`, quoted into what the bot publishes. Pure.

A failed build's reason can be the last line its log printed, and a config error quotes the
file: whoever can push controls both. In Markdown (the PR comment, replies) such text goes in
a code span that nothing inside can close (a backtick fence longer than any run of backticks
in the text, CommonMark "Code spans"), so no mention, link, image, HTML or emphasis in it is
rendered. A commit status description is plain text on both forges (no Markdown, so no
mention, link or HTML in it does anything): there the text only goes on one line, without
control characters.
"""

from __future__ import annotations

import re
import unicodedata

_BACKTICKS = re.compile(r"`+")
# Terminal escapes: CSI (colours, cursor moves) and OSC (titles, hyperlinks) sequences.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")


def plain(text: str) -> str:
    """A log line without its terminal escapes: a stored log keeps its colours for the build
    page (bot/runner/process.py), what is read or quoted from it wants the words."""
    return _ESCAPES.sub("", text)


def one_line(text: str, limit: int) -> str:
    """The text on one line: control and format characters (newlines, escapes, bidi
    overrides) become spaces, runs of spaces one, and at most `limit` characters."""
    cleaned = "".join(" " if unicodedata.category(c) in ("Cc", "Cf") else c for c in text)
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def code_span(text: str, limit: int = 200) -> str:
    """`text` as a Markdown code span it cannot break out of."""
    content = one_line(text, limit)
    longest = max((len(run) for run in _BACKTICKS.findall(content)), default=0)
    fence = "`" * (longest + 1)
    # A backtick at either end would join the fence: pad both ends with a space, which
    # CommonMark strips again ("a single space character is removed from the front and back").
    pad = " " if not content or content[0] == "`" or content[-1] == "`" else ""
    return f"{fence}{pad}{content}{pad}{fence}"
