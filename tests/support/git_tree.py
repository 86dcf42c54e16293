"""Push a tree the way a repository writer does: with `git push`, symlinks and all.

The fakes' `commit()` writes regular files only; a hostile repository also holds symlinks
(to /proc/self/environ, to the runner's secrets, to a sibling directory), which git stores as
links (mode 120000) and checks out as links.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from tests.support.github_client import git_env, run_git


def push_tree(
    clone_url: str,
    token: str,
    work: Path,
    files: Mapping[str, str | bytes],
    *,
    symlinks: Mapping[str, str] = {},
    message: str = "a change",
    branch: str = "main",
) -> str:
    """Commit files and symlinks (path -> target, as `ln -s target path`) as one commit on
    top of branch (or as its first commit), push it over HTTP with token; the new sha."""
    env = git_env(work.parent, token)
    if not (work / ".git").exists():
        cloned = run_git(env, "clone", "-q", clone_url, str(work))
        assert cloned.returncode == 0, cloned.stderr
        switched = run_git(env, "checkout", "-q", "-B", branch, cwd=work)
        assert switched.returncode == 0, switched.stderr
    for name, content in files.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        if name.startswith(".s2i/bin/"):
            path.chmod(0o755)
    for name, target in symlinks.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or path.exists():
            path.unlink()
        os.symlink(target, path)
    for argv in (["add", "-A"], ["commit", "-q", "-m", message]):
        done = run_git(env, *argv, cwd=work)
        assert done.returncode == 0, done.stderr + done.stdout
    pushed = run_git(env, "push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=work)
    assert pushed.returncode == 0, pushed.stderr
    return run_git(env, "rev-parse", "HEAD", cwd=work).stdout.strip()
