"""The frame every page shares, and the one escaping helper, pure. Every value put into a page
goes through `esc` (text and attribute values alike: quotes escaped); pages link only assets
the bot serves itself (GET /assets/...), by relative URLs, so a bot behind a path prefix works
as it does at the root."""

from __future__ import annotations

import html

# What the pages may load, sent as Content-Security-Policy with each: scripts and styles only
# from the bot, no inline script or style, nothing framed. A log line that got past escaping
# could still run nothing.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def page(
    title: str,
    body: str,
    *,
    assets: str,
    refresh: int | None = None,
    script: bool = False,
    body_attrs: dict[str, str] | None = None,
) -> str:
    """A whole HTML document. `assets`: the relative URL of /assets/ from the page;
    `refresh`: seconds for a page without JavaScript to reload itself (a running build)."""
    head = [
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title>",
        f'<link rel="stylesheet" href="{esc(assets)}pages.css">',
    ]
    if refresh is not None:
        # Only without JavaScript: with it, the page follows the build live (SSE).
        head.append(f'<noscript><meta http-equiv="refresh" content="{refresh}"></noscript>')
    if script:
        head.append(f'<script src="{esc(assets)}build_page.js" defer></script>')
    attrs = "".join(f' {name}="{esc(value)}"' for name, value in (body_attrs or {}).items())
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n' + "\n".join(head) + "\n</head>\n"
        f"<body{attrs}>\n{body}\n</body>\n</html>\n"
    )
