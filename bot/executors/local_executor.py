"""The local executor (embedded default): the runner as a child process on this host.

The runner is the same `python -m bot.runner` a Kubernetes Job runs; its stdout is the build
log, its result a JSON file. Each build gets its own session so cancelling kills the group.

Each build has two directories of its own, in two separate trees:
- `<work_dir>/<build id>/`: the spec, the result, the runner's pid and its workdir (`build/`,
  where the source is fetched and s2i's context made);
- `<secrets_dir>/<build id>-<random>/` (0700, files 0600): the credentials the runner reads
  and removes at once, then the per-step copies it makes (bot/runner/credentials.py). It is
  outside the tree that holds the source, so no `context` or path of the repository can lead
  there (and both are refused anyway: bot/runner/source_tree.py).
Both go when the build ends, however it ends (succeeded, failed, error, cancelled), and
sweep() removes what a crashed bot left, after stopping its orphaned runners. The runner
starts with a minimal environment (bot/runner/environment.py), nothing of the bot's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bot.build_result import BuildResult
from bot.build_spec import BuildSpec
from bot.runner.artifact import ArtifactPolicy
from bot.runner.credentials import Credentials
from bot.runner.environment import minimal_env

STOP_SECONDS = 10  # how long a stopped runner may take before its group is killed


@dataclass(frozen=True)
class LocalExecutor:
    work_dir: Path
    engine: str = "docker"
    s2i: str = "s2i"
    insecure_registries: tuple[str, ...] = ()
    # Where the credentials of running builds are; default: `secrets` beside work_dir.
    secrets_dir: Path | None = None
    artifact_policy: ArtifactPolicy = field(default_factory=ArtifactPolicy)

    @property
    def secrets_root(self) -> Path:
        return self.secrets_dir or self.work_dir.parent / "secrets"

    def sweep(self) -> None:
        """On start: stop the runners a crashed bot left, then remove every build's work and
        secrets directory (none of them belongs to a running build of this bot yet)."""
        for pid_file in self.work_dir.glob("*/runner.pid"):
            stop_orphan(pid_file)
        for root in (self.work_dir, self.secrets_root):
            for child in root.iterdir() if root.is_dir() else ():
                _remove(child)

    async def run(
        self, build_id: int, spec: BuildSpec, credentials: Credentials, log_path: Path
    ) -> BuildResult:
        workdir = self.work_dir / str(build_id)
        # A bot killed mid-build leaves its runner going in its own session: stop it before
        # this build starts again in the same place.
        await asyncio.to_thread(stop_orphan, workdir / "runner.pid")
        _remove(workdir)
        for stale in self.secrets_root.glob(f"{build_id}-*"):
            _remove(stale)
        secrets: Path | None = None
        try:
            workdir.mkdir(mode=0o700, parents=True)
            self.secrets_root.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.secrets_root.chmod(0o700)
            secrets = Path(tempfile.mkdtemp(prefix=f"{build_id}-", dir=self.secrets_root))
            return await self._run(build_id, spec, credentials, log_path, workdir, secrets)
        finally:
            _remove(workdir)
            if secrets is not None:
                _remove(secrets)

    async def _run(
        self, build_id: int, spec: BuildSpec, credentials: Credentials, log_path: Path,
        workdir: Path, secrets: Path,
    ) -> BuildResult:  # fmt: skip
        spec_file, result_file = workdir / "spec.json", workdir / "result.json"
        credentials.write_dir(secrets)
        spec_file.write_text(spec.model_dump_json())
        argv = [
            sys.executable, "-m", "bot.runner", "--spec", str(spec_file),
            "--secrets", str(secrets), "--private-dir", str(secrets),
            "--workdir", str(workdir / "build"), "--result", str(result_file),
            "--engine", self.engine, "--s2i", self.s2i, *self.artifact_policy.argv(),
        ]  # fmt: skip
        for registry in self.insecure_registries:
            argv += ["--insecure-registry", registry]
        env = minimal_env(os.environ, home=workdir / "build" / "home")
        with log_path.open("ab") as log:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdout=log, stderr=log, stdin=asyncio.subprocess.DEVNULL,
                start_new_session=True, env=env,
            )  # fmt: skip
            (workdir / "runner.pid").write_text(str(proc.pid))
            try:
                await proc.wait()
            except asyncio.CancelledError:
                _kill_group(proc.pid)
                await proc.wait()
                raise
        if result_file.exists():
            return BuildResult.model_validate_json(result_file.read_text())
        return BuildResult(state="error", reason=f"the runner exited with status {proc.returncode}")

    async def cancel(self, build_id: int, log_path: Path) -> None:
        """Stop the build for good: its runner's process group goes (cancelling the task that
        awaits run() does the same, and run() removes its directories)."""
        pid = _runner_pid(self.work_dir / str(build_id) / "runner.pid")
        if pid is not None:
            _kill_group(pid)


def stop_orphan(pid_file: Path) -> None:
    """Stop the runner a previous bot process started for this build, if it still runs, and
    wait until it is gone (then nothing writes into its directories any more)."""
    pid = _runner_pid(pid_file)
    if pid is None:
        return
    try:
        pidfd = os.pidfd_open(pid)  # readable once the process has ended (Linux 5.3)
    except ProcessLookupError:
        return
    try:
        _kill_group(pid)
        poll = select.poll()
        poll.register(pidfd, select.POLLIN)
        if not poll.poll(STOP_SECONDS * 1000):
            _kill_group(pid, signal.SIGKILL)
            poll.poll(STOP_SECONDS * 1000)
    finally:
        os.close(pidfd)


def _runner_pid(pid_file: Path) -> int | None:
    """The pid in pid_file if it is still a runner (not gone, not reused by something else)."""
    try:
        pid = int(pid_file.read_text())
    except (OSError, ValueError):
        return None
    return pid if _is_runner(pid) else None


def _is_runner(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return b"bot.runner" in cmdline and state != "Z"


def _kill_group(pid: int, sig: signal.Signals = signal.SIGTERM) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
