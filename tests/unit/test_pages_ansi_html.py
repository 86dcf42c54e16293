"""ANSI -> HTML (bot/pages/ansi_html.py): colours become class names, every character of
text is escaped, other escape sequences and control characters are dropped."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.pages.ansi_html import PLAIN, AnsiStyle, ansi_line_to_html, ansi_lines_to_html


def html(line: str) -> str:
    return ansi_line_to_html(line)[0]


def test_sgr_colours_and_attributes_become_classes() -> None:
    assert html("\x1b[31merror\x1b[0m: x") == '<span class="a-fg1">error</span>: x'
    assert html("\x1b[1;92mok") == '<span class="a-fg10 a-b">ok</span>'
    assert html("\x1b[44;4mbg\x1b[24m plain bg") == (
        '<span class="a-bg4 a-u">bg</span><span class="a-bg4"> plain bg</span>'
    )
    assert html("\x1b[38;5;9mbright\x1b[39m") == '<span class="a-fg9">bright</span>'
    # 256-colour indexes past 16 and truecolour have no class: the text stays plain.
    assert html("\x1b[38;5;200mx\x1b[38;2;1;2;3my") == "xy"


def test_text_is_escaped_and_other_sequences_are_dropped() -> None:
    assert html("<script>alert('x')</script> & \"q\"") == (
        "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;q&quot;"
    )
    link = "\x1b]8;;javascript:alert(1)\x07click\x1b]8;;\x07"  # an OSC 8 hyperlink
    assert html(link) == "click"
    assert html("a\x1b[2Kb\x1b[1Ac\x00\x07\x9bd") == "abcd"  # cursor moves, NUL, BEL, C1 CSI


def test_a_carriage_return_keeps_what_a_terminal_would_show() -> None:
    assert html("10%\r50%\r100%") == "100%"
    assert html("done\r") == "done"


def test_a_style_carries_over_to_the_next_line_each_line_closed() -> None:
    lines, style = ansi_lines_to_html(["\x1b[33mwarn", "still", "\x1b[0mplain"])
    assert lines == ['<span class="a-fg3">warn</span>', '<span class="a-fg3">still</span>', "plain"]
    assert style == PLAIN
    assert ansi_line_to_html("x", AnsiStyle(fg=2))[0] == '<span class="a-fg2">x</span>'


@given(st.text())
def test_no_text_opens_a_tag_of_its_own(text: str) -> None:
    rendered = html(text)
    # The only markup is our spans: no "<" but theirs, no quote outside an attribute.
    stripped = rendered.replace("</span>", "")
    while '<span class="' in stripped:
        start = stripped.index('<span class="')
        end = stripped.index('">', start)
        stripped = stripped[:start] + stripped[end + 2 :]
    assert "<" not in stripped and ">" not in stripped and '"' not in stripped
