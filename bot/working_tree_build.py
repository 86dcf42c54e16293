"""`s2i-bot build`: exactly the build the bot would run, on a local working tree, before a push.

The tree's `.s2i.yaml` is planned as a push of its current branch would be (every build the
branch does not trigger is planned as if it did, when `--name` asks for it or the branch
triggers none), and the same runner builds it from the working tree as it is, uncommitted
changes included.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from bot.build_result import BuildResult
from bot.build_spec import BuildSpec
from bot.events import Event, EventKind, Repo
from bot.planner import plan
from bot.repo_config import FILE_NAME, RepoConfig, parse_repo_config
from bot.runner.credentials import Credentials
from bot.runner.pipeline import RunnerOptions, run_build
from bot.runner.process import BuildLog
from bot.templates import Template


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
    log = BuildLog(sys.stdout)
    results = []
    for spec in specs:
        secrets = workdir / spec.name / "secrets"
        credentials.write_dir(secrets)
        results.append(run_build(spec, secrets, workdir / spec.name / "build", log, options))
    return results
