"""REST objects the fake GitHub answers with, built from GitHub's own documented examples.

Each builder deep-copies an example from the OpenAPI description (``components/examples``),
points its URLs at the fake, and fills in what the fake repository knows. The examples
drift from their schemas (``full-repository`` lacks the required ``language``; ``commit``
files lack ``sha`` and ``contents_url``), so builders fill those too; FakeGitHub checks each
answer against the schema anyway.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes import openapi
from tests.fakes.git import BareRepo, Blob, CommitInfo

JSON = Any
_EXAMPLE_REPO = "octocat/Hello-World"
# GitHub returns file content base64-encoded in lines of 60 characters.
_B64_LINE = 60
# Files over 1 MiB come back with empty content and encoding "none" (REST docs,
# "Get repository content": "Between 1-100 MB: Only the raw or object custom media types").
MAX_INLINE_CONTENT = 1024 * 1024


@dataclass
class FakeRepo:
    """A repository of the fake: a bare git repository plus the URLs GitHub would give it."""

    owner: str
    name: str
    id: int
    bare: BareRepo
    web_url: str  # the fake's base URL, like https://github.com
    api_url: str  # the fake's REST root, like https://api.github.com
    statuses: dict[str, list[dict[str, JSON]]] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def clone_url(self) -> str:
        return f"{self.web_url}/{self.full_name}.git"

    @property
    def html_url(self) -> str:
        return f"{self.web_url}/{self.full_name}"

    @property
    def url(self) -> str:
        return f"{self.api_url}/repos/{self.full_name}"

    @property
    def default_branch(self) -> str:
        return self.bare.default_branch

    @property
    def path(self) -> Path:
        return self.bare.path

    def commit(
        self, files: dict[str, str | bytes | None], message: str, branch: str = "main"
    ) -> str:
        """Commit ``files`` (None deletes) on ``branch``; the new commit sha."""
        return self.bare.commit(files, message, branch)

    def head(self, branch: str = "main") -> str:
        sha = self.bare.resolve(f"refs/heads/{branch}")
        if sha is None:
            raise KeyError(f"{self.full_name} has no branch {branch!r}")
        return sha


def _retarget(value: JSON, replacements: list[tuple[str, str]]) -> JSON:
    """``value`` with every string's prefixes replaced (first matching pair wins)."""
    if isinstance(value, dict):
        return {k: _retarget(v, replacements) for k, v in value.items()}
    if isinstance(value, list):
        return [_retarget(v, replacements) for v in value]
    if isinstance(value, str):
        for old, new in replacements:
            if old in value:
                return value.replace(old, new)
    return value


def _urls(repo: FakeRepo, example_repo: str = _EXAMPLE_REPO) -> list[tuple[str, str]]:
    host = urllib.parse.urlsplit(repo.web_url).netloc
    return [
        (f"https://api.github.com/repos/{example_repo}", repo.url),
        (f"https://github.com/{example_repo}.git", repo.clone_url),
        (f"https://github.com/{example_repo}", repo.html_url),
        (f"git:github.com/{example_repo}.git", f"git://{host}/{repo.full_name}.git"),
        (f"git@github.com:{example_repo}.git", f"git@{host}:{repo.full_name}.git"),
        ("https://api.github.com", repo.api_url),
        ("https://github.com", repo.web_url),
    ]


def _node_id(kind: str, key: str | int) -> str:
    return base64.b64encode(f"{kind}{key}".encode()).decode()


def user(login: str, web_url: str, api_url: str) -> dict[str, JSON]:
    """A ``simple-user`` for ``login`` (from the ``status`` example's creator)."""
    creator = copy.deepcopy(openapi.load().example("status")["creator"])
    replaced = _retarget(
        creator,
        [
            ("https://api.github.com/users/octocat", f"{api_url}/users/{login}"),
            ("https://github.com/octocat", f"{web_url}/{login}"),
        ],
    )
    uid = int(hashlib.sha256(login.encode()).hexdigest()[:6], 16)
    replaced.update(login=login, id=uid, node_id=_node_id("04:User", uid))
    return dict(replaced)


def repository(repo: FakeRepo) -> dict[str, JSON]:
    """``GET /repos/{owner}/{repo}``: a ``full-repository`` for a public, non-fork repo."""
    body = _retarget(
        copy.deepcopy(openapi.load().example("full-repository-default-response")), _urls(repo)
    )
    for key in ("parent", "source", "template_repository", "organization", "temp_clone_token"):
        body.pop(key, None)
    body.update(
        id=repo.id,
        node_id=_node_id("010:Repository", repo.id),
        name=repo.name,
        full_name=repo.full_name,
        owner=user(repo.owner, repo.web_url, repo.api_url),
        default_branch=repo.default_branch,
        mirror_url=None,
        svn_url=repo.html_url,
        language=None,
        description=None,
        homepage=None,
        # The token's user can push: the bot posts statuses with it.
        permissions={"admin": False, "maintain": False, "push": True, "triage": True, "pull": True},
    )
    return dict(body)


def content_file(repo: FakeRepo, path: str, ref: str, blob: Blob) -> dict[str, JSON]:
    """``GET /repos/{owner}/{repo}/contents/{path}`` for a regular file (``content-file``)."""
    quoted = urllib.parse.quote(path)
    url = f"{repo.url}/contents/{quoted}?ref={urllib.parse.quote(ref)}"
    git_url = f"{repo.url}/git/blobs/{blob.sha}"
    html_url = f"{repo.html_url}/blob/{ref}/{quoted}"
    inline = len(blob.data) <= MAX_INLINE_CONTENT
    encoded = base64.b64encode(blob.data).decode() if inline else ""
    lines = [encoded[i : i + _B64_LINE] + "\n" for i in range(0, len(encoded), _B64_LINE)]
    return {
        "type": "file",
        "encoding": "base64" if inline else "none",
        "size": len(blob.data),
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "content": "".join(lines),
        "sha": blob.sha,
        "url": url,
        "git_url": git_url,
        "html_url": html_url,
        "download_url": f"{repo.web_url}/raw/{repo.full_name}/{ref}/{quoted}",
        "_links": {"self": url, "git": git_url, "html": html_url},
    }


def _iso(stamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


def commit(repo: FakeRepo, info: CommitInfo) -> dict[str, JSON]:
    """``GET /repos/{owner}/{repo}/commits/{ref}`` (schema ``commit``), from the git object."""
    body = _retarget(copy.deepcopy(openapi.load().example("commit")), _urls(repo))
    sha = info.sha
    files: list[dict[str, JSON]] = []
    for change in repo.bare.changes(sha):
        quoted = urllib.parse.quote(change.path)
        files.append(
            {
                "sha": change.blob_sha,
                "filename": change.path,
                "status": change.status,
                "additions": change.additions,
                "deletions": change.deletions,
                "changes": change.additions + change.deletions,
                "blob_url": f"{repo.html_url}/blob/{sha}/{quoted}",
                "raw_url": f"{repo.html_url}/raw/{sha}/{quoted}",
                "contents_url": f"{repo.url}/contents/{quoted}?ref={sha}",
            }
        )
    additions = sum(f["additions"] for f in files)
    deletions = sum(f["deletions"] for f in files)
    (a_name, a_email, a_time), (c_name, c_email, c_time) = info.author, info.committer
    body.update(
        sha=sha,
        node_id=_node_id("06:Commit", sha),
        url=f"{repo.url}/commits/{sha}",
        html_url=f"{repo.html_url}/commit/{sha}",
        comments_url=f"{repo.url}/commits/{sha}/comments",
        # The fake's identity belongs to no GitHub user, so GitHub would say null here.
        author=None,
        committer=None,
        parents=[
            {"sha": p, "url": f"{repo.url}/commits/{p}", "html_url": f"{repo.html_url}/commit/{p}"}
            for p in info.parents
        ],
        stats={"total": additions + deletions, "additions": additions, "deletions": deletions},
        files=files,
    )
    body["commit"].update(
        url=f"{repo.url}/git/commits/{sha}",
        author={"name": a_name, "email": a_email, "date": _iso(a_time)},
        committer={"name": c_name, "email": c_email, "date": _iso(c_time)},
        message=info.message.rstrip("\n"),
        tree={"sha": info.tree, "url": f"{repo.url}/git/trees/{info.tree}"},
        comment_count=0,
    )
    return dict(body)


def status(
    repo: FakeRepo,
    sha: str,
    status_id: int,
    request: dict[str, JSON],
    creator: dict[str, JSON],
) -> dict[str, JSON]:
    """The ``status`` GitHub answers ``POST /repos/{owner}/{repo}/statuses/{sha}`` with."""
    now = _iso(time.time())
    return {
        "url": f"{repo.url}/statuses/{sha}",
        "avatar_url": creator["avatar_url"],
        "id": status_id,
        "node_id": _node_id("012:StatusContext", status_id),
        "state": request["state"],
        "description": request.get("description"),
        "target_url": request.get("target_url"),
        # GitHub's documented default context is "default".
        "context": request.get("context", "default"),
        "created_at": now,
        "updated_at": now,
        "creator": creator,
    }
