"""A build log's outline, pure: the runner's steps with their lines and timings, and the line
where the build failed. The runner announces each step (bot/runner/process.py, StepTimer):
`==> <title>` when it starts and `<== <title>: done in 1.2s` (or `failed`) when it ends, so
the log itself is the record of the steps, on every executor (a Job's log is the runner's
output too) and on every replica (the log is in the store), with nothing else to keep.

The failing line is where bot/failure_reason.py's FailureSpotter, fed the log line by line,
found the error its reason quotes; failing that, the runner's own `BUILD FAILED:` /
`BUILD ERROR:` line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.failure_reason import FailureSpotter
from bot.quoting import plain

_START = re.compile(r"^==> (?P<title>.+)$")
_END = re.compile(r"^<== (?P<title>.+): (?P<state>done|failed) in (?P<seconds>\d+(?:\.\d+)?)s$")
_VERDICT = re.compile(r"^BUILD (?:FAILED|ERROR): ")
# Colours and other escapes a tool wrote (CSI, OSC): the outline reads the text without them.

# What the page sums: the four phases of the issue (fetch, s2i, build, push); the other steps
# (checks, labels, the runtime stage) are short and listed as they are.
KINDS = ("fetch", "s2i", "build", "push")


def step_kind(title: str) -> str:
    """Which phase a runner step belongs to, by the title pipeline.py gives it."""
    if title.startswith("fetch "):
        return "fetch"
    if title.startswith(("s2i build", "add runtime stage")):
        return "s2i"
    if title.startswith("build "):
        return "build"
    if title.startswith("push "):
        return "push"
    return "other"


@dataclass(frozen=True, slots=True)
class Step:
    title: str
    kind: str  # fetch, s2i, build, push or other
    first_line: int  # 1-based: the `==>` line
    last_line: int | None  # the `<==` line; None while it runs
    state: str  # running, done, failed; unfinished in a build that ended
    seconds: float | None


@dataclass(frozen=True, slots=True)
class LogOutline:
    steps: tuple[Step, ...]
    failure_line: int | None  # 1-based

    def seconds_by_kind(self) -> dict[str, float]:
        """Seconds spent in each of KINDS, for the steps that ended."""
        totals: dict[str, float] = {}
        for step in self.steps:
            if step.kind in KINDS and step.seconds is not None:
                totals[step.kind] = round(totals.get(step.kind, 0.0) + step.seconds, 1)
        return totals

    @property
    def failed_step(self) -> Step | None:
        return next((s for s in self.steps if s.state == "failed"), None)


def log_lines(text: str, *, complete_only: bool = False) -> list[str]:
    """The log's lines; `complete_only`: without a last line still being written (no newline
    yet), so that a live reader's line numbers never change under it."""
    lines = text.split("\n")
    last = lines.pop()  # "" when the text ends with a newline
    if last and not complete_only:
        lines.append(last)
    return lines


def outline(lines: list[str], *, failed: bool, finished: bool | None = None) -> LogOutline:
    """Steps of the log, and, for a build that failed, the line its failure is on. In a
    finished build (`finished`, which `failed` implies) a step that never ended was cut
    short (cancelled, timed out, the runner killed): `unfinished`, not `running`."""
    steps: list[Step] = []
    open_steps: dict[str, int] = {}  # title -> index in steps
    spotter = FailureSpotter()
    spotted: int | None = None
    verdict: int | None = None
    for number, text in enumerate(lines, start=1):
        line = plain(text).rstrip("\r")
        if match := _START.match(line):
            open_steps[match["title"]] = len(steps)
            steps.append(
                Step(match["title"], step_kind(match["title"]), number, None, "running", None)
            )
        elif (match := _END.match(line)) and match["title"] in open_steps:
            index = open_steps.pop(match["title"])
            begun = steps[index]
            steps[index] = Step(begun.title, begun.kind, begun.first_line, number, match["state"],
                                float(match["seconds"]))  # fmt: skip
        if _VERDICT.match(line):
            verdict = number
        if failed:
            before = spotter.reason()
            spotter.feed(line)
            after = spotter.reason()
            if after != before:
                spotted = number if after is not None else None
    if finished or (finished is None and failed):
        steps = [s if s.state != "running" else _unfinished(s) for s in steps]
    return LogOutline(tuple(steps), (spotted or verdict) if failed else None)


def _unfinished(step: Step) -> Step:
    return Step(step.title, step.kind, step.first_line, None, "unfinished", None)
