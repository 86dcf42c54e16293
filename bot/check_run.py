"""Build -> GitHub check run: status, conclusion, title, Markdown summary, annotations. Pure.

One check run per build (GitHub REST, "Checks"): `queued` while the build waits, then
`in_progress`, then `completed` with a conclusion. Its `details_url` is the build's page
(`/builds/<key>`: the key is the link, as in statuses), its `external_id` the build's key, so
a "Re-run" (`check_run` `rerequested`) names the build it re-runs.

A finished build's summary says what a developer looks for: the image, its digest and size,
the `docker pull image@digest` line, how long it queued and ran (and each step, from the
runner's `<== step: done in 1.2s` lines); a failure adds its reason and the last
TAIL_LINES lines of the log. The failing step's positioned errors (bot/failure_reason.py)
become annotations on the repository's files: a tool prints paths relative to the source tree
s2i gave it, which is the build's context dir, so the context dir is put back in front.

Text from the log and `.s2i.yaml` goes into Markdown only inside code spans and fences that
nothing in it can close (bot/quoting.py).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Sequence
from datetime import datetime

from bot.build_record import Build, BuildState
from bot.commit_status import build_url, context_of, human_size, log_url
from bot.failure_reason import FailureSpotter
from bot.forges.base import ANNOTATIONS_PER_REQUEST, Annotation, CheckConclusion, CheckRun
from bot.quoting import code_span, one_line, plain

TAIL_LINES = 30  # the log lines a failed build's summary shows
MAX_ANNOTATIONS = 200  # at most this many per check run (ANNOTATIONS_PER_REQUEST a request)
TITLE_MAX = 200
_LINE_MAX = 400  # a quoted log line longer than this is cut
# GitHub's `output.summary` holds at most 65535 characters; the log tail gives way first.
SUMMARY_MAX = 65535
_STEP_DONE = re.compile(r"^<== (?P<step>.+): (?P<how>done|failed) in (?P<seconds>\d+(?:\.\d+)?)s$")
_BACKTICKS = re.compile(r"`{3,}")

_TITLES = {
    BuildState.QUEUED: "Queued",
    BuildState.RUNNING: "Building",
}
_CONCLUSIONS = {
    BuildState.SUCCEEDED: CheckConclusion.SUCCESS,
    BuildState.FAILED: CheckConclusion.FAILURE,
    BuildState.ERROR: CheckConclusion.FAILURE,
    BuildState.CANCELLED: CheckConclusion.CANCELLED,
}


def check_run_for(build: Build, public_url: str, log: str | None = None) -> CheckRun:
    """The check run that shows `build` as the store has it; `log`, the build's log, is read
    for a finished build (timings, a failure's tail and annotations)."""
    page = build_url(public_url, build.key)
    if not build.state.finished:
        status = "queued" if build.state is BuildState.QUEUED else "in_progress"
        return CheckRun(
            context_of(build), build.sha, status, page, build.key, _TITLES[build.state],
            _pending_summary(build, page), started_at=build.started_at,
        )  # fmt: skip
    conclusion = _CONCLUSIONS[build.state]
    if build.state is BuildState.FAILED and build.reason.startswith("timed out"):
        conclusion = CheckConclusion.TIMED_OUT  # bot/executors/time_limit.py's reason
    annotations: tuple[Annotation, ...] = ()
    if build.state is BuildState.FAILED and log:
        context_dir = build.spec.source.context_dir if build.spec else ""
        annotations = annotations_from(log, context_dir)
    summary = _finished_summary(build, public_url, log or "", len(annotations))
    return CheckRun(
        context_of(build), build.sha, "completed", page, build.key, _title(build), summary,
        conclusion=conclusion, started_at=build.started_at, completed_at=build.finished_at,
        annotations=annotations,
    )  # fmt: skip


def _title(build: Build) -> str:
    match build.state:
        case BuildState.SUCCEEDED:
            size = f" ({human_size(build.size)})" if build.size is not None else ""
            return f"{build.digest or 'built'}{size}"
        case BuildState.FAILED:
            return one_line(build.reason or "the build failed", TITLE_MAX)
        case BuildState.CANCELLED:
            return one_line(build.reason or "cancelled", TITLE_MAX)
        case _:
            return one_line(f"error: {build.reason or 'the build errored'}", TITLE_MAX)


def _pending_summary(build: Build, page: str) -> str:
    lines = []
    if build.state is BuildState.QUEUED:
        lines.append("Waiting for a build slot.")
    else:
        since = f" since {_clock(build.started_at)}" if build.started_at else ""
        lines.append(f"Building{since}: the [build page]({page}) shows the log as it grows.")
    if build.spec is not None:
        lines += ["", f"Image: {code_span(build.spec.output)}"]
        if build.spec.note:
            lines += ["", f"Note: {code_span(build.spec.note)}"]
    return "\n".join(lines) + "\n"


def _finished_summary(build: Build, public_url: str, log: str, annotated: int) -> str:
    head = _result_lines(build)
    head += _timing_lines(build, log)
    head += ["", f"[Build page]({build_url(public_url, build.key)}) · "
                 f"[raw log]({log_url(public_url, build.key)})"]  # fmt: skip
    if build.state is BuildState.SUCCEEDED or not log:
        return "\n".join(head) + "\n"
    if annotated:
        head += ["", f"{annotated} error(s) are annotated on the files they name."]
    text = "\n".join(head) + "\n"
    # The tail, as much as the summary's limit leaves room for (older lines go first).
    tail = last_lines(log, TAIL_LINES)
    while tail:
        block = "\n" + f"The last {len(tail)} lines of the log:\n\n" + fenced(tail)
        if len(text) + len(block) <= SUMMARY_MAX:
            return text + block
        tail = tail[1:]
    return text


def _result_lines(build: Build) -> list[str]:
    spec = build.spec
    rows: list[tuple[str, str]] = []
    if spec is not None:
        rows.append(("image", code_span(spec.output)))
    if build.digest:
        rows.append(("digest", f"`{build.digest}`"))
    if build.size is not None:
        rows.append(("size", human_size(build.size)))
    rows.append(("commit", f"`{build.sha}`"))
    lines: list[str] = []
    if build.state is not BuildState.SUCCEEDED:
        what = "Why" if build.state is not BuildState.CANCELLED else "Cancelled"
        lines += [f"**{what}:** {code_span(build.reason or build.state.value, 1000)}", ""]
    # The first row heads the table: an empty header row would show as a blank bar.
    lines += [f"| {k} | {v} |" for k, v in rows[:1]] + ["|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows[1:]]
    if build.state is BuildState.SUCCEEDED and spec is not None and build.digest:
        lines += ["", "```", f"docker pull {spec.image}@{build.digest}", "```"]
    return lines


def _timing_lines(build: Build, log: str) -> list[str]:
    rows: list[tuple[str, str]] = []
    if build.created_at and build.started_at:
        rows.append(("queued", _seconds(build.created_at, build.started_at)))
    for step, how, seconds in step_timings(log):
        shown = f"{seconds:.1f} s" + (" (failed)" if how == "failed" else "")
        rows.append((code_span(step, 120), shown))
    if build.started_at and build.finished_at:
        rows.append(("**total**", _seconds(build.started_at, build.finished_at)))
    if not rows:
        return []
    return ["", "| step | time |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]


def step_timings(log: str) -> list[tuple[str, str, float]]:
    """(step, done|failed, seconds) of each step the runner timed, in order."""
    found = []
    for line in log.splitlines():
        if match := _STEP_DONE.match(line):
            found.append((match["step"], match["how"], float(match["seconds"])))
    return found


def _seconds(start: datetime, end: datetime) -> str:
    return f"{max((end - start).total_seconds(), 0.0):.1f} s"


def _clock(when: datetime) -> str:
    return when.strftime("%H:%M:%S UTC")


def last_lines(log: str, count: int) -> list[str]:
    """The last `count` lines of the log that are not blank, each cut to a bounded length."""
    lines = [plain(line).rstrip() for line in log.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return [one_line(line, _LINE_MAX) if len(line) > _LINE_MAX else line
            for line in lines[-count:]]  # fmt: skip


def fenced(lines: Sequence[str]) -> str:
    """The lines in a fenced code block no line of theirs can close (CommonMark: a closing
    fence is at least as long as the opening one)."""
    text = "\n".join(_printable(line) for line in lines)
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}text\n{text}\n{fence}\n"


def _printable(line: str) -> str:
    return "".join(c if c == "\t" or c.isprintable() else " " for c in line)


def repository_path(path: str, context_dir: str) -> str | None:
    """Where a path the tool printed (relative to its source tree, bot/failure_reason.py
    source_path) is in the repository; None for one outside it (an absolute path, a
    library's file, `..` out of the tree)."""
    if not path or path.startswith("/"):
        return None
    joined = posixpath.normpath(posixpath.join(context_dir.strip("/") or ".", path))
    if joined == "." or joined.startswith(("../", "/")) or joined == "..":
        return None
    return joined


def annotations_from(log: str, context_dir: str = "") -> tuple[Annotation, ...]:
    """The failing step's positioned errors as annotations on the repository's files, each
    once, at most MAX_ANNOTATIONS."""
    spotter = FailureSpotter(max_diagnostics=MAX_ANNOTATIONS * 2)
    for line in log.splitlines():
        spotter.feed(line)
    found: dict[tuple[str, int, int | None, str], Annotation] = {}
    for diagnostic in spotter.diagnostics:
        path = repository_path(diagnostic.path, context_dir)
        if path is None:
            continue
        key = (path, diagnostic.line, diagnostic.column, diagnostic.message)
        if key in found:
            continue  # Maven says each error twice
        found[key] = Annotation(
            path=path, start_line=diagnostic.line, end_line=diagnostic.line,
            start_column=diagnostic.column, message=diagnostic.message,
            title=f"{path}:{diagnostic.line}",
        )  # fmt: skip
        if len(found) == MAX_ANNOTATIONS:
            break
    return tuple(found.values())


def chunks(
    annotations: Sequence[Annotation], size: int = ANNOTATIONS_PER_REQUEST
) -> Iterator[Sequence[Annotation]]:
    """The annotations in requests of at most `size` (GitHub takes 50 a request)."""
    for start in range(0, len(annotations), size):
        yield annotations[start : start + size]
