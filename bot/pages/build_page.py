"""The build page, pure: a BuildView and its log lines -> HTML. The summary (state, refs,
image, digest, timings) and each log line are rendered here for the whole page and, as the
build runs, for the Server-Sent Events that update it (bot/web/build_events.py): one renderer,
so the live page and a reloaded one are the same.

Log lines are ANSI-rendered and escaped (bot/pages/ansi_html.py); each has an anchor `#L<n>`;
for a failed build the failing step's lines are marked and the failure line is where the page
opens (bot/log_outline.py).
"""

from __future__ import annotations

from urllib.parse import quote

from bot.build_record import BuildState
from bot.pages.ansi_html import PLAIN, AnsiStyle, ansi_line_to_html
from bot.pages.build_view import BuildView
from bot.pages.html_layout import esc, page

REFRESH_SECONDS = 5  # a running build's page reloads itself this often without JavaScript
STATE_WORDS = {
    BuildState.QUEUED: "queued",
    BuildState.RUNNING: "running",
    BuildState.SUCCEEDED: "succeeded",
    BuildState.FAILED: "failed",
    BuildState.CANCELLED: "cancelled",
    BuildState.ERROR: "error",
}


def _link(text: str, url: str | None) -> str:
    return f'<a href="{esc(url)}">{esc(text)}</a>' if url else esc(text)


def _row(label: str, value_html: str) -> str:
    return f"<dt>{esc(label)}</dt><dd>{value_html}</dd>"


def _seconds(value: float | None) -> str:
    return f"{value:.1f} s" if value is not None else "-"


def summary_html(view: BuildView) -> str:
    """The part of the page above the log, also sent whole when the state changes."""
    b = view.build
    state = STATE_WORDS[b.state]
    rows = [
        _row("state", f'<span class="state state-{esc(state)}" id="state">{esc(state)}</span>'),
    ]
    if b.reason:
        rows.append(_row("reason", f'<span class="reason">{esc(b.reason)}</span>'))
    rows += [
        _row("repository", _link(b.repo, view.repo_url)),
        _row(view.ref_kind, _link(view.ref_name, view.ref_url)),
        _row("commit", _link(b.sha[:12], view.commit_url)),
        _row("trigger", esc(view.trigger)),
        _row("build", esc(b.name)),
    ]
    if view.image:
        rows.append(_row("image", f"<code>{esc(view.image)}</code>"))
    if b.digest:
        rows.append(_row("digest", f'<code id="digest">{esc(b.digest)}</code>'))
    if view.size_text:
        rows.append(_row("size", esc(view.size_text)))
    if view.pull_command:
        rows.append(_row("pull", (
            f'<code id="pull">{esc(view.pull_command)}</code> '
            f'<button type="button" class="copy" data-copy="{esc(view.pull_command)}" hidden>'
            "copy</button>"
        )))  # fmt: skip
    if view.outline.failure_line is not None:
        n = view.outline.failure_line
        rows.append(_row("failed at", f'<a href="#L{n}" id="failure-link">line {n}</a>'))
    return f'<dl class="facts">{"".join(rows)}</dl>\n{_timings_html(view)}'


def _timings_html(view: BuildView) -> str:
    timings = view.timings()
    cells = "".join(
        f"<tr><th>{esc(name)}</th><td>{_seconds(timings.get(name))}</td></tr>"
        for name in ("queue", "fetch", "s2i", "build", "push", "total")
    )
    steps = "".join(
        f'<li class="step step-{esc(s.state)}"><a href="#L{s.first_line}">{esc(s.title)}</a>'
        f" <span>{esc(s.state)}{', ' + _seconds(s.seconds) if s.seconds is not None else ''}"
        "</span></li>"
        for s in view.outline.steps
    )
    listed = f'<ol class="steps">{steps}</ol>' if steps else ""
    return f'<div class="timings"><table>{cells}</table>{listed}</div>'


def line_html(number: int, rendered: str, classes: str = "") -> str:
    """One log line: its anchor and its (already ANSI-rendered, escaped) text."""
    cls = f"line {classes}".strip()
    return (
        f'<span class="{cls}" id="L{number}"><a class="ln" href="#L{number}" '
        f'data-n="{number}"></a><span class="lt">{rendered}</span></span>'
    )


def line_classes(view: BuildView, number: int) -> str:
    classes = []
    failed = view.outline.failed_step
    if failed is not None and failed.first_line <= number <= (failed.last_line or number):
        classes.append("failed-step")
    if number == view.outline.failure_line:
        classes.append("error-line")
    return " ".join(classes)


def log_html(view: BuildView, lines: list[str]) -> tuple[str, AnsiStyle]:
    """The log's lines as HTML, and the ANSI style a following line starts in."""
    out = []
    style = PLAIN
    for number, line in enumerate(lines, start=1):
        rendered, style = ansi_line_to_html(line, style)
        out.append(line_html(number, rendered, line_classes(view, number)))
    return "".join(out), style


def build_page(view: BuildView, lines: list[str]) -> str:
    b = view.build
    state = STATE_WORDS[b.state]
    live = not b.state.finished
    log, _ = log_html(view, lines)
    empty = "" if lines else '<p class="empty" id="log-empty">no log yet</p>'
    repo_page = f"../builds?repo={quote(b.repo, safe='/')}"
    body = f"""<header><p class="crumbs"><a href="{esc(repo_page)}">{esc(b.repo)}</a> / builds</p>
<h1>{esc(b.name)} <span class="on">on {esc(view.ref_name)}</span></h1></header>
<main>
<section id="summary">{summary_html(view)}</section>
<section id="log-section">
<p class="log-tools"><a href="{esc(b.key)}/log" id="raw-log">raw log</a>
<span id="live" class="live"{"" if live else " hidden"}>live</span></p>
{empty}<pre id="log" class="log">{log}</pre>
</section>
</main>"""
    attrs = {
        "data-state": state,
        "data-finished": "true" if b.state.finished else "false",
        "data-events": f"{b.key}/events",
        "data-lines": str(view.lines_shown),
        "data-failure-line": str(view.outline.failure_line or ""),
    }
    title = f"{b.name} · {b.repo} · {state}"
    return page(title, body, assets="../assets/", refresh=REFRESH_SECONDS if live else None,
                script=True, body_attrs=attrs)  # fmt: skip
