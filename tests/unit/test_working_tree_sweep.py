"""`s2i-bot build` removes what an interrupted run left: the credential copies and work
directories of runs whose process is gone, never those of a run still going."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.working_tree_build import OWNER_FILE, SECRETS_PREFIX, WORK_PREFIX, sweep_stale


def gone_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(done.stdout)


def test_a_dead_runs_leftovers_go_and_a_live_runs_stay(tmp_path: Path) -> None:
    dead, alive = gone_pid(), os.getpid()
    (tmp_path / f"{SECRETS_PREFIX}{dead}-abc").mkdir()
    (tmp_path / f"{SECRETS_PREFIX}{dead}-abc" / "git-token").write_text("ghs_x")
    (tmp_path / f"{SECRETS_PREFIX}{alive}-def").mkdir()
    for pid, name in ((dead, "old"), (alive, "new")):
        work = tmp_path / f"{WORK_PREFIX}{name}"
        (work / "web" / "build").mkdir(parents=True)
        (work / OWNER_FILE).write_text(str(pid))
    (tmp_path / f"{WORK_PREFIX}unowned").mkdir()  # not ours to judge: left alone
    (tmp_path / "unrelated").mkdir()

    sweep_stale(tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{SECRETS_PREFIX}{alive}-def", f"{WORK_PREFIX}new", f"{WORK_PREFIX}unowned", "unrelated"]
    )
