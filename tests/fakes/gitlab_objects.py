"""The fake GitLab's projects, users and merge requests, and the REST objects it answers with.

Shapes follow GitLab's REST docs (``doc/api/`` of gitlabhq/gitlabhq): ``projects.md`` "Get a
single project", ``repository_files.md``, ``commits.md`` "Commit status", ``merge_requests.md``
"Get single MR", ``notes.md``, ``members.md`` and ``users.md``. Unlike GitHub, GitLab publishes no
machine-readable API description to check against, so each builder names its doc section.

Everything here is plain data plus git plumbing; :mod:`tests.fakes.gitlab` serves it and
:mod:`tests.fakes.gitlab_webhooks` turns it into webhook payloads. One :class:`Instance` holds
what a GitLab instance shares across projects (users, global ids, the lock).
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.git import BareRepo, Blob, CommitInfo, GitError, HostedRepo, git

JSON = Any

# doc/api/members.md, "Roles": the access levels a member can hold.
GUEST, REPORTER, DEVELOPER, MAINTAINER, OWNER = 10, 20, 30, 40, 50
ACCESS_LEVELS = {GUEST: "Guest", REPORTER: "Reporter", DEVELOPER: "Developer"}
ACCESS_LEVELS |= {MAINTAINER: "Maintainer", OWNER: "Owner"}
# doc/api/merge_requests.md: merge request states.
MR_STATES = ("opened", "closed", "locked", "merged")
# A draft's title prefix (Gitlab::Regex.merge_request_draft): GitLab's draft state is the title.
DRAFT_TITLE = re.compile(r"\A(\[draft\]|\(draft\)|draft:)\s*", re.I)


def iso(stamp: float) -> str:
    """GitLab's REST timestamps: ISO 8601 in UTC with milliseconds."""
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + f".{int(stamp * 1000) % 1000:03d}Z"
    )


@dataclass(frozen=True)
class FakeUser:
    id: int
    username: str
    name: str


class Instance:
    """What one GitLab instance shares: its URL, users, global ids, projects and one lock.

    ``cond`` guards every mutable field of the instance and its projects; the fake notifies it
    after each request it serves, and test-facing writes notify it too.
    """

    def __init__(self, web_url: str, cond: threading.Condition | None = None) -> None:
        self.web_url = web_url.rstrip("/")
        self.cond = cond or threading.Condition()
        self.projects: dict[str, FakeProject] = {}  # lower-cased path_with_namespace -> project
        self._users: dict[str, FakeUser] = {}  # lower-cased username -> user
        self._ids: dict[str, int] = {}

    @property
    def api_url(self) -> str:
        return self.web_url + "/api/v4"

    def next_id(self, kind: str) -> int:
        with self.cond:
            self._ids[kind] = self._ids.get(kind, 0) + 1
            return self._ids[kind]

    def user(self, username: str) -> FakeUser:
        """The user called ``username``, created on first use (GitLab usernames ignore case)."""
        with self.cond:
            found = self._users.get(username.lower())
            if found is None:
                found = FakeUser(self.next_id("user"), username, username.replace("-", " ").title())
                self._users[username.lower()] = found
            return found

    def rename_user(self, username: str, new_username: str) -> FakeUser:
        """Rename an account, as its owner may (doc/user/profile: "Change your username"): the
        id and memberships stay, and the old name is free for anyone to take."""
        with self.cond:
            old = self._users.pop(username.lower())
            renamed = FakeUser(old.id, new_username, old.name)
            self._users[new_username.lower()] = renamed
            return renamed

    def find_user(self, username: str) -> FakeUser | None:
        with self.cond:
            return self._users.get(username.lower())

    def user_by_id(self, user_id: int) -> FakeUser | None:
        with self.cond:
            return next((u for u in self._users.values() if u.id == user_id), None)

    def users(self) -> list[FakeUser]:
        with self.cond:
            return sorted(self._users.values(), key=lambda u: u.id)

    def project(self, ident: str) -> FakeProject | None:
        """A project by numeric id or ``group/name`` path (paths match case-insensitively)."""
        with self.cond:
            if ident.isdigit():
                return next((p for p in self.projects.values() if p.id == int(ident)), None)
            return self.projects.get(ident.lower())


@dataclass
class FakeMergeRequest:
    id: int  # global, as GitLab's ``id``; ``iid`` counts per target project
    iid: int
    title: str
    author: FakeUser
    source_project: FakeProject
    source_branch: str
    target_branch: str
    draft: bool
    created_at: float
    description: str = ""
    state: str = "opened"  # one of MR_STATES; tests may set it
    notes: list[dict[str, JSON]] = field(default_factory=list)

    @property
    def head_ref(self) -> str:
        """The ref GitLab keeps in the *target* project for the MR's head, forks included."""
        return f"refs/merge-requests/{self.iid}/head"


@dataclass
class FakePipeline:
    """A pipeline of external jobs: GitLab files each posted status in the pipeline of its
    project, sha and ref, creating one (source "external") when there is none
    (app/services/ci/create_commit_status_service.rb)."""

    id: int  # global
    iid: int  # per project
    sha: str
    ref: str
    user: FakeUser
    created_at: float
    updated_at: float


@dataclass
class FakeProject(HostedRepo):
    """A project of the fake: a bare repository plus the GitLab state tests set up and read."""

    namespace: str  # the group path, may be nested: "group/sub"
    name: str
    id: int
    bare: BareRepo
    instance: Instance
    forked_from: FakeProject | None = None
    # sha -> every status the API accepted for it, in posting order (the test's view)
    statuses: dict[str, list[dict[str, JSON]]] = field(default_factory=dict)
    # sha -> GitLab's jobs for it (a posted status updates its running or pending job)
    jobs: dict[str, list[dict[str, JSON]]] = field(default_factory=dict)
    pipelines: dict[tuple[str, str], FakePipeline] = field(default_factory=dict)  # (sha, ref)
    merge_requests: dict[int, FakeMergeRequest] = field(default_factory=dict)
    members: dict[int, int] = field(default_factory=dict)  # user id -> access level

    @property
    def path_with_namespace(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def web_url(self) -> str:
        return f"{self.instance.web_url}/{self.path_with_namespace}"

    @property
    def http_url_to_repo(self) -> str:
        return f"{self.web_url}.git"

    @property
    def ssh_url_to_repo(self) -> str:
        host = urllib.parse.urlsplit(self.instance.web_url).hostname
        return f"git@{host}:{self.path_with_namespace}.git"

    @property
    def url(self) -> str:
        """The project's REST URL, addressed by URL-encoded path."""
        encoded = urllib.parse.quote(self.path_with_namespace, safe="")
        return f"{self.instance.api_url}/projects/{encoded}"

    @property
    def _label(self) -> str:
        return self.path_with_namespace

    # -- test-facing writes ------------------------------------------------------------
    def _pushed(self, branch: str) -> None:
        # Merge requests whose source is this branch get their refs/merge-requests/:iid/head
        # moved, as GitLab does when a source branch is pushed.
        self.sync_merge_request_heads()

    def set_access(self, username: str, level: int | None) -> FakeUser:
        """Make ``username`` a member with ``level`` (GUEST..OWNER), or remove it with None."""
        if level is not None and level not in ACCESS_LEVELS:
            raise ValueError(f"access level {level} is not one of {sorted(ACCESS_LEVELS)}")
        user = self.instance.user(username)
        with self.instance.cond:
            if level is None:
                self.members.pop(user.id, None)
            else:
                self.members[user.id] = level
            self.instance.cond.notify_all()
        return user

    def create_merge_request(
        self,
        source_branch: str,
        target_branch: str = "main",
        *,
        author: str,
        source_project: FakeProject | None = None,
        draft: bool = False,
        title: str | None = None,
    ) -> int:
        """Open a merge request into this project; its iid. ``source_project`` is a fork."""
        source = source_project or self
        source.head(source_branch)  # GitLab refuses an MR from a branch that does not exist
        with self.instance.cond:
            iid = max(self.merge_requests, default=0) + 1
            mr = FakeMergeRequest(
                id=self.instance.next_id("merge_request"),
                iid=iid,
                title=title or (f"Draft: {source_branch}" if draft else source_branch),
                author=self.instance.user(author),
                source_project=source,
                source_branch=source_branch,
                target_branch=target_branch,
                draft=draft,
                created_at=time.time(),
            )
            self.merge_requests[iid] = mr
            self._update_head(mr)
            self.instance.cond.notify_all()
        return iid

    def merge_request(self, iid: int) -> FakeMergeRequest:
        with self.instance.cond:
            return self.merge_requests[iid]

    def mark_ready(self, iid: int, *, by: str | None = None) -> dict[str, JSON]:
        """Draft merge request ``iid`` marked ready ("Mark as ready", ``/ready``): its title
        loses the draft prefix. Returns the ``changes`` of the Merge Request Hook GitLab sends
        for it (webhook_events.md, "Merge request events"), for
        :func:`tests.fakes.gitlab_webhooks.merge_request_payload`."""
        with self.instance.cond:
            mr = self.merge_requests[iid]
            if not mr.draft:
                raise ValueError(f"merge request !{iid} is not a draft")
            title = DRAFT_TITLE.sub("", mr.title, count=1)
            editor = self.instance.user(by) if by else mr.author
            changes: dict[str, JSON] = {
                "title": {"previous": mr.title, "current": title},
                "updated_by_id": {"previous": None, "current": editor.id},
                "draft": {"previous": True, "current": False},
            }
            mr.title, mr.draft = title, False
            self.instance.cond.notify_all()
            return changes

    def add_note(self, iid: int, body: str, author: str) -> dict[str, JSON]:
        """A comment by ``author`` on merge request ``iid``; the note as the API shows it."""
        with self.instance.cond:
            mr = self.merge_requests[iid]
            created = note(
                self, mr, self.instance.next_id("note"), body, self.instance.user(author)
            )
            mr.notes.append(created)
            self.instance.cond.notify_all()
            return dict(created)

    # -- merge request heads -----------------------------------------------------------
    def merge_request_head(self, mr: FakeMergeRequest) -> str | None:
        return self.bare.resolve(mr.head_ref)

    def _update_head(self, mr: FakeMergeRequest) -> None:
        source = mr.source_project
        if source is self:
            sha = self.head(mr.source_branch)
            git(self.bare.path, "update-ref", mr.head_ref, sha)
        else:
            # A fork's commits are not in the target repository: fetch them, as GitLab does.
            spec = f"+refs/heads/{mr.source_branch}:{mr.head_ref}"
            git(self.bare.path, "fetch", "--quiet", "--no-tags", str(source.bare.path), spec)

    def sync_merge_request_heads(self) -> None:
        """Move the head ref of every open MR, in any project, whose source is this project."""
        with self.instance.cond:
            targets = list(self.instance.projects.values()) or [self]
            for target in targets:
                for mr in target.merge_requests.values():
                    if mr.source_project is self and mr.state == "opened":
                        target._update_head(mr)

    # -- pipelines -------------------------------------------------------------------
    def pipeline_jobs(self, pipeline: FakePipeline) -> list[dict[str, JSON]]:
        """The pipeline's jobs as its page shows them: the latest of each name (a status
        posted again after one finished is a retry, which replaces it)."""
        latest: dict[str, dict[str, JSON]] = {}
        for job in self.jobs.get(pipeline.sha, []):
            if job["pipeline_id"] == pipeline.id:
                latest[job["name"]] = job
        return sorted(latest.values(), key=lambda j: int(j["id"]))

    def pipeline_status(self, pipeline: FakePipeline) -> str:
        return composite_status([str(j["status"]) for j in self.pipeline_jobs(pipeline)])

    def merge_request_shas(self, mr: FakeMergeRequest) -> set[str]:
        """The commits of merge request ``mr`` (into this project): its head's, not the
        target branch's."""
        head = self.merge_request_head(mr)
        if head is None:
            return set()
        target = self.bare.resolve(f"refs/heads/{mr.target_branch}")
        spec = [head, f"^{target}"] if target else [head]
        return set(git(self.bare.path, "rev-list", *spec).decode().split())

    def merge_request_pipelines(self, mr: FakeMergeRequest) -> list[FakePipeline]:
        """The pipelines merge request ``mr`` (into this project) shows, newest first: those of
        its *source* project on its source branch for one of its commits
        (Ci::PipelinesForMergeRequestFinder: ``source_project.all_pipelines.for_branch(
        source_branch)`` of the MR's shas). A status posted to the target project, or under
        another ref such as refs/merge-requests/:iid/head, is on none of them."""
        shas = self.merge_request_shas(mr)
        source = mr.source_project
        shown = [p for p in source.pipelines.values()
                 if p.ref == mr.source_branch and p.sha in shas]  # fmt: skip
        return sorted(shown, key=lambda p: p.id, reverse=True)

    def head_pipeline(self, mr: FakeMergeRequest) -> FakePipeline | None:
        """The MR's head pipeline: its newest pipeline for the head commit."""
        head = self.merge_request_head(mr)
        return next((p for p in self.merge_request_pipelines(mr) if p.sha == head), None)

    def branches_containing(self, sha: str) -> list[str]:
        out = git(self.bare.path, "for-each-ref", "--contains", sha, "--format=%(refname:short)",
                  "refs/heads/")  # fmt: skip
        return out.decode().split()

    def last_commit_for(self, commit: str, path: str) -> str:
        return git(self.bare.path, "log", "-1", "--format=%H", commit, "--", path).decode().strip()


def fork(project: FakeProject, bare: BareRepo, namespace: str, name: str, pid: int) -> FakeProject:
    """A fork of ``project``: a new repository holding all its branches."""
    git(
        bare.path,
        "fetch",
        "--quiet",
        "--no-tags",
        str(project.bare.path),
        "+refs/heads/*:refs/heads/*",
    )
    return FakeProject(namespace, name, pid, bare, project.instance, forked_from=project)


def composite_status(statuses: list[str]) -> str:
    """A pipeline's status from its jobs' (Gitlab::Ci::Status::Composite#status, for the
    states external jobs take; no jobs: "created")."""
    found = set(statuses)

    def only(*names: str) -> bool:
        return found <= set(names)

    if not found:
        return "created"
    if only("skipped"):
        return "skipped"
    if only("success", "skipped"):
        return "success"
    if only("created"):
        return "created"
    if only("canceled", "success", "skipped"):
        return "canceled"
    if only("pending", "created", "skipped"):
        return "pending"
    if found & {"running", "pending", "created"}:
        return "running"
    return "failed"


# -- REST objects ---------------------------------------------------------------------
def user_basic(user: FakeUser, instance: Instance) -> dict[str, JSON]:
    """``UserBasic`` (users.md): what authors, members and ``GET /users`` show."""
    digest = hashlib.md5(user.username.encode(), usedforsecurity=False).hexdigest()
    return {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "state": "active",
        "locked": False,
        "avatar_url": f"https://www.gravatar.com/avatar/{digest}?s=80&d=identicon",
        "web_url": f"{instance.web_url}/{user.username}",
    }


def namespace(project: FakeProject) -> dict[str, JSON]:
    full = project.namespace
    return {
        "id": int(hashlib.sha256(full.encode()).hexdigest()[:6], 16),
        "name": full.rsplit("/", 1)[-1],
        "path": full.rsplit("/", 1)[-1],
        "kind": "group",
        "full_path": full,
        "parent_id": None,
        "avatar_url": None,
        "web_url": f"{project.instance.web_url}/groups/{full}",
    }


def project(p: FakeProject) -> dict[str, JSON]:
    """``GET /projects/:id`` (projects.md, "Get a single project"), for a public project."""
    now = iso(time.time())
    links = {
        "self": p.url,
        "issues": f"{p.url}/issues",
        "merge_requests": f"{p.url}/merge_requests",
        "repo_branches": f"{p.url}/repository/branches",
        "labels": f"{p.url}/labels",
        "events": f"{p.url}/events",
        "members": f"{p.url}/members",
        "cluster_agents": f"{p.url}/cluster_agents",
    }
    body: dict[str, JSON] = {
        "id": p.id,
        "description": None,
        "name": p.name,
        "name_with_namespace": f"{p.namespace.replace('/', ' / ')} / {p.name}",
        "path": p.name,
        "path_with_namespace": p.path_with_namespace,
        "created_at": now,
        "default_branch": p.default_branch,
        "tag_list": [],
        "topics": [],
        "ssh_url_to_repo": p.ssh_url_to_repo,
        "http_url_to_repo": p.http_url_to_repo,
        "web_url": p.web_url,
        "readme_url": None,
        "forks_count": 0,
        "avatar_url": None,
        "star_count": 0,
        "last_activity_at": now,
        "namespace": namespace(p),
        "_links": links,
        "empty_repo": p.bare.resolve(f"refs/heads/{p.default_branch}") is None,
        "archived": False,
        "visibility": "public",
        "merge_requests_enabled": True,
        "builds_access_level": "enabled",
        "ci_config_path": None,
        "shared_runners_enabled": True,
        "open_issues_count": 0,
        "permissions": {"project_access": None, "group_access": None},
    }
    if p.forked_from is not None:
        parent = p.forked_from
        body["forked_from_project"] = {
            "id": parent.id,
            "name": parent.name,
            "path_with_namespace": parent.path_with_namespace,
            "web_url": parent.web_url,
            "http_url_to_repo": parent.http_url_to_repo,
            "default_branch": parent.default_branch,
        }
    return body


def repository_file(
    p: FakeProject, path: str, ref: str, commit_sha: str, blob: Blob
) -> dict[str, JSON]:
    """``GET /projects/:id/repository/files/:file_path`` (repository_files.md)."""
    return {
        "file_name": path.rsplit("/", 1)[-1],
        "file_path": path,
        "size": len(blob.data),
        "encoding": "base64",
        "content": base64.b64encode(blob.data).decode(),
        "content_sha256": hashlib.sha256(blob.data).hexdigest(),
        "ref": ref,
        "blob_id": blob.sha,
        "commit_id": commit_sha,
        "last_commit_id": p.last_commit_for(commit_sha, path),
        "execute_filemode": blob.mode == "100755",
    }


def commit(p: FakeProject, info: CommitInfo) -> dict[str, JSON]:
    """``GET /projects/:id/repository/commits/:sha`` (commits.md, "Get a single commit")."""
    (a_name, a_email, a_time), (c_name, c_email, c_time) = info.author, info.committer
    message = info.message
    return {
        "id": info.sha,
        "short_id": info.sha[:8],
        "title": message.split("\n", 1)[0],
        "message": message,
        "author_name": a_name,
        "author_email": a_email,
        "authored_date": iso(a_time),
        "committer_name": c_name,
        "committer_email": c_email,
        "committed_date": iso(c_time),
        "created_at": iso(c_time),
        "parent_ids": info.parents,
        "trailers": {},
        "extended_trailers": {},
        "web_url": f"{p.web_url}/-/commit/{info.sha}",
        "last_pipeline": None,
        "status": None,
        "project_id": p.id,
    }


def branch(p: FakeProject, name: str, info: CommitInfo) -> dict[str, JSON]:
    """A branch (branches.md, "Get single repository branch"); the fake protects none."""
    return {
        "name": name,
        "merged": False,
        "protected": False,
        "default": name == p.default_branch,
        "developers_can_push": False,
        "developers_can_merge": False,
        "can_push": True,
        "web_url": f"{p.web_url}/-/tree/{name}",
        "commit": {
            k: v
            for k, v in commit(p, info).items()
            if k not in ("last_pipeline", "status", "project_id")
        },
    }


def tag(p: FakeProject, name: str, target: str, info: CommitInfo) -> dict[str, JSON]:
    """A tag (tags.md, "Get a single repository tag"); the fake protects none."""
    return {
        "name": name,
        "message": "",
        "target": target,
        "commit": {
            k: v
            for k, v in commit(p, info).items()
            if k not in ("last_pipeline", "status", "project_id")
        },
        "release": None,
        "protected": False,
        "created_at": None,
    }


def comparison(p: FakeProject, base: str, head: str, merge_base: str) -> dict[str, JSON]:
    """A comparison (repositories.md, "Compare branches, tags or commits"): the commits of
    ``merge_base..head``, the newest as ``commit``, and a diff per file changed since the
    merge base (the fake leaves ``diff`` empty)."""
    ahead = git(p.bare.path, "rev-list", f"{merge_base}..{head}").decode().split()
    commits = [commit(p, p.bare.commit_info(sha)) for sha in reversed(ahead)]
    diffs = [
        {
            "old_path": change.path, "new_path": change.path, "a_mode": "100644",
            "b_mode": "100644", "diff": "", "new_file": change.status == "added",
            "renamed_file": False, "deleted_file": change.status == "removed",
            "generated_file": None,
        }
        for change in p.bare.changes(head, merge_base)
    ]  # fmt: skip
    return {
        "commit": commits[-1] if commits else None,
        "commits": commits,
        "diffs": diffs,
        "compare_timeout": False,
        "compare_same_ref": base == head,
        "web_url": f"{p.web_url}/-/compare/{base}...{head}",
    }


def note(
    p: FakeProject, mr: FakeMergeRequest, note_id: int, body: str, author: FakeUser
) -> dict[str, JSON]:
    """A merge request note (notes.md, "Merge requests")."""
    now = iso(time.time())
    return {
        "id": note_id,
        "type": None,
        "body": body,
        "attachment": None,
        "author": user_basic(author, p.instance),
        "created_at": now,
        "updated_at": now,
        "system": False,
        "noteable_id": mr.id,
        "noteable_type": "MergeRequest",
        "project_id": p.id,
        "commit_id": None,
        "resolvable": False,
        "confidential": False,
        "internal": False,
        "imported": False,
        "imported_from": "none",
        "noteable_iid": mr.iid,
        "commands_changes": {},
    }


def member(user: FakeUser, level: int, instance: Instance) -> dict[str, JSON]:
    """``GET /projects/:id/members/all/:user_id`` (members.md)."""
    return {
        **user_basic(user, instance),
        "expires_at": None,
        "access_level": level,
        "created_at": iso(time.time()),
        "created_by": None,
        "group_saml_identity": None,
        "membership_state": "active",
    }


def merge_request(p: FakeProject, mr: FakeMergeRequest, viewer: FakeUser) -> dict[str, JSON]:
    """``GET /projects/:id/merge_requests/:iid`` (merge_requests.md, "Get single MR")."""
    head = p.merge_request_head(mr)
    source, head_pipeline = mr.source_project, p.head_pipeline(mr)
    start = p.bare.resolve(f"refs/heads/{mr.target_branch}")
    base = None
    if head and start:
        try:
            base = git(p.bare.path, "merge-base", start, head).decode().strip() or None
        except GitError:  # unrelated histories
            base = None
    author = user_basic(mr.author, p.instance)
    created = iso(mr.created_at)
    reference = f"!{mr.iid}"
    closed = mr.state == "closed"
    merged = mr.state == "merged"
    return {
        "id": mr.id,
        "iid": mr.iid,
        "project_id": p.id,
        "title": mr.title,
        "description": mr.description,
        "state": mr.state,
        "created_at": created,
        "updated_at": created,
        "merged_by": None,
        "merge_user": None,
        "merged_at": created if merged else None,
        "closed_by": None,
        "closed_at": created if closed else None,
        "target_branch": mr.target_branch,
        "source_branch": mr.source_branch,
        "user_notes_count": len(mr.notes),
        "upvotes": 0,
        "downvotes": 0,
        "author": author,
        "assignees": [],
        "assignee": None,
        "reviewers": [],
        "source_project_id": mr.source_project.id,
        "target_project_id": p.id,
        "labels": [],
        "draft": mr.draft,
        "work_in_progress": mr.draft,
        "milestone": None,
        "merge_when_pipeline_succeeds": False,
        "merge_status": "can_be_merged",
        "detailed_merge_status": "draft_status" if mr.draft else "mergeable",
        "sha": head,
        "merge_commit_sha": None,
        "squash_commit_sha": None,
        "discussion_locked": None,
        "should_remove_source_branch": None,
        "force_remove_source_branch": False,
        "prepared_at": created,
        "reference": reference,
        "references": {
            "short": reference,
            "relative": reference,
            "full": f"{p.path_with_namespace}{reference}",
        },
        "web_url": f"{p.web_url}/-/merge_requests/{mr.iid}",
        "time_stats": {
            "time_estimate": 0,
            "total_time_spent": 0,
            "human_time_estimate": None,
            "human_total_time_spent": None,
        },
        "squash": False,
        "squash_on_merge": False,
        "task_completion_status": {"count": 0, "completed_count": 0},
        "has_conflicts": False,
        "blocking_discussions_resolved": True,
        "subscribed": False,
        "changes_count": None,
        "latest_build_started_at": None,
        "latest_build_finished_at": None,
        "first_deployed_to_production_at": None,
        # "pipeline" (PipelineBasic, deprecated) and "head_pipeline" (Pipeline): the head
        # pipeline, the one the merge request page shows.
        "pipeline": pipeline_basic(source, head_pipeline) if head_pipeline else None,
        "head_pipeline": pipeline(source, head_pipeline) if head_pipeline else None,
        "diff_refs": {"base_sha": base, "head_sha": head, "start_sha": start},
        "merge_error": None,
        "first_contribution": False,
        "user": {"can_merge": p.members.get(viewer.id, 0) >= DEVELOPER},
    }


def commit_status(
    p: FakeProject,
    *,
    status_id: int,
    sha: str,
    ref: str,
    name: str,
    pipeline_id: int,
    author: FakeUser,
) -> dict[str, JSON]:
    """A new external job, as ``POST /projects/:id/statuses/:sha`` answers (commits.md)."""
    return {
        "id": status_id,
        "sha": sha,
        "ref": ref,
        "status": "created",
        "name": name,
        "target_url": None,
        "description": None,
        "created_at": iso(time.time()),
        "started_at": None,
        "finished_at": None,
        "allow_failure": False,
        "coverage": None,
        "pipeline_id": pipeline_id,
        "author": user_basic(author, p.instance),
    }


def pipeline_basic(owner: FakeProject, found: FakePipeline) -> dict[str, JSON]:
    """``PipelineBasic`` (pipelines.md; merge_requests.md, "List merge request pipelines") of
    a pipeline of ``owner``: the project the status was posted to."""
    return {
        "id": found.id,
        "iid": found.iid,
        "project_id": owner.id,
        "sha": found.sha,
        "ref": found.ref,
        "status": owner.pipeline_status(found),
        "source": "external",
        "created_at": iso(found.created_at),
        "updated_at": iso(found.updated_at),
        "web_url": f"{owner.web_url}/-/pipelines/{found.id}",
    }


def pipeline(owner: FakeProject, found: FakePipeline) -> dict[str, JSON]:
    """``Pipeline`` (pipelines.md, "Get a single pipeline"), as a merge request's
    ``head_pipeline``."""
    basic = pipeline_basic(owner, found)
    jobs = owner.pipeline_jobs(found)
    started = [j["started_at"] for j in jobs if j["started_at"]]
    finished = [j["finished_at"] for j in jobs if j["finished_at"]]
    status = str(basic["status"])
    return {
        **basic,
        "before_sha": "0" * 40,
        "tag": False,
        "yaml_errors": None,
        "user": user_basic(found.user, owner.instance),
        "started_at": min(started) if started else None,
        "finished_at": max(finished) if finished and len(finished) == len(jobs) else None,
        "committed_at": None,
        "duration": None,
        "queued_duration": None,
        "coverage": None,
        "detailed_status": {
            "icon": f"status_{status}",
            "text": status,
            "label": status,
            "group": status,
            "tooltip": status,
            "has_details": True,
            "details_path": f"/{owner.path_with_namespace}/-/pipelines/{found.id}",
            "illustration": None,
            "favicon": f"/assets/ci_favicons/favicon_status_{status}.png",
        },
    }
