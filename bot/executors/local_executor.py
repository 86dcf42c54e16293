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

A build runs at most its time limit (bot/executors/time_limit.py): then its whole process
group (the runner, s2i, the engine and the build step it runs) gets SIGTERM, SIGKILL after
STOP_SECONDS, and the build ends `failed` "timed out after N s". The runner's output reaches
the log through a pipe, capped at max_log_bytes (bot/build_logs.py). When it has ended, the
images it made leave the engine's storage (bot/executors/local_images.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bot.build_logs import DEFAULT_MAX_BYTES, CappedLog, append_capped
from bot.build_result import BuildResult
from bot.build_spec import BuildSpec
from bot.executors.local_images import prune_finished_builds
from bot.executors.time_limit import DEFAULT_MAX_BUILD_SECONDS, time_limit, timed_out
from bot.runner.artifact import ArtifactPolicy
from bot.runner.credentials import Credentials
from bot.runner.environment import minimal_env

log = logging.getLogger(__name__)
STOP_SECONDS = 10  # how long a stopped runner may take before its group is killed
DRAIN_SECONDS = 10  # how long the log pipe may stay open after the runner has ended


@dataclass(frozen=True)
class LocalExecutor:
    work_dir: Path
    engine: str = "docker"
    s2i: str = "s2i"
    insecure_registries: tuple[str, ...] = ()
    # Where the credentials of running builds are; default: `secrets` beside work_dir.
    secrets_dir: Path | None = None
    artifact_policy: ArtifactPolicy = field(default_factory=ArtifactPolicy)
    max_build_seconds: int = DEFAULT_MAX_BUILD_SECONDS
    max_log_bytes: int = DEFAULT_MAX_BYTES
    # More of the runner's options: signing's tools and the bot's URL (bot/runner/__main__.py).
    runner_args: tuple[str, ...] = ()

    @property
    def engines(self) -> tuple[str, ...]:
        """Whose storage builds leave images in: a build with build secrets is built with
        buildah even when docker is configured (bot/runner/pipeline.py engine_for)."""
        return (self.engine,) if self.engine == "buildah" else (self.engine, "buildah")

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
        for engine in self.engines:  # and the images they made
            prune_finished_builds(engine, self.work_dir)

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
            # Its images (and those of other finished builds) leave the engine's storage.
            try:
                for engine in self.engines if spec.secrets else (self.engine,):
                    await asyncio.to_thread(prune_finished_builds, engine, self.work_dir)
            except Exception:  # pruning is housekeeping: never the build's outcome
                log.exception("build %s: removing its images failed", build_id)

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
            *self.runner_args,
        ]  # fmt: skip
        for registry in self.insecure_registries:
            argv += ["--insecure-registry", registry]
        env = minimal_env(os.environ, home=workdir / "build" / "home")
        limit = time_limit(spec, self.max_build_seconds)
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL, start_new_session=True, env=env,
        )  # fmt: skip
        (workdir / "runner.pid").write_text(str(proc.pid))
        assert proc.stdout is not None
        timed = False
        with CappedLog(log_path, self.max_log_bytes) as log:
            copying = asyncio.create_task(_copy(proc.stdout, log))
            try:
                await asyncio.wait_for(proc.wait(), limit)
            except TimeoutError:
                timed = True
                await _stop_group(proc)
            except asyncio.CancelledError:
                _kill_group(proc.pid)
                await proc.wait()
                copying.cancel()
                raise
            finally:
                # What the group's last members still write; a member that left the group
                # and holds the pipe must not hold the build.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(copying), DRAIN_SECONDS)
                copying.cancel()
        if timed:
            result = timed_out(limit)
            append_capped(log_path, f"BUILD FAILED: {result.reason}\n", self.max_log_bytes)
            return result
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


async def _copy(output: asyncio.StreamReader, log: CappedLog) -> None:
    while chunk := await output.read(64 * 1024):
        log.write(chunk)


async def _stop_group(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM to the runner's whole process group, SIGKILL to what is left of it after
    STOP_SECONDS (the group outlives its leader while any member runs)."""
    _kill_group(proc.pid)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), STOP_SECONDS)
    _kill_group(proc.pid, signal.SIGKILL)
    await proc.wait()


def _kill_group(pid: int, sig: signal.Signals = signal.SIGTERM) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
