"""Run one build step as a child process, streaming its output into the build log.

Every line passes through the log's secret mask, so a token echoed by a tool never reaches
the log store, literally or encoded (bot/runner/secret_masks.py).
"""

from __future__ import annotations

import re
import subprocess
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.runner.secret_masks import secret_forms

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_NOT_COLOUR = re.compile(r"\x1b\[[0-9;?]*[A-Za-ln-z]")  # every CSI escape but SGR's `m`


class BuildLog:
    """A line-oriented build log that masks secrets and announces steps with timings."""

    def __init__(self, stream: TextIO, secrets: Sequence[str] = ()) -> None:
        self._stream = stream
        self._masks: list[str] = []
        for secret in secrets:
            self.add_secret(secret)

    def add_secret(self, secret: str) -> None:
        """Mask secret from now on, in every form secret_forms knows."""
        forms = secret_forms(secret) | set(self._masks)
        # Longest first: a form inside a longer one must not leave the rest of it behind.
        self._masks = sorted(forms, key=lambda f: (-len(f), f))

    def mask(self, text: str) -> str:
        """`text` as plain words, secrets masked: for reasons, tails and error messages.
        Docker's classic builder colours a step's stderr (e.g. the compiler's message) with
        ANSI escapes; a status should show the words, not the escapes."""
        text = _ANSI_ESCAPE.sub("", text)
        for form in self._masks:
            text = text.replace(form, "***")
        return text

    def logged(self, text: str) -> str:
        """`text` as the log keeps it: its colours (SGR escapes), which the build page shows,
        and no other escape. A line in which a secret was masked is kept plain: escapes
        could otherwise split a secret into parts no mask matches."""
        plain = _ANSI_ESCAPE.sub("", text)
        masked = self.mask(text)
        return masked if masked != plain else _NOT_COLOUR.sub("", text)

    def line(self, text: str) -> None:
        self._stream.write(self.logged(text.rstrip("\n")) + "\n")
        self._stream.flush()

    def sibling(self, stream: TextIO) -> BuildLog:
        """A log into stream that masks what this one masks (for a step run beside
        another, whose lines are added to this log afterwards)."""
        other = BuildLog(stream)
        other._masks = list(self._masks)
        return other

    def step(self, title: str) -> StepTimer:
        return StepTimer(self, title)


class StepTimer:
    def __init__(self, log: BuildLog, title: str) -> None:
        self._log, self._title = log, title

    def __enter__(self) -> StepTimer:
        self._start = time.monotonic()
        self._log.line(f"==> {self._title}")
        return self

    def __exit__(self, *exc: object) -> None:
        state = "failed" if exc[0] is not None else "done"
        self._log.line(f"<== {self._title}: {state} in {time.monotonic() - self._start:.1f}s")


@dataclass(frozen=True, slots=True)
class StepResult:
    returncode: int
    tail: tuple[str, ...]  # the last lines of output, masked, for error messages

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_step(
    argv: Sequence[str],
    log: BuildLog,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    echo: bool = True,
    watch: Callable[[str], None] | None = None,
) -> StepResult:
    """Run argv, copying its merged stdout/stderr line by line into the log (and, masked, to
    `watch`)."""
    tail: deque[str] = deque(maxlen=20)
    if echo:
        log.line("$ " + " ".join(argv))
    with subprocess.Popen(
        list(argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        text=True,
        errors="replace",
        bufsize=1,
    ) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            log.line(raw)  # with its colours
            line = log.mask(raw.rstrip("\n"))
            tail.append(line)
            if watch is not None:
                watch(line)
        returncode = proc.wait()
    return StepResult(returncode, tuple(tail))


def capture(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a short query command (inspect, rev-parse) and capture its output."""
    return subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        check=False,
    )
