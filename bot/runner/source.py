"""Fetch the source at exactly the pushed commit, over git's smart HTTP, with the forge token.

The token reaches git through GIT_ASKPASS reading a private file, so it is in no URL, argument
or log line (GitHub and GitLab both accept it as the password of HTTP Basic auth).
"""

from __future__ import annotations

import os
from pathlib import Path

from bot.runner.errors import BuildError
from bot.runner.process import BuildLog, capture, run_step

_ASKPASS = """#!/bin/sh
# git asks "Username for ..." then "Password for ...": answer the token as the password.
case "$1" in
  Username*) echo x-access-token ;;
  *) cat "$S2I_BOT_GIT_TOKEN_FILE" ;;
esac
"""


def git_env(workdir: Path, token_file: Path | None) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),  # no user config, no stored credentials
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    if token_file is not None:
        askpass = workdir / "askpass.sh"
        askpass.write_text(_ASKPASS)
        askpass.chmod(0o700)
        env |= {"GIT_ASKPASS": str(askpass), "S2I_BOT_GIT_TOKEN_FILE": str(token_file)}
    return env


def fetch_source(
    url: str, sha: str, ref: str, dest: Path, log: BuildLog, *, token_file: Path | None
) -> None:
    """Populate dest with the tree of `sha` (a shallow fetch when the server allows it)."""
    env = git_env(dest.parent, token_file)
    dest.mkdir(parents=True, exist_ok=True)
    for argv in (["git", "init", "-q"], ["git", "remote", "add", "origin", url]):
        result = capture(argv, env=env, cwd=dest)
        if result.returncode != 0:
            raise BuildError(f"git {argv[1]} failed: {result.stderr.strip()}")
    # Fetching a bare sha needs uploadpack.allowReachableSHA1InWant (GitHub allows it); when a
    # server refuses, fetch the ref instead and check that it still contains the commit.
    fetched = run_step(["git", "fetch", "-q", "--depth=1", "origin", sha], log, env=env, cwd=dest)
    if not fetched.ok:
        log.line(f"fetching {sha} directly was refused; fetching {ref} instead")
        fetched = run_step(["git", "fetch", "-q", "origin", ref], log, env=env, cwd=dest)
    if not fetched.ok:
        raise BuildError(f"could not fetch {url} at {sha[:12]}: " + " ".join(fetched.tail[-2:]))
    checkout = run_step(["git", "checkout", "-q", "--detach", sha], log, env=env, cwd=dest)
    if not checkout.ok:
        raise BuildError(f"commit {sha[:12]} is not on {ref} of {url}")
