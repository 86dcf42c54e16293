"""HTML or JSON from Accept (bot/web/content_negotiation.py): browsers get pages, every
other client the JSON it always got."""

from __future__ import annotations

import pytest

from bot.web.content_negotiation import prefers_html

CHROME = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(
    "accept", [CHROME, FIREFOX, "text/html", "text/*", "application/json;q=0.5, text/html"]
)
def test_browsers_get_html(accept: str) -> None:
    assert prefers_html(accept)


@pytest.mark.parametrize(
    "accept",
    [None, "", "*/*", "application/json", "application/json, text/html;q=0.9",
     "text/html;q=0.5, application/json", "text/html;q=0", "text/plain", "text/html;q=bad"],
)  # fmt: skip
def test_api_clients_get_json(accept: str | None) -> None:
    assert not prefers_html(accept)


def test_the_format_parameter_decides_outright() -> None:
    assert not prefers_html(CHROME, "json")
    assert prefers_html("application/json", "html")
    assert prefers_html(CHROME, "xml")  # unknown: the header decides
