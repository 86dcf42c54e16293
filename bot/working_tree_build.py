"""`s2i-bot build`: exactly the build the bot would run, on a local working tree, before a push.

The tree's `.s2i.yaml` is planned as a push of its current branch would be (every build the
branch does not trigger is planned as if it did, when `--name` asks for it or the branch
triggers none), and the same runner builds it from the working tree as it is, uncommitted
changes included: `python -m bot.runner` in a child process, as the local executor starts it,
with the same minimal environment (nothing of the shell's) and the same checks of the tree.

Each build's directory (`<workdir>/<name>`) and its credential copy (a private temporary
directory outside it, named with this process's pid) are removed when that build ends; what
an interrupted run left is swept at the next start (sweep_stale: directories whose pid is no
longer a running process).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from bot.build_result import BuildResult
from bot.build_spec import BuildSpec
from bot.events import Event, EventKind, Repo
from bot.planner import plan
from bot.repo_config import FILE_NAME, RepoConfig, parse_repo_config
from bot.runner.credentials import Credentials
from bot.runner.environment import minimal_env
from bot.runner.pipeline import RunnerOptions
from bot.templates import Template

SECRETS_PREFIX = "s2i-bot-secrets-"
WORK_PREFIX = "s2i-bot-build-"  # the work directory `s2i-bot build` makes (bot/cli.py)
OWNER_FILE = "owner.pid"  # in the work directory: which `s2i-bot build` process it is for


def _git(path: Path, *args: str) -> str | None:
    result = subprocess.run(
        ["git", "-C", str(path), *args], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() if result.returncode == 0 else None


def local_specs(
    path: Path,
    templates: Mapping[str, Template],
    *,
    builder_registry: str | None,
    names: list[str] | None = None,
) -> list[BuildSpec]:
    config_file = path / FILE_NAME
    config = parse_repo_config(
        config_file.read_text(), templates=templates.keys(), path=str(config_file)
    )
    branch = _git(path, "rev-parse", "--abbrev-ref", "HEAD") or "local"
    sha = _git(path, "rev-parse", "HEAD") or "0" * 40
    event = Event(
        EventKind.PUSH, Repo("local", path.name, str(path)), f"refs/heads/{branch}", sha,
        "you", "local",
    )  # fmt: skip
    specs = plan(event, config, templates, builder_registry=builder_registry, names=names)
    if not specs:
        # Nothing triggers on this branch: build what was asked for as if it did.
        on_branch = RepoConfig(
            tuple(
                replace(
                    b, triggers=replace(b.triggers, branches=(branch,), paths=(), paths_ignore=())
                )
                for b in config.builds
            )
        )
        specs = plan(event, on_branch, templates, builder_registry=builder_registry, names=names)
    local = str(path.resolve())
    return [
        s.model_copy(update={"source": s.source.model_copy(update={"local_dir": local})})
        for s in specs
    ]


def build_locally(
    specs: list[BuildSpec], credentials: Credentials, workdir: Path, options: RunnerOptions
) -> list[BuildResult]:
    """Build each spec in turn with the runner; workdir holds the builds' directories."""
    sweep_stale(Path(tempfile.gettempdir()))
    (workdir / OWNER_FILE).write_text(str(os.getpid()))
    return [_build_one(spec, credentials, workdir / spec.name, options) for spec in specs]


def _build_one(
    spec: BuildSpec, credentials: Credentials, build_dir: Path, options: RunnerOptions
) -> BuildResult:
    secrets = Path(tempfile.mkdtemp(prefix=f"{SECRETS_PREFIX}{os.getpid()}-"))
    try:
        build_dir.mkdir(mode=0o700, parents=True)
        credentials.write_dir(secrets)
        spec_file, result_file = build_dir / "spec.json", build_dir / "result.json"
        spec_file.write_text(spec.model_dump_json())
        argv = [
            sys.executable, "-m", "bot.runner", "--spec", str(spec_file),
            "--secrets", str(secrets), "--private-dir", str(secrets),
            "--workdir", str(build_dir / "build"), "--result", str(result_file),
            "--engine", options.engine, "--s2i", options.s2i,
            *options.artifact_policy.argv(),
        ]  # fmt: skip
        for registry in options.insecure_registries:
            argv += ["--insecure-registry", registry]
        sys.stdout.flush()
        done = subprocess.run(
            argv, env=minimal_env(os.environ, home=build_dir / "build" / "home"),
            stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
        if result_file.exists():
            return BuildResult.model_validate_json(result_file.read_text())
        return BuildResult(state="error", reason=f"the runner exited with status {done.returncode}")
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)
        shutil.rmtree(secrets, ignore_errors=True)


def sweep_stale(temp_dir: Path) -> None:
    """Remove the credential copies and work directories of `s2i-bot build` runs that are
    gone (killed before their cleanup): their pid no longer runs."""
    for path in temp_dir.glob(f"{SECRETS_PREFIX}*-*"):
        pid = path.name[len(SECRETS_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
    for path in temp_dir.glob(f"{WORK_PREFIX}*"):
        try:
            pid = (path / OWNER_FILE).read_text().strip()
        except OSError:
            continue
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
