"""Bare git repositories for the forge fakes, and git's smart HTTP protocol over CGI.

Every git call runs with a fixed environment (:data:`GIT_ENV`) so that neither the user's
nor the system's git config, nor a terminal prompt, can change what a test sees.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ZERO_SHA = "0" * 40
_SHA = re.compile("[0-9a-f]{40}")
IDENTITY = {"name": "S2I Bot Tests", "email": "tests@s2i-bot.invalid"}
# 2024-01-01T00:00:00Z; each commit of a repository is one second later, so shas are
# reproducible from run to run yet two commits never share a timestamp.
_EPOCH = 1704067200

GIT_ENV: dict[str, str] = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "LC_ALL": "C",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "HOME": os.devnull,
}


class GitError(RuntimeError):
    """A git command failed; the message carries its stderr."""


def git(git_dir: Path, *args: str, stdin: bytes = b"", env: Mapping[str, str] = {}) -> bytes:
    """Run ``git --git-dir=<git_dir> args...``; its stdout (GitError on failure)."""
    done = subprocess.run(
        ["git", f"--git-dir={git_dir}", *args],
        input=stdin,
        capture_output=True,
        env={**GIT_ENV, **env},
        check=False,
    )
    if done.returncode != 0:
        raise GitError(f"{' '.join(done.args)}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def _data(data: bytes) -> list[bytes]:
    """A `data` command of git fast-import's stream: exact byte count, then the bytes."""
    return [f"data {len(data)}".encode(), data]


@dataclass(frozen=True)
class Blob:
    sha: str
    mode: str
    data: bytes


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    tree: str
    parents: list[str]
    author: tuple[str, str, int]  # name, email, unix time
    committer: tuple[str, str, int]
    message: str


@dataclass(frozen=True)
class FileChange:
    """One line of ``git diff-tree --raw`` joined with ``--numstat``."""

    path: str
    status: str  # GitHub's vocabulary: added, removed, modified...
    blob_sha: str
    additions: int
    deletions: int


_STATUS = {"A": "added", "D": "removed", "M": "modified", "T": "changed"}


class BareRepo:
    """A bare repository that tests write to with plumbing (no work tree, no push)."""

    def __init__(self, path: Path, default_branch: str = "main") -> None:
        self.path = path
        self.default_branch = default_branch
        self._commits = 0
        # What a commit named by its sha holds never changes: the fake API reads the same
        # .s2i.yaml or commit for every delivery, and asks a path's kind before its blob.
        self._entries: dict[tuple[str, str], tuple[str, str, str] | None] = {}
        self._commit_infos: dict[str, CommitInfo] = {}
        path.mkdir(parents=True, exist_ok=True)
        # No template: a forge's repository needs none of git's sample hooks or info files,
        # and a suite makes and removes hundreds of repositories (a third of the files).
        git(path, "init", "--quiet", "--bare", "--template=", f"--initial-branch={default_branch}")
        # http-backend refuses pushes unless REMOTE_USER is set, which the fake always sets.
        git(path, "config", "http.receivepack", "true")

    def commit(
        self,
        files: Mapping[str, str | bytes | None],
        message: str,
        branch: str,
        start: str | None = None,
    ) -> str:
        """Commit ``files`` on top of ``branch`` (None deletes a path); the new sha.

        A branch that does not exist yet starts at ``start`` (a commit), else as a root.
        """
        old = self.resolve(f"refs/heads/{branch}")
        parent = old or (start and self.resolve(start))
        self._commits += 1
        when = f"{_EPOCH + self._commits} +0000"
        ident = f"{IDENTITY['name']} <{IDENTITY['email']}> {when}"
        # One `git fast-import` writes the blobs, the trees, the commit and moves the branch
        # (a fast-forward only, as update-ref from `old` did): the plumbing one command per
        # step took 6 + 2 a file processes, a suite's largest share of its git time. The
        # commit is the one commit-tree wrote (its -m message ends with a newline).
        script = [f"commit refs/heads/{branch}".encode(), b"mark :1"]
        script += [f"author {ident}".encode(), f"committer {ident}".encode()]
        script += [*_data(f"{message}\n".encode())]
        if parent:
            script.append(f"from {parent}".encode())
        for name, content in files.items():
            if content is None:
                script.append(f"D {name}".encode())
                continue
            data = content.encode() if isinstance(content, str) else content
            script += [f"M 100644 inline {name}".encode(), *_data(data)]
        with tempfile.TemporaryDirectory() as tmp:
            marks = Path(tmp) / "marks"
            stdin = b"\n".join(script) + b"\n"
            git(self.path, "fast-import", "--quiet", f"--export-marks={marks}", stdin=stdin)
            new = marks.read_text().split()[1]
        return new

    def set_ref(self, ref: str, sha: str) -> None:
        """Point ``ref`` (a full name like ``refs/pull/1/head``) at ``sha``."""
        git(self.path, "update-ref", ref, sha)

    def fetch(self, source: Path, src: str, dst: str | None = None) -> None:
        """Copy ``src`` of the repository at ``source`` (objects included) to ``dst`` here;
        without ``dst``, only the objects."""
        refspec = f"+{src}:{dst}" if dst else src
        git(
            self.path,
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            str(source),
            refspec,
        )

    def merge_base(self, a: str, b: str) -> str | None:
        """The best common ancestor of commits ``a`` and ``b``, or None."""
        try:
            return git(self.path, "merge-base", a, b).decode().strip() or None
        except GitError:
            return None

    def tag(self, name: str, target: str, message: str | None = None) -> str:
        """Create ``refs/tags/<name>`` at ``target``; annotated when ``message`` is given.

        The new value of the ref: the commit sha, or the tag object's sha if annotated.
        """
        if message is None:
            git(self.path, "update-ref", f"refs/tags/{name}", target, ZERO_SHA)
            return target
        self._commits += 1
        ident = {
            "GIT_COMMITTER_NAME": IDENTITY["name"],
            "GIT_COMMITTER_EMAIL": IDENTITY["email"],
            "GIT_COMMITTER_DATE": f"{_EPOCH + self._commits} +0000",
        }
        git(self.path, "tag", "--annotate", "--message", message, name, target, env=ident)
        return git(self.path, "rev-parse", f"refs/tags/{name}").decode().strip()

    def ref_value(self, ref: str) -> str | None:
        """What ``ref`` holds (for an annotated tag: the tag object, not the commit)."""
        try:
            return git(self.path, "rev-parse", "--verify", "--quiet", ref).decode().strip()
        except GitError:
            return None

    def diff_stats(self, base: str, head: str) -> tuple[int, int, int, int]:
        """(commits, additions, deletions, changed files) of ``head`` against ``base``, as a
        pull request counts them: commits in ``base..head``, diff from the merge base."""
        commits = int(git(self.path, "rev-list", "--count", f"{base}..{head}").decode())
        numstat = git(self.path, "diff", "--numstat", "-z", f"{base}...{head}").decode()
        additions = deletions = files = 0
        for entry in numstat.split("\0"):
            if entry.count("\t") >= 2:
                added, deleted, _ = entry.split("\t", 2)
                files += 1
                if added != "-":  # numstat prints "-" for binary files
                    additions, deletions = additions + int(added), deletions + int(deleted)
        return commits, additions, deletions, files

    def resolve(self, ref: str) -> str | None:
        """The commit sha ``ref`` (branch, tag, sha) names, or None."""
        try:
            out = git(self.path, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        except GitError:
            return None
        return out.decode().strip()

    def _entry(self, commit: str, path: str) -> tuple[str, str, str] | None:
        """(mode, kind, sha) of ``path`` in ``commit``'s tree, or None when absent."""
        if not _SHA.fullmatch(commit):  # a ref: it may move
            return self._read_entry(commit, path)
        if (commit, path) not in self._entries:
            self._entries[(commit, path)] = self._read_entry(commit, path)
        return self._entries[(commit, path)]

    def _read_entry(self, commit: str, path: str) -> tuple[str, str, str] | None:
        if path == "":
            return ("040000", "tree", git(self.path, "rev-parse", f"{commit}^{{tree}}").decode())
        out = git(self.path, "ls-tree", "-z", commit, "--", path).decode()
        meta, _, name = out.rstrip("\0").partition("\t")
        if name != path:
            return None
        mode, kind, sha = meta.split()
        return mode, kind, sha

    def kind(self, commit: str, path: str) -> str | None:
        """ "blob", "tree" or "commit" (a submodule) for ``path`` in ``commit``; None if absent."""
        entry = self._entry(commit, path)
        return None if entry is None else entry[1]

    def read_file(self, commit: str, path: str) -> Blob | None:
        """The blob at ``path`` in ``commit``, or None when absent or not a file."""
        entry = self._entry(commit, path)
        if entry is None or entry[1] != "blob":
            return None
        mode, _, sha = entry
        return Blob(sha, mode, git(self.path, "cat-file", "blob", sha))

    def commit_info(self, sha: str) -> CommitInfo:
        if not _SHA.fullmatch(sha):  # a ref: it may move
            return self._read_commit_info(sha)
        if sha not in self._commit_infos:
            self._commit_infos[sha] = self._read_commit_info(sha)
        return self._commit_infos[sha]

    def _read_commit_info(self, sha: str) -> CommitInfo:
        raw = git(self.path, "cat-file", "commit", sha).decode()
        header, _, message = raw.partition("\n\n")
        tree, parents = "", []
        people: dict[str, tuple[str, str, int]] = {}
        for line in header.splitlines():
            key, _, value = line.partition(" ")
            if key == "tree":
                tree = value
            elif key == "parent":
                parents.append(value)
            elif key in ("author", "committer"):
                name, _, rest = value.partition(" <")
                email, _, stamp = rest.partition("> ")
                people[key] = (name, email, int(stamp.split()[0]))
        return CommitInfo(sha, tree, parents, people["author"], people["committer"], message)

    def changes(self, sha: str, base: str | None = None) -> list[FileChange]:
        """Files ``sha`` changed against ``base``, by default its first parent (all files
        for a root commit)."""
        commits = (base, sha) if base else (sha,)
        raw = git(self.path, "diff-tree", "-r", "--root", "--no-commit-id", "--raw", "-z", *commits)
        num = git(
            self.path, "diff-tree", "-r", "--root", "--no-commit-id", "--numstat", "-z", *commits
        )
        counts: dict[str, tuple[int, int]] = {}
        for entry in num.decode().split("\0"):
            if entry:
                added, deleted, path = entry.split("\t", 2)
                binary = added == "-"  # numstat prints "-" for binary files
                counts[path] = (0, 0) if binary else (int(added), int(deleted))
        fields = raw.decode().split("\0")
        result = []
        for meta, path in zip(fields[0::2], fields[1::2], strict=False):
            if not meta.startswith(":"):
                continue
            _, _, old_sha, new_sha, letter = meta[1:].split()
            status = _STATUS.get(letter[0], "changed")
            blob = old_sha if status == "removed" else new_sha
            result.append(FileChange(path, status, blob, *counts.get(path, (0, 0))))
        return result


class HostedRepo:
    """What a forge's repository (:class:`tests.fakes.github_repo.FakeRepo`,
    :class:`tests.fakes.gitlab_objects.FakeProject`) does with its :class:`BareRepo`."""

    bare: BareRepo

    @property
    def _label(self) -> str:
        """The repository's name in errors, e.g. ``owner/name``."""
        raise NotImplementedError

    def _pushed(self, branch: str) -> None:
        """``branch`` moved as after a push to the forge: follow it where the forge does."""
        raise NotImplementedError

    @property
    def default_branch(self) -> str:
        return self.bare.default_branch

    @property
    def path(self) -> Path:
        return self.bare.path

    def commit(
        self, files: Mapping[str, str | bytes | None], message: str, branch: str = "main"
    ) -> str:
        """Commit ``files`` (None deletes) on ``branch``; the new commit sha.

        A new branch starts at the default branch's head, like ``git switch -c`` there, so a
        pull or merge request from it shares history with its target. Then the forge sees the
        branch move as after a push (:meth:`_pushed`).
        """
        sha = self.bare.commit(files, message, branch, f"refs/heads/{self.default_branch}")
        self._pushed(branch)
        return sha

    def head(self, branch: str = "main") -> str:
        sha = self.bare.resolve(f"refs/heads/{branch}")
        if sha is None:
            raise KeyError(f"{self._label} has no branch {branch!r}")
        return sha


@dataclass(frozen=True)
class CgiResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def http_backend(
    project_root: Path,
    *,
    method: str,
    path_info: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    remote_user: str,
) -> CgiResponse:
    """Serve one smart-HTTP request with ``git http-backend`` run as a CGI program.

    The request body is passed through untouched: git sends ``Content-Encoding: gzip`` for
    large pushes and http-backend inflates it itself when ``HTTP_CONTENT_ENCODING`` says so
    (git-http-backend(1), "ENVIRONMENT"). The whole body is buffered, so CONTENT_LENGTH is
    its true length even when git sent it chunked.
    """
    env = {
        **GIT_ENV,
        "GIT_PROJECT_ROOT": str(project_root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "REQUEST_METHOD": method,
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_USER": remote_user,
        "REMOTE_ADDR": "127.0.0.1",
    }
    if "content-type" in headers:
        env["CONTENT_TYPE"] = headers["content-type"]
    for name in ("content-encoding", "git-protocol"):  # protocol v2 rides on Git-Protocol
        if name in headers:
            env["HTTP_" + name.upper().replace("-", "_")] = headers[name]
    done = subprocess.run(
        ["git", "http-backend"], input=body, capture_output=True, env=env, check=False
    )
    # CGI headers end at the first empty line; http-backend writes CRLF line ends.
    crlf, lf = done.stdout.find(b"\r\n\r\n"), done.stdout.find(b"\n\n")
    end, gap = (crlf, 4) if crlf != -1 and (lf == -1 or crlf < lf) else (lf, 2)
    head, payload = (done.stdout[:end], done.stdout[end + gap :]) if end != -1 else (b"", b"")
    status, out_headers = 200, []
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.split()[0])
        elif name:
            out_headers.append((name.strip(), value.strip()))
    if done.returncode != 0 and status == 200:
        return CgiResponse(500, [], done.stderr)
    return CgiResponse(status, out_headers, payload)
