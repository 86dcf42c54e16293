"""Which form of a page a client asked for, from its Accept header (RFC 9110, 12.5.1): HTML
only when it prefers text/html to application/json, as browsers do ("text/html,...,*/*;q=0.8");
a client that sends nothing, `*/*` or JSON gets JSON, as every API client got before pages
existed. `?format=json` or `?format=html` decides outright (a link to the JSON form)."""

from __future__ import annotations


def _quality(accept: str, media: str) -> float:
    """The q the header gives `media`: its own entry, else `type/*`, else `*/*`, else 0."""
    kind = media.split("/")[0]
    found: dict[str, float] = {}
    for part in accept.split(","):
        name, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        found.setdefault(name.lower(), q)
    for candidate in (media, f"{kind}/*", "*/*"):
        if candidate in found:
            return found[candidate]
    return 0.0


def prefers_html(accept: str | None, format_param: str | None = None) -> bool:
    if format_param in ("json", "html"):
        return format_param == "html"
    if not accept:
        return False
    return _quality(accept, "text/html") > _quality(accept, "application/json")
