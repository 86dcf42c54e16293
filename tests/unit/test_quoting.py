"""bot/quoting.py: text from logs and .s2i.yaml, quoted so it cannot act in Markdown."""

from __future__ import annotations

from bot.quoting import code_span, one_line


def test_a_code_span_fence_is_longer_than_any_backtick_run_inside() -> None:
    assert code_span("plain") == "`plain`"
    assert code_span("a `b` c") == "``a `b` c``"
    assert code_span("a ``` b") == "````a ``` b````"
    # A backtick at either end is padded away from the fence (CommonMark strips the spaces).
    assert code_span("`x`") == "`` `x` ``"
    assert code_span("") == "`  `"  # all spaces: shown as they are


def test_one_line_drops_control_and_format_characters_and_bounds_the_length() -> None:
    assert one_line("a\nb\r\n\tc\x1b[0m\u202ed", 100) == "a b c [0m d"
    assert one_line("x" * 50, 10) == "x" * 9 + "…"
    assert code_span("y" * 300, limit=20) == "`" + "y" * 19 + "…`"
