"""How the unprivileged pod's export waits for assemble, the two started together
(bot/runner/handover.py): the real wrapper (bot/runner/app_layer.py HANDOVER_SCRIPT) run by
this machine's sh against a directory standing in for the `io` volume."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.runner.app_layer import HANDOVER_SCRIPT, IO_DIR
from bot.runner.handover import (
    ALIVE,
    PREPARE,
    RUNNING,
    STATUS,
    announce,
    finish,
    holds_open,
    wait_for,
    wait_for_assemble,
)


@pytest.fixture
def io_dir(tmp_path: Path) -> Path:
    path = tmp_path / "io"
    path.mkdir()
    return path


@pytest.fixture
def wrappers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:  # each in a session of its own: its builder's processes too
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def start_wrapper(
    io_dir: Path, inner: str, wrappers: list[subprocess.Popen[bytes]], prepared: int | None = 0
) -> subprocess.Popen[bytes]:
    """The wrapper, prepare's exit status already written (None: not yet)."""
    script = HANDOVER_SCRIPT.replace(IO_DIR, str(io_dir))
    if prepared is not None:
        (io_dir / "prepare.running").write_text("")
        (io_dir / "prepare.status").write_text(f"{prepared}\n")
    process = subprocess.Popen(["sh", "-c", script, "sh", inner], start_new_session=True)
    wrappers.append(process)
    return process


def wait_until_running(io_dir: Path) -> None:
    deadline = time.monotonic() + 10
    while not (io_dir / RUNNING).exists():
        assert time.monotonic() < deadline, "the wrapper never said it runs"
        time.sleep(0.01)


def test_the_export_gets_assembles_exit_status_as_soon_as_it_is_written(
    io_dir: Path, wrappers: list[subprocess.Popen[bytes]]
) -> None:
    wrapper = start_wrapper(io_dir, "echo building; exit 2", wrappers)
    ended = wait_for_assemble(io_dir, grace=10)
    assert (ended.status, ended.succeeded) == (2, False)
    assert ended.how == "assemble exited with status 2"
    assert wrapper.wait(timeout=10) == 2
    assert (io_dir / STATUS).read_text() == "2\n"
    # The status file is renamed into place: the export never reads half of it.
    assert not (io_dir / f"{STATUS}.tmp").exists()


def test_a_succeeding_assemble_ends_the_wait_with_status_zero(
    io_dir: Path, wrappers: list[subprocess.Popen[bytes]]
) -> None:
    start_wrapper(io_dir, "true", wrappers)
    assert wait_for_assemble(io_dir, grace=10).succeeded


def test_a_killed_wrapper_ends_the_wait_though_the_builders_processes_live_on(
    io_dir: Path, wrappers: list[subprocess.Popen[bytes]]
) -> None:
    # The builder's scripts run without the FIFO open (fd 3 closed for them): a process
    # they leave behind does not keep the export waiting for a wrapper that is gone.
    wrapper = start_wrapper(io_dir, "sleep 60", wrappers)
    wait_until_running(io_dir)
    assert holds_open(io_dir / ALIVE)
    wrapper.kill()  # the wrapper alone, as an out-of-memory kill may pick it
    wrapper.wait(timeout=10)
    ended = wait_for_assemble(io_dir, grace=10)
    assert ended.status is None and not ended.succeeded
    assert ended.how == "assemble ended without an exit status (killed?)"
    assert not (io_dir / STATUS).exists()


def test_a_wrapper_that_never_starts_ends_the_wait_after_the_grace(io_dir: Path) -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    ended = wait_for_assemble(io_dir, poll=1.0, grace=5.0, clock=lambda: now[0], sleep=sleep)
    assert ended.status is None
    assert ended.how == "assemble did not start within 5 s"
    assert 5.0 < now[0] <= 7.0


def test_without_a_fifo_the_export_waits_for_the_status_alone(io_dir: Path) -> None:
    # A builder without mkfifo: the wrapper's `exec 3<>` leaves a plain file, which tells
    # nothing of the wrapper; the status still ends the wait.
    (io_dir / ALIVE).write_text("")
    (io_dir / RUNNING).write_text("")
    assert holds_open(io_dir / ALIVE)
    (io_dir / STATUS).write_text("0\n")
    assert wait_for_assemble(io_dir, grace=0).succeeded


def test_nothing_of_the_repositorys_runs_before_prepare_has_written_its_status(
    io_dir: Path, wrappers: list[subprocess.Popen[bytes]]
) -> None:
    ran = io_dir.parent / "assemble-ran"
    wrapper = start_wrapper(io_dir, f": >{ran}", wrappers, prepared=None)
    # prepare runs (it says so at once) and holds the wrapper: no assemble, no status yet.
    announce(io_dir, PREPARE)
    with pytest.raises(subprocess.TimeoutExpired):
        wrapper.wait(timeout=0.5)
    assert not ran.exists() and not (io_dir / RUNNING).exists()
    finish(io_dir, PREPARE, 0)
    assert wrapper.wait(timeout=10) == 0
    assert ran.exists() and wait_for_assemble(io_dir, grace=0).succeeded


def test_after_a_failed_prepare_assemble_runs_nothing_and_leaves_no_status(
    io_dir: Path, wrappers: list[subprocess.Popen[bytes]]
) -> None:
    ran = io_dir.parent / "assemble-ran"
    wrapper = start_wrapper(io_dir, f": >{ran}", wrappers, prepared=1)
    assert wrapper.wait(timeout=10) == 0  # prepare's message is the build's result
    assert not ran.exists() and not (io_dir / STATUS).exists()


def test_a_prepare_gone_without_its_status_ends_the_exports_wait(io_dir: Path) -> None:
    # prepare's process holds its FIFO; once it is gone (here: the descriptor closed, as the
    # kernel does when a process is killed) without a status, the export stops waiting.
    fd = announce(io_dir, PREPARE)
    assert holds_open(io_dir / "prepare.alive")
    os.close(fd)
    ended = wait_for(io_dir, PREPARE, grace=10)
    assert ended.status is None
    assert ended.how == "prepare ended without an exit status (killed?)"
