"""How the unprivileged pod's steps hand over (bot/executors/unprivileged_pod.py): `prepare`,
`assemble` and `export` are regular containers the kubelet starts together, in that order,
so no kubelet status round (its PLEG relists containers once a second) lies between them,
and the export's start-up and registry reads overlap the build. They hand over through
files in IO_DIR, each step's `<step>.alive`, `<step>.running` and `<step>.status`:

- a step creates the FIFO ALIVE and keeps it open while it runs, then writes RUNNING; when
  it has ended it writes its exit status to STATUS (renamed into place: whole or absent).
  prepare does so in Python (announce, finish); assemble's wrapper in POSIX sh
  (bot/runner/app_layer.py HANDOVER_SCRIPT), which first waits for prepare's STATUS: nothing
  of the repository's runs before prepare has ended;
- the export polls for a step's STATUS. The kernel closes ALIVE however a step ends (killed,
  out of memory), so once RUNNING exists a FIFO nobody holds means the step is gone: the
  export stops waiting instead of hanging until the Job's activeDeadlineSeconds (and writes
  prepare's STATUS for it, so that assemble's wrapper stops waiting too). The kubelet starts
  the steps in the pod's order, so one that has not written RUNNING after
  START_GRACE_SECONDS never started (its container could not run).

A builder without mkfifo leaves assemble's ALIVE a plain file: the export then waits for its
STATUS alone (and the Job's time limit ends a build whose wrapper was killed). What assemble
writes there is the repository's code's to write, as the layer itself is: a forged STATUS
only makes the export take a layer the build's own code made.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PREPARE = "prepare"
ASSEMBLE = "assemble"
ALIVE = f"{ASSEMBLE}.alive"
RUNNING = f"{ASSEMBLE}.running"
STATUS = f"{ASSEMBLE}.status"
# The env of the runner's steps when they run together (set by the bot that renders them
# so; an env, not a flag: a runner image older than the bot ignores it).
TOGETHER_ENV = "S2I_BOT_STEPS_TOGETHER"
POLL_SECONDS = 0.05
START_GRACE_SECONDS = 60.0


@dataclass(frozen=True)
class StepEnded:
    """How a step ended: its exit status (None when it left none) and, said for the log."""

    status: int | None
    how: str

    @property
    def succeeded(self) -> bool:
        return self.status == 0


def announce(io: Path, step: str) -> int:
    """This process runs `step`: the FIFO held open (its descriptor, kept until the process
    ends; O_RDWR opens a FIFO at once on Linux), then RUNNING."""
    fifo = io / f"{step}.alive"
    with contextlib.suppress(FileExistsError):
        os.mkfifo(fifo, 0o600)
    fd = os.open(fifo, os.O_RDWR)
    (io / f"{step}.running").write_text("")
    return fd


def finish(io: Path, step: str, status: int) -> None:
    """The step's exit status, renamed into place."""
    partial = io / f"{step}.status.tmp"
    partial.write_text(f"{status}\n")
    partial.replace(io / f"{step}.status")


def wait_for(
    io: Path,
    step: str,
    *,
    poll: float = POLL_SECONDS,
    grace: float = START_GRACE_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> StepEnded:
    """Wait until `step` has written its exit status, or is gone without one."""
    since = clock()
    while True:
        if (status := exit_status(io, step)) is not None:
            return StepEnded(status, f"{step} exited with status {status}")
        if (io / f"{step}.running").exists():
            if not holds_open(io / f"{step}.alive"):
                # It may have written its status just before it ended.
                if (status := exit_status(io, step)) is not None:
                    return StepEnded(status, f"{step} exited with status {status}")
                return StepEnded(None, f"{step} ended without an exit status (killed?)")
        elif clock() - since > grace:
            return StepEnded(None, f"{step} did not start within {grace:.0f} s")
        sleep(poll)


def wait_for_assemble(
    io: Path,
    *,
    poll: float = POLL_SECONDS,
    grace: float = START_GRACE_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> StepEnded:
    return wait_for(io, ASSEMBLE, poll=poll, grace=grace, clock=clock, sleep=sleep)


def exit_status(io: Path, step: str = ASSEMBLE) -> int | None:
    try:
        text = (io / f"{step}.status").read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else 1


def holds_open(fifo: Path) -> bool:
    """Whether some process holds the FIFO open for reading (its writer end opens then); True
    when that cannot be told (a plain file, as without mkfifo)."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        return exc.errno != errno.ENXIO  # ENXIO: a FIFO without a reader
    with contextlib.suppress(OSError):
        os.close(fd)
    return True
