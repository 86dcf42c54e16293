"""How the unprivileged pod's `export` waits for `assemble` (bot/executors/unprivileged_pod.py):
the two are regular containers the kubelet starts together, so the export's start-up and its
registry reads overlap the build, and no kubelet status round (its PLEG relists containers
once a second) lies between them. They hand over through files in IO_DIR:

- assemble's wrapper (bot/runner/app_layer.py HANDOVER_SCRIPT) opens the FIFO ALIVE and
  keeps it open while it runs, then writes RUNNING; when assemble has ended it writes its exit
  status to STATUS (renamed into place: whole or absent);
- the export polls for STATUS. The kernel closes ALIVE however the wrapper ends (killed, out
  of memory), so once RUNNING exists a FIFO nobody holds means the wrapper is gone: the export
  stops waiting instead of hanging until the Job's activeDeadlineSeconds. The kubelet starts
  assemble before the export (in the pod's order), so a wrapper that has not written RUNNING
  after START_GRACE_SECONDS never started (its container could not run the builder's sh).

A builder without mkfifo leaves ALIVE a plain file: the export then waits for STATUS alone
(and the Job's time limit ends a build whose wrapper was killed). What assemble writes there
is the repository's code's to write, as the layer itself is: a forged STATUS only makes the
export take a layer the build's own code made.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ALIVE = "assemble.alive"
RUNNING = "assemble.running"
STATUS = "assemble.status"
# The pod's env telling the export to wait for assemble (set by the bot that renders assemble
# beside it; an env, not a flag: a runner image older than the bot ignores it).
AWAIT_ENV = "S2I_BOT_AWAIT_ASSEMBLE"
POLL_SECONDS = 0.05
START_GRACE_SECONDS = 60.0


@dataclass(frozen=True)
class AssembleEnded:
    """How assemble ended: its exit status (None when it left none) and, said for the log."""

    status: int | None
    how: str

    @property
    def succeeded(self) -> bool:
        return self.status == 0


def wait_for_assemble(
    io: Path,
    *,
    poll: float = POLL_SECONDS,
    grace: float = START_GRACE_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> AssembleEnded:
    """Wait until assemble has written its exit status, or is gone without one."""
    since = clock()
    while True:
        if (status := exit_status(io)) is not None:
            return AssembleEnded(status, f"assemble exited with status {status}")
        if (io / RUNNING).exists():
            if not holds_open(io / ALIVE):
                # It may have written its status just before it ended.
                if (status := exit_status(io)) is not None:
                    return AssembleEnded(status, f"assemble exited with status {status}")
                return AssembleEnded(None, "assemble ended without an exit status (killed?)")
        elif clock() - since > grace:
            return AssembleEnded(None, f"assemble did not start within {grace:.0f} s")
        sleep(poll)


def exit_status(io: Path) -> int | None:
    try:
        text = (io / STATUS).read_text().strip()
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
