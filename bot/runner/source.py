"""Fetch the source at exactly the pushed commit, over git's smart HTTP, with the forge token.

The token reaches git through a credential helper reading a private file, so it is in no URL,
argument or log line (GitHub and GitLab both accept it as the password of HTTP Basic auth).
The file and the helper live in the fetch step's private directory (PrivateFiles), never in
the workdir, and go when the fetch is done.

The helper answers for the forge's own origin only (`credential.<scheme://host:port>.helper`,
gitcredentials(7) "Credential contexts"), and git follows no redirect
(`http.followRedirects=false`, git-config(1)): no other host, whether a redirect leads there or
a URL names it, ever receives the token. Only http(s) is allowed (GIT_ALLOW_PROTOCOL).
"""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

from bot.runner.errors import BuildError
from bot.runner.process import BuildLog, capture, run_step

# git's credential helper protocol (git-credential(1)): git writes the request on stdin and
# calls the helper with "get", "store" or "erase"; only "get" has an answer.
_CREDENTIAL_HELPER = """#!/bin/sh
cat >/dev/null
test "$1" = get || exit 0
echo username=x-access-token
printf 'password=%s\\n' "$(cat "$S2I_BOT_GIT_TOKEN_FILE")"
"""


def credential_origin(url: str) -> str:
    """scheme://host[:port] of a git URL: where its token may go, and nowhere else."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BuildError(f"{url} is not an http(s) git URL")
    if parts.username is not None or parts.password is not None:
        raise BuildError("the git URL carries credentials; the token is given to git apart")
    return f"{parts.scheme}://{parts.netloc}"


def git_env(workdir: Path, token_file: Path | None, url: str) -> dict[str, str]:
    """git's whole environment for fetching `url`: no user or system config, no prompt, no
    redirect, and the token (if any) for `url`'s origin only."""
    config = [
        ("http.followRedirects", "false"),
        ("credential.helper", ""),  # an empty value empties the list of helpers
    ]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),  # no user config, no stored credentials
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_ALLOW_PROTOCOL": "http:https",
    }
    if token_file is not None:
        helper = token_file.parent / "git-credential.sh"
        helper.write_text(_CREDENTIAL_HELPER)
        helper.chmod(0o700)
        config.append((f"credential.{credential_origin(url)}.helper", str(helper)))
        env["S2I_BOT_GIT_TOKEN_FILE"] = str(token_file)
    # Configuration for every git command, from the environment (git-config(1), GIT_CONFIG_COUNT).
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for index, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{index}"], env[f"GIT_CONFIG_VALUE_{index}"] = key, value
    return env


def fetch_source(
    url: str, sha: str, ref: str, dest: Path, log: BuildLog, *, token_file: Path | None
) -> None:
    """Populate dest with the tree of `sha` (a shallow fetch when the server allows it)."""
    env = git_env(dest.parent, token_file, url)
    dest.mkdir(parents=True, exist_ok=True)
    for argv in (["git", "init", "-q"], ["git", "remote", "add", "origin", url]):
        result = capture(argv, env=env, cwd=dest)
        if result.returncode != 0:
            raise BuildError(f"git {argv[1]} failed: {result.stderr.strip()}")
    # Fetching a bare sha needs uploadpack.allowReachableSHA1InWant (GitHub allows it); when a
    # server refuses, fetch the ref instead and check that it still contains the commit.
    shallow = ["git", "fetch", "-q", "--depth=1", "--end-of-options", "origin", sha]
    fetched = run_step(shallow, log, env=env, cwd=dest)
    if not fetched.ok:
        log.line(f"fetching {sha} directly was refused; fetching {ref} instead")
        whole = ["git", "fetch", "-q", "--end-of-options", "origin", ref]
        fetched = run_step(whole, log, env=env, cwd=dest)
    if not fetched.ok:
        raise BuildError(f"could not fetch {url} at {sha[:12]}: " + " ".join(fetched.tail[-2:]))
    checkout = run_step(["git", "checkout", "-q", "--detach", sha], log, env=env, cwd=dest)
    if not checkout.ok:
        raise BuildError(f"commit {sha[:12]} is not on {ref} of {url}")
