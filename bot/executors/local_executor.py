"""The local executor (embedded default): the runner as a child process on this host.

The runner is the same `python -m bot.runner` a Kubernetes Job runs; its stdout is the build
log, its result a JSON file. Each build gets its own session so cancelling kills the group.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from bot.build_result import BuildResult
from bot.build_spec import BuildSpec
from bot.runner.credentials import Credentials


@dataclass(frozen=True)
class LocalExecutor:
    work_dir: Path
    engine: str = "docker"
    s2i: str = "s2i"
    insecure_registries: tuple[str, ...] = ()

    async def run(
        self, build_id: int, spec: BuildSpec, credentials: Credentials, log_path: Path
    ) -> BuildResult:
        workdir = self.work_dir / str(build_id)
        # A bot killed mid-build leaves its runner going in its own session: stop it before
        # this build starts again in the same place.
        stop_orphan(workdir / "runner.pid")
        shutil.rmtree(workdir, ignore_errors=True)
        secrets, spec_file, result_file = (
            workdir / "secrets",
            workdir / "spec.json",
            workdir / "result.json",
        )
        credentials.write_dir(secrets)
        spec_file.write_text(spec.model_dump_json())
        argv = [
            sys.executable, "-m", "bot.runner", "--spec", str(spec_file),
            "--secrets", str(secrets), "--workdir", str(workdir / "build"),
            "--result", str(result_file), "--engine", self.engine, "--s2i", self.s2i,
        ]  # fmt: skip
        for registry in self.insecure_registries:
            argv += ["--insecure-registry", registry]
        with log_path.open("ab") as log:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdout=log, stderr=log, stdin=asyncio.subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
            (workdir / "runner.pid").write_text(str(proc.pid))
            try:
                await proc.wait()
            except asyncio.CancelledError:
                _kill_group(proc.pid)
                await proc.wait()
                raise
        try:
            if result_file.exists():
                return BuildResult.model_validate_json(result_file.read_text())
            return BuildResult(
                state="error", reason=f"the runner exited with status {proc.returncode}"
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    async def cancel(self, build_id: int, log_path: Path) -> None:
        """Stop the build for good: its runner's process group goes (cancelling the task that
        awaits run() does the same)."""
        stop_orphan(self.work_dir / str(build_id) / "runner.pid")


def stop_orphan(pid_file: Path) -> None:
    """Kill the runner a previous bot process started for this build, if it still runs."""
    try:
        pid = int(pid_file.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return
    if b"bot.runner" in cmdline:  # the pid was not reused by something else
        _kill_group(pid)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
