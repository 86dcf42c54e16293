"""A repository of the fake GitHub: a bare git repository plus what GitHub keeps beside it
(statuses, issues and pull requests, comments, collaborators' roles, releases and assets).

Tests write this state directly (``repo.create_pull(...)``, ``repo.add_comment(...)``) and the
fake serves it over REST; :mod:`tests.fakes.github_objects` renders it as GitHub's JSON.
One lock (the fake's) guards it, because the fake's server thread reads it while tests write.
"""

from __future__ import annotations

import hashlib
import itertools
import mimetypes
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.git import BareRepo, GitError, HostedRepo, git

JSON = Any
# Repository roles, weakest first ("Repository roles for an organization"); "none" is ours
# for a user the owner took every access from.
ROLES = ("none", "read", "triage", "write", "maintain", "admin")


@dataclass(kw_only=True)
class Issue:
    """An issue; GitHub numbers issues and pull requests in one sequence per repository."""

    number: int
    title: str
    author: str
    created_at: float
    updated_at: float
    state: str = "open"  # open | closed
    closed_at: float | None = None


@dataclass(kw_only=True)
class Pull(Issue):
    """A pull request: ``head_ref`` of ``head_repo`` (the base repository or a fork) into
    ``base_ref``. ``head_sha`` follows the head branch while the pull request is open."""

    head_repo: FakeRepo = field(repr=False)
    head_ref: str
    base_ref: str
    head_sha: str
    draft: bool = False
    merged: bool = False
    previous_head_sha: str | None = None  # before the last synchronize


@dataclass
class Comment:
    id: int
    number: int  # of the issue or pull request
    body: str
    author: str
    created_at: float
    updated_at: float
    bot: bool = False  # posted by a GitHub App ("<slug>[bot]", type Bot)


@dataclass
class Asset:
    """A file uploaded to a release (REST: ``release-asset``)."""

    id: int
    name: str
    data: bytes = field(repr=False)
    content_type: str
    created_at: float
    download_count: int = 0  # downloads served by the fake's storage host

    @property
    def digest(self) -> str:
        # GitHub computes a sha256 digest of each uploaded asset ("digest" in release-asset).
        return "sha256:" + hashlib.sha256(self.data).hexdigest()


@dataclass(kw_only=True)
class Release:
    """A release of tag ``tag``; ``target_commitish`` is what it was created from (a branch
    name or a sha), as GitHub keeps it."""

    id: int
    tag: str
    target_commitish: str
    name: str | None
    draft: bool
    prerelease: bool
    author: str
    created_at: float
    published_at: float | None  # None for a draft
    assets: dict[str, Asset] = field(default_factory=dict)  # by name: unique per release


@dataclass(frozen=True)
class AnnotatedTag:
    """A git tag object, as ``git cat-file tag`` shows it."""

    sha: str
    tag: str
    object_sha: str
    object_type: str  # commit, usually
    tagger: tuple[str, str, int]  # name, email, Unix time
    message: str


def _content_type(name: str) -> str:
    """What an uploader would declare for ``name`` (GitHub stores the declared type)."""
    kind, encoding = mimetypes.guess_type(name)
    if encoding == "gzip":
        return "application/gzip"
    return kind or "application/octet-stream"


def _counter() -> Callable[[], int]:
    return itertools.count(1).__next__


@dataclass
class FakeRepo(HostedRepo):
    """A repository of the fake: a bare git repository plus the URLs GitHub would give it."""

    owner: str
    name: str
    id: int
    bare: BareRepo
    web_url: str  # the fake's base URL, like https://github.com
    api_url: str  # the fake's REST root, like https://api.github.com
    statuses: dict[str, list[dict[str, JSON]]] = field(default_factory=dict, repr=False)
    issues: dict[int, Issue] = field(default_factory=dict, repr=False)
    comments: dict[int, Comment] = field(default_factory=dict, repr=False)
    roles: dict[str, str] = field(default_factory=dict, repr=False)  # lower-case login -> role
    releases: dict[int, Release] = field(default_factory=dict, repr=False)
    parent: FakeRepo | None = field(default=None, repr=False)  # set for a fork
    # FakeGitHub shares its lock and its id sequence for comments, releases and assets (ids
    # are global on GitHub; one sequence also keeps a release id from passing as an asset id).
    lock: threading.Condition = field(default_factory=threading.Condition, repr=False)
    next_id: Callable[[], int] = field(default_factory=_counter, repr=False)
    # Called with (this repo, branch or None for "any") when a branch of this repo moves;
    # base repositories of pull requests from here listen to keep refs/pull/N/head current.
    branch_listeners: list[Callable[[FakeRepo, str | None], None]] = field(
        default_factory=list, repr=False
    )

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
    def _label(self) -> str:
        return self.full_name

    # -- git ---------------------------------------------------------------------------
    def _pushed(self, branch: str) -> None:
        # Open pull requests whose head is this branch follow it, as after a push to GitHub.
        self.branch_moved(branch)

    def branch_moved(self, branch: str | None = None) -> None:
        """Tell pull requests that ``branch`` (None: any branch) moved, e.g. after a push."""
        for listener in list(self.branch_listeners):
            listener(self, branch)

    def create_tag(self, tag: str, sha: str | None = None, message: str | None = None) -> str:
        """Tag ``sha`` (default: the default branch's head); annotated if ``message``.

        The value of ``refs/tags/<tag>`` (what a push webhook calls ``after``).
        """
        return self.bare.tag(tag, sha or self.head(self.default_branch), message)

    def ref_object(self, ref: str) -> tuple[str, str] | None:
        """(object type, sha) that exactly ``ref`` (``refs/...``) holds: ``tag`` for an
        annotated tag, ``commit`` otherwise; None when there is no such ref."""
        try:
            line = git(self.path, "show-ref", "--verify", ref).decode().split()
        except GitError:
            return None
        sha = line[0]
        return git(self.path, "cat-file", "-t", sha).decode().strip(), sha

    def annotated_tag(self, sha: str) -> AnnotatedTag | None:
        """The tag object ``sha``, or None when ``sha`` is no tag object."""
        try:
            if git(self.path, "cat-file", "-t", sha).decode().strip() != "tag":
                return None
            raw = git(self.path, "cat-file", "tag", sha).decode()
        except GitError:
            return None
        header, _, message = raw.partition("\n\n")
        fields = dict(line.partition(" ")[::2] for line in header.splitlines())
        name, _, rest = fields["tagger"].partition(" <")
        email, _, stamp = rest.partition("> ")
        return AnnotatedTag(
            sha=sha,
            tag=fields["tag"],
            object_sha=fields["object"],
            object_type=fields["type"],
            tagger=(name, email, int(stamp.split()[0])),
            message=message,
        )

    # -- releases ----------------------------------------------------------------------
    def create_release(
        self,
        tag: str,
        *,
        assets: Mapping[str, bytes],
        name: str | None = None,
        draft: bool = False,
        prerelease: bool = False,
        target_sha: str | None = None,
        author: str = "octocat",
    ) -> int:
        """A release of ``tag`` with ``assets`` (file name -> content); its id.

        As GitHub does when publishing, a missing tag is created (lightweight) at
        ``target_sha`` or the default branch's head; an existing tag is kept as it is. A
        draft's tag is only created when it is published, so a draft creates none.
        """
        if target_sha is not None and self.bare.resolve(target_sha) != target_sha:
            raise ValueError(f"{self.full_name} has no commit {target_sha} (GitHub: 422)")
        if not draft and self.bare.ref_value(f"refs/tags/{tag}") is None:
            self.create_tag(tag, target_sha)
        now = time.time()
        with self.lock:
            if any(r.tag == tag for r in self.releases.values()):
                raise ValueError(f"{self.full_name} has a release of {tag!r} (GitHub: 422)")
            release = Release(
                id=self.next_id(),
                tag=tag,
                target_commitish=target_sha or self.default_branch,
                name=name,
                draft=draft,
                prerelease=prerelease,
                author=author,
                created_at=now,
                published_at=None if draft else now,
            )
            for file_name, data in assets.items():
                release.assets[file_name] = Asset(
                    self.next_id(), file_name, bytes(data), _content_type(file_name), now
                )
            self.releases[release.id] = release
        return release.id

    def release(self, release_id: int) -> Release:
        with self.lock:
            release = self.releases.get(release_id)
        if release is None:
            raise KeyError(f"{self.full_name} has no release {release_id}")
        return release

    def release_of_tag(self, tag: str) -> Release | None:
        """The published release of ``tag`` (drafts have no tag yet), or None."""
        with self.lock:
            return next((r for r in self.releases.values() if r.tag == tag and not r.draft), None)

    def asset(self, asset_id: int) -> tuple[Release, Asset] | None:
        """Asset ``asset_id`` of any of this repository's releases, with its release."""
        with self.lock:
            for release in self.releases.values():
                for asset in release.assets.values():
                    if asset.id == asset_id:
                        return release, asset
        return None

    # -- collaborators -----------------------------------------------------------------
    def set_permission(self, login: str, role: str) -> None:
        """Give ``login`` a repository role: one of :data:`ROLES`."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        with self.lock:
            self.roles[login.lower()] = role

    def role(self, login: str) -> str:
        """``login``'s role: the owner is admin; anyone else can read a public repository."""
        if login.lower() == self.owner.lower():
            return "admin"
        with self.lock:
            return self.roles.get(login.lower(), "read")

    def author_association(self, login: str) -> str:
        """GitHub's ``author_association`` of ``login`` here (OWNER, COLLABORATOR or NONE)."""
        if login.lower() == self.owner.lower():
            return "OWNER"
        with self.lock:
            invited = self.roles.get(login.lower(), "none") != "none"
        return "COLLABORATOR" if invited else "NONE"

    # -- issues and pull requests ------------------------------------------------------
    def _number(self) -> int:
        return max(self.issues, default=0) + 1

    def create_issue(self, title: str = "An issue", *, author: str = "octocat") -> int:
        now = time.time()
        with self.lock:
            number = self._number()
            self.issues[number] = Issue(
                number=number, title=title, author=author, created_at=now, updated_at=now
            )
        return number

    def create_pull(
        self,
        head: str,
        base: str = "main",
        *,
        author: str = "octocat",
        fork: FakeRepo | None = None,
        draft: bool = False,
        title: str = "Change things",
    ) -> int:
        """Open a pull request of branch ``head`` (of ``fork``, if given) into ``base``; its
        number. As GitHub does, this repository then serves the head commit as
        ``refs/pull/<number>/head``, also for a fork, and keeps it current."""
        head_repo = fork or self
        sha = head_repo.head(head)
        self.head(base)  # GitHub refuses a pull request into a missing branch
        if fork is not None:
            self.bare.fetch(fork.path, sha)  # its objects, to compare histories
        if not self.bare.merge_base(self.head(base), sha):
            raise ValueError(f"{head} and {base} have no history in common (GitHub: 422)")
        now = time.time()
        with self.lock:
            if fork is not None and fork.parent is None:
                fork.parent = self
            number = self._number()
            pull = Pull(
                number=number,
                title=title,
                author=author,
                created_at=now,
                updated_at=now,
                head_repo=head_repo,
                head_ref=head,
                base_ref=base,
                head_sha=sha,
                draft=draft,
            )
            self.issues[number] = pull
            if self._head_moved not in head_repo.branch_listeners:
                head_repo.branch_listeners.append(self._head_moved)
            self._write_pull_ref(pull)
        return number

    def pull(self, number: int) -> Pull:
        with self.lock:
            issue = self.issues.get(number)
        if not isinstance(issue, Pull):
            raise KeyError(f"{self.full_name} has no pull request #{number}")
        return issue

    def update_pull(self, number: int) -> str:
        """Re-read the head branch of pull request ``number`` (e.g. after a push the fake did
        not see); its head sha."""
        with self.lock:
            pull = self.pull(number)
            sha = pull.head_repo.head(pull.head_ref)
            if sha != pull.head_sha:
                pull.previous_head_sha, pull.head_sha = pull.head_sha, sha
                pull.updated_at = time.time()
            self._write_pull_ref(pull)
            return sha

    def close_pull(self, number: int, *, merged: bool = False) -> None:
        with self.lock:
            pull = self.pull(number)
            pull.state, pull.merged = "closed", merged
            pull.closed_at = pull.updated_at = time.time()

    def reopen_pull(self, number: int) -> None:
        with self.lock:
            pull = self.pull(number)
            if pull.merged:
                raise ValueError(f"#{number} is merged; GitHub cannot reopen it")
            pull.state, pull.closed_at, pull.updated_at = "open", None, time.time()
        self.update_pull(number)

    def mark_ready(self, number: int) -> None:
        """A draft pull request is marked ready for review."""
        with self.lock:
            pull = self.pull(number)
            pull.draft, pull.updated_at = False, time.time()

    def _head_moved(self, head_repo: FakeRepo, branch: str | None) -> None:
        with self.lock:
            numbers = [
                p.number
                for p in self.issues.values()
                if isinstance(p, Pull)
                and p.state == "open"
                and p.head_repo is head_repo
                and branch in (None, p.head_ref)
            ]
        for number in numbers:
            self.update_pull(number)

    def _write_pull_ref(self, pull: Pull) -> None:
        ref = f"refs/pull/{pull.number}/head"
        if pull.head_repo is self:
            self.bare.set_ref(ref, pull.head_sha)
        else:  # GitHub copies a fork's head commit into the base repository
            self.bare.fetch(pull.head_repo.path, pull.head_sha, ref)

    # -- comments ----------------------------------------------------------------------
    def add_comment(
        self, number: int, body: str, author: str = "octocat", *, bot: bool = False
    ) -> dict[str, JSON]:
        """``author`` comments on issue or pull request ``number``; the comment as the REST
        API shows it (what :func:`tests.fakes.webhooks.issue_comment_payload` takes)."""
        from tests.fakes import github_objects  # renders this module's records

        now = time.time()
        with self.lock:
            if number not in self.issues:
                raise KeyError(f"{self.full_name} has no issue or pull request #{number}")
            comment = Comment(self.next_id(), number, body, author, now, now, bot)
            self.comments[comment.id] = comment
            return github_objects.issue_comment(self, comment)

    def edit_comment(self, comment_id: int, body: str) -> dict[str, JSON]:
        """Change a comment's body (as its author would); the comment as REST shows it."""
        from tests.fakes import github_objects

        with self.lock:
            comment = self.comments[comment_id]
            comment.body, comment.updated_at = body, time.time()
            return github_objects.issue_comment(self, comment)

    def comments_on(self, number: int) -> list[Comment]:
        with self.lock:
            return sorted(
                (c for c in self.comments.values() if c.number == number), key=lambda c: c.id
            )
