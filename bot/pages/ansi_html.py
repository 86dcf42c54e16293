"""ANSI-coloured log lines -> HTML, pure. A build log is written by the build: attacker
controlled. Every character of text is escaped; escape sequences become `<span class=...>`
with class names only (the pages' Content-Security-Policy allows no inline style), and any
sequence other than SGR colours (cursor moves, OSC titles and links) is dropped.

SGR codes follow ECMA-48 / "Select Graphic Rendition" (console_codes(4)): 0 reset, 1 bold,
2 faint, 3 italic, 4 underline, 22-24 their resets, 30-37/90-97 foreground, 40-47/100-107
background, 39/49 default colours, 38;5;n / 48;5;n a 256-colour index (its first 16 map to the
classes, the others are dropped), 38;2;r;g;b truecolour (dropped). A style carries over from
one line to the next, as in a terminal; each line's HTML is closed on its own.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, replace

# CSI ... final byte (ECMA-48 5.4), OSC ... BEL or ST, and any other single ESC x.
_ESCAPE = re.compile(
    r"\x1b\[(?P<params>[0-?]*)[ -/]*(?P<final>[@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b.?"
)
# Control characters a page must not carry (tab stays; a lone CR is handled before).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True, slots=True)
class AnsiStyle:
    fg: int | None = None  # 0-15: the 8 colours, then their bright forms
    bg: int | None = None
    bold: bool = False
    faint: bool = False
    italic: bool = False
    underline: bool = False

    def classes(self) -> str:
        names = [f"fg{self.fg}"] if self.fg is not None else []
        names += [f"bg{self.bg}"] if self.bg is not None else []
        names += [n for n, on in (("b", self.bold), ("f", self.faint), ("i", self.italic),
                                  ("u", self.underline)) if on]  # fmt: skip
        return " ".join(f"a-{n}" for n in names)


PLAIN = AnsiStyle()


def _apply(style: AnsiStyle, params: str) -> AnsiStyle:
    codes = [int(p) if p.isdigit() else 0 for p in params.split(";")] if params else [0]
    i = 0
    while i < len(codes):
        code = codes[i]
        if code == 0:
            style = PLAIN
        elif code in (1, 2, 3, 4):
            field = {1: "bold", 2: "faint", 3: "italic", 4: "underline"}[code]
            style = replace(style, **{field: True})
        elif code == 22:
            style = replace(style, bold=False, faint=False)
        elif code == 23:
            style = replace(style, italic=False)
        elif code == 24:
            style = replace(style, underline=False)
        elif 30 <= code <= 37 or 90 <= code <= 97:
            style = replace(style, fg=code - 30 if code < 90 else code - 90 + 8)
        elif 40 <= code <= 47 or 100 <= code <= 107:
            style = replace(style, bg=code - 40 if code < 100 else code - 100 + 8)
        elif code == 39:
            style = replace(style, fg=None)
        elif code == 49:
            style = replace(style, bg=None)
        elif code in (38, 48):
            kind = codes[i + 1] if i + 1 < len(codes) else None
            if kind == 5 and i + 2 < len(codes):
                index = codes[i + 2]
                colour = index if index < 16 else None
                style = replace(style, fg=colour) if code == 38 else replace(style, bg=colour)
                i += 2
            elif kind == 2:
                i += 4  # r;g;b: no class for it, the text keeps the default colour
        i += 1
    return style


def _span(text: str, style: AnsiStyle) -> str:
    if not text:
        return ""
    escaped = html.escape(text, quote=True)
    classes = style.classes()
    return f'<span class="{classes}">{escaped}</span>' if classes else escaped


def visible_text(line: str) -> str:
    """What a terminal would leave on the line: the text after the last carriage return
    (progress bars rewrite their line), control characters dropped."""
    if "\r" in line:
        parts = [p for p in line.split("\r") if p]
        line = parts[-1] if parts else ""
    return line


def ansi_line_to_html(line: str, style: AnsiStyle = PLAIN) -> tuple[str, AnsiStyle]:
    """One log line (without its newline) -> its HTML, and the style the next line starts in."""
    out: list[str] = []
    position = 0
    line = visible_text(line)
    for match in _ESCAPE.finditer(line):
        out.append(_span(_CONTROL.sub("", line[position : match.start()]), style))
        if match["final"] == "m":
            style = _apply(style, match["params"] or "")
        position = match.end()
    out.append(_span(_CONTROL.sub("", line[position:]), style))
    return "".join(out), style


def ansi_lines_to_html(lines: list[str], style: AnsiStyle = PLAIN) -> tuple[list[str], AnsiStyle]:
    rendered = []
    for line in lines:
        text, style = ansi_line_to_html(line, style)
        rendered.append(text)
    return rendered, style
