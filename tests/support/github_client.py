"""Real clients of the fake GitHub: PyGithub configured as the bot configures it, and git
with a token answered by GIT_ASKPASS (never from the user's config or a terminal)."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

from github import Auth, Github

from tests.fakes.git import GIT_ENV
from tests.fakes.github import FakeGitHub


def pygithub(
    fake: FakeGitHub, token: str = "", *, lazy: bool = True, auth: Auth.Auth | None = None
) -> Github:
    """PyGithub against ``fake`` with ``token`` (or ``auth``): no retries, no throttling, as
    the bot's settings, or tests would wait. PyGithub 2.10 deprecates
    get_repo(..., lazy=True): laziness is a Github() argument now."""
    return Github(
        base_url=fake.api_url,
        auth=auth or Auth.Token(token or fake.token),
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
        lazy=lazy,
    )


def git_env(tmp_path: Path, token: str) -> dict[str, str]:
    """git's environment: GIT_ASKPASS answers the user name and password prompts; the token
    is the password."""
    suffix = secrets.token_hex(4)  # one environment per token, side by side
    secret = tmp_path / f"token-{suffix}"
    secret.write_text(token)
    askpass = tmp_path / f"askpass-{suffix}.sh"
    askpass.write_text(f'#!/bin/sh\ncase "$1" in Username*) echo x-access-token;; '
                       f'*) cat {secret};; esac\n')  # fmt: skip
    askpass.chmod(0o700)
    identity = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t"}
    return {**GIT_ENV, **identity, "GIT_COMMITTER_EMAIL": "t@e", "GIT_ASKPASS": str(askpass)}


def run_git(
    env: dict[str, str], *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
