"""GET /builds/{key}/events: a build's log and state as Server-Sent Events, for the build page
(HTML Living Standard, "Server-sent events"). Each log line is one `line` event whose id is its
line number, so a browser that reconnects sends `Last-Event-ID` and the stream resumes after
that line; a page opened mid-build asks for the lines after the ones it shows (`?after=N`).
A `state` event carries the page's summary when the build's state changes or a runner step
begins or ends (its timings), and `end` the final one, after the last line; then the stream
ends.

The log is read from the store (bot/build_logs.py: any replica serves any build, live within
SHIP_INTERVAL), chunk by chunk; only whole lines are sent while the build runs, so line
numbers never change under a reader. Lines and summaries are rendered by the same pure code
as the page (bot/pages/build_page.py). A stream lasts at most `stream_seconds` (the setting
event_stream_seconds), then the browser reconnects and resumes: a server shutting down waits
for no stream longer than that.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable

from bot.build_logs import LogStore
from bot.build_record import Build
from bot.pages.ansi_html import PLAIN, ansi_line_to_html
from bot.pages.build_page import line_classes, line_html, summary_html
from bot.pages.build_view import BuildView

POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
RETRY_MS = 1000  # how soon a browser reconnects (the `retry` field)
STEP_MARKS = ("==> ", "<== ")  # the runner's step lines (bot/runner/process.py, StepTimer)


def sse(event: str, data: object, event_id: int | None = None) -> str:
    """One event in the text/event-stream format: data is JSON, on one line."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def resume_after(last_event_id: str | None, after: str | None) -> int:
    """The line a stream starts after: the browser's Last-Event-ID on a reconnect, else the
    page's `?after=`; anything else: from the start."""
    for value in (last_event_id, after):
        if value is not None and value.strip().isdigit():
            return int(value.strip())
    return 0


async def build_events(
    build: Build,
    after: int,
    logs: LogStore,
    find_build: Callable[[int], Build | None],
    view_of: Callable[[Build, list[str]], BuildView],
    stream_seconds: float,
) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MS}\n\n"
    lines: list[str] = []
    pending = b""
    chunk_id = 0
    style = PLAIN
    sent_state = None if after == 0 else build.state  # a page shows its state already
    started = last_sent = time.monotonic()
    rounds = 0
    view: BuildView | None = None
    while True:
        current = await asyncio.to_thread(find_build, build.id)
        if current is None:  # deleted (retention) while read
            return
        if current.state.finished and rounds:
            # Seen ending while followed: the bot may add its last line (a cancellation's
            # reason) just after the state; give it one more poll.
            await asyncio.sleep(POLL_SECONDS)
        rounds += 1
        chunks = await asyncio.to_thread(logs.chunks_after, build.id, chunk_id)
        for _id, data in chunks:
            pending += data
        chunk_id = chunks[-1][0] if chunks else chunk_id
        finished = current.state.finished
        *whole, pending = pending.split(b"\n")
        new = [raw.decode(errors="replace") for raw in whole]
        if finished and pending:  # the build ended: its last line will not grow
            new.append(pending.decode(errors="replace"))
            pending = b""
        lines += new
        # A step that began or ended changes the summary's timings: sent again with it.
        stepped = any(line.startswith(STEP_MARKS) for line in new)
        if finished or current.state != sent_state or stepped:
            view = view_of(current, lines)
        events: list[str] = []
        if (current.state != sent_state or stepped) and not finished and view is not None:
            events.append(sse("state", _state(view)))  # before the lines it came with
            sent_state = current.state
        for number in range(len(lines) - len(new) + 1, len(lines) + 1):
            rendered, style = ansi_line_to_html(lines[number - 1], style)
            if number > after:
                classes = line_classes(view, number) if finished and view else ""
                html = line_html(number, rendered, classes)
                events.append(sse("line", {"n": number, "html": html}, number))
        if finished and view is not None:
            events.append(sse("end", _state(view)))
        if events:
            yield "".join(events)
            last_sent = time.monotonic()
        if finished:
            return
        now = time.monotonic()
        if now - started > stream_seconds:
            return  # the browser reconnects with Last-Event-ID
        if now - last_sent > KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            last_sent = now
        await asyncio.sleep(POLL_SECONDS)


def _state(view: BuildView) -> dict[str, object]:
    failed = view.outline.failed_step
    return {
        "state": view.build.state.value,
        "finished": view.build.state.finished,
        "summary": summary_html(view),
        "failure_line": view.outline.failure_line,
        "failed_step": [failed.first_line, failed.last_line] if failed else None,
        "title": f"{view.build.name} · {view.build.repo} · {view.build.state.value}",
    }
