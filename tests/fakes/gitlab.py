"""A fake GitLab that the real python-gitlab client and the real ``git`` talk to.

One Starlette app on 127.0.0.1, port 0, serving:

* the REST API under ``/api/v4``, for the endpoints the bot uses (:data:`_ROUTES`); python-gitlab
  is pointed at it with ``gitlab.Gitlab(fake.url, private_token=token,
  retry_transient_errors=False)``. Projects are addressed by numeric id or URL-encoded path
  (``group%2Fname``), as GitLab's docs say (``doc/api/rest/_index.md``, "Namespaced paths");
* git's smart HTTP protocol at ``/{group}/{name}.git`` through ``git http-backend``, with the
  token as the password of HTTP Basic auth (any user name, e.g. ``oauth2``).

Anything else answers 500 and is recorded in :attr:`FakeGitLab.errors`, so a gap in the fake
(or a client that dropped the ``/api/v4`` prefix) fails the test instead of passing quietly.
"""

from __future__ import annotations

import copy
import email.utils
import json
import re
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.fakes import gitlab_objects as objects
from tests.fakes.forge_server import (
    ForgeServer,
    RecordedRequest,
    basic_challenge,
    basic_credentials,
)
from tests.fakes.git import BareRepo
from tests.fakes.gitlab_objects import FakeProject, FakeUser, Instance

__all__ = ["API_PREFIX", "FakeGitLab", "FakeProject", "RecordedRequest"]

JSON = Any
API_PREFIX = "/api/v4"
_GIT_PATH = re.compile(r"/(.+?)\.git(/.*)")
_ID = r"(?P<id>[^/]+)"
# (method, path under /api/v4 as sent, i.e. still percent-encoded, handler name)
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile(p), h)
    for m, p, h in [
        ("GET", r"/user", "_current_user"),
        ("GET", r"/users", "_list_users"),
        ("GET", rf"/projects/{_ID}", "_get_project"),
        ("GET", rf"/projects/{_ID}/repository/files/(?P<file_path>[^/]+)", "_get_file"),
        ("GET", rf"/projects/{_ID}/repository/files/(?P<file_path>[^/]+)/raw", "_get_raw_file"),
        ("GET", rf"/projects/{_ID}/repository/branches/(?P<branch>[^/]+)", "_get_branch"),
        ("GET", rf"/projects/{_ID}/repository/tags/(?P<tag>[^/]+)", "_get_tag"),
        ("GET", rf"/projects/{_ID}/repository/compare", "_compare"),
        ("GET", rf"/projects/{_ID}/repository/commits/(?P<sha>[^/]+)", "_get_commit"),
        ("GET", rf"/projects/{_ID}/repository/commits/(?P<sha>[^/]+)/statuses", "_list_statuses"),
        ("POST", rf"/projects/{_ID}/statuses/(?P<sha>[^/]+)", "_create_status"),
        ("GET", rf"/projects/{_ID}/merge_requests/(?P<iid>\d+)", "_get_merge_request"),
        (
            "GET",
            rf"/projects/{_ID}/merge_requests/(?P<iid>\d+)/pipelines",
            "_list_merge_request_pipelines",
        ),
        ("GET", rf"/projects/{_ID}/merge_requests/(?P<iid>\d+)/notes", "_list_notes"),
        ("POST", rf"/projects/{_ID}/merge_requests/(?P<iid>\d+)/notes", "_create_note"),
        (
            "GET",
            rf"/projects/{_ID}/merge_requests/(?P<iid>\d+)/notes/(?P<note_id>\d+)",
            "_get_note",
        ),
        (
            "PUT",
            rf"/projects/{_ID}/merge_requests/(?P<iid>\d+)/notes/(?P<note_id>\d+)",
            "_edit_note",
        ),
        ("GET", rf"/projects/{_ID}/members/all/(?P<user_id>\d+)", "_get_member"),
    ]
]

# Commit statuses are external CI jobs with GitLab's job state machine (app/models/
# commit_status.rb): event -> (states it leaves from, state it enters). Only created, pending
# and running matter here: a posted status updates the sha's running or pending job of that
# name and ref, or starts a new job in "created" (app/services/ci/create_commit_status_service.rb).
_EVENTS: dict[str, tuple[frozenset[str], str]] = {
    "enqueue": (frozenset({"created", "skipped", "manual", "scheduled"}), "pending"),
    "run": (frozenset({"pending"}), "running"),
    "skip": (frozenset({"created", "pending"}), "skipped"),
    "drop": (frozenset({"created", "pending", "running", "manual", "scheduled"}), "failed"),
    "success": (frozenset({"created", "pending", "running"}), "success"),
    "cancel": (frozenset({"created", "pending", "running", "manual", "scheduled"}), "canceled"),
}
# CreateCommitStatusService#apply_job_state!: the events each posted state fires; a bang event
# (True) raises on an invalid transition, which the API answers with 400 and the message.
_APPLY: dict[str, list[tuple[str, bool]]] = {
    "pending": [("enqueue", True)],
    "running": [("enqueue", False), ("run", True)],
    "success": [("success", True)],
    "failed": [("drop", True)],
    "canceled": [("cancel", True)],
    "skipped": [("skip", True)],
}
_FINISHED = {"success", "failed", "canceled", "skipped"}


@dataclass(frozen=True)
class _Reply:
    status: int
    body: JSON
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Call:
    """One API request, parsed: path parameters (decoded) and Grape's merged parameters."""

    params: dict[str, str]
    args: dict[str, JSON]  # query string, then the JSON or form body on top
    user: FakeUser
    request: Request


class _Refused(Exception):
    """A handler's early answer in GitLab's error shape: ``message`` for API errors raised
    with ``render_api_error!``, ``error`` for Grape's parameter validation."""

    def __init__(self, status: int, message: str, key: str = "message") -> None:
        super().__init__(message)
        self.reply = _Reply(status, {key: message})


class FakeGitLab(ForgeServer):
    """The fake; use as a context manager or call :meth:`start` / :meth:`stop`."""

    _API_PREFIX = API_PREFIX
    _GIT_PATH = _GIT_PATH
    _TMP_PREFIX = "fake-gitlab-"
    _INJECTED = "{status} injected by the test"

    def __init__(self, token: str, *, username: str = "s2i-bot") -> None:
        super().__init__(token)  # self.root: <root>/<group>/<name>.git
        self.username = username  # the token's user: author of the statuses and notes it posts
        self._instance: Instance | None = None  # self._cond guards its state too

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def instance(self) -> Instance:
        if self._instance is None:
            raise RuntimeError("start FakeGitLab first: its URLs need the port")
        return self._instance

    def start(self) -> Self:
        super().start()
        self._instance = Instance(self.url, self._cond)
        self._instance.user(self.username)
        return self

    # -- test-facing state -------------------------------------------------------------
    def create_project(
        self,
        path_with_namespace: str,
        default_branch: str = "main",
        *,
        forked_from: FakeProject | None = None,
    ) -> FakeProject:
        """A new project ``group/name`` (groups may nest); a fork holds its parent's branches."""
        group, _, name = path_with_namespace.rpartition("/")
        if not group or not name:
            raise ValueError(f"{path_with_namespace!r} is not a group/name project path")
        instance = self.instance
        bare = BareRepo(self.root / group / f"{name}.git", default_branch)
        pid = instance.next_id("project")
        if forked_from is None:
            project = FakeProject(group, name, pid, bare, instance)
        else:
            project = objects.fork(forked_from, bare, group, name, pid)
        with self._cond:
            instance.projects[path_with_namespace.lower()] = project
        return project

    def project(self, path_with_namespace: str) -> FakeProject:
        found = self.instance.project(path_with_namespace)
        if found is None:
            raise KeyError(f"no project {path_with_namespace!r}")
        return found

    def user(self, username: str) -> FakeUser:
        """The user ``username`` (created on first use), e.g. for its id."""
        return self.instance.user(username)

    def rename_user(self, username: str, new_username: str) -> FakeUser:
        """``username`` renames the account to ``new_username`` (same id and memberships)."""
        return self.instance.rename_user(username, new_username)

    def statuses(self, path_with_namespace: str, sha: str) -> list[dict[str, JSON]]:
        """Every status the API accepted for ``sha``, in the order they were posted."""
        with self._cond:
            return copy.deepcopy(self.project(path_with_namespace).statuses.get(sha, []))

    def merge_request_statuses(self, path_with_namespace: str, iid: int) -> list[dict[str, JSON]]:
        """The statuses merge request ``iid`` shows: the jobs of its head pipeline, as they are
        now. Only statuses posted to the MR's source project with its source branch as ``ref``
        get there (see :meth:`FakeProject.merge_request_pipelines`)."""
        with self._cond:
            project = self.project(path_with_namespace)
            mr = project.merge_requests[iid]
            head = project.head_pipeline(mr)
            jobs = mr.source_project.pipeline_jobs(head) if head else []
            return copy.deepcopy(jobs)

    def notes(self, path_with_namespace: str, iid: int) -> list[dict[str, JSON]]:
        """The notes on merge request ``iid``, oldest first (the API lists newest first)."""
        with self._cond:
            return copy.deepcopy(self.project(path_with_namespace).merge_requests[iid].notes)

    def rate_limit(
        self, method: str, path_regex: str, *, retry_after: int = 60, times: int = 1
    ) -> None:
        """Answer as GitLab's throttles do (docs "Rate limits", user_and_ip_rate_limits.md,
        "Response headers"): 429, ``Retry after`` text, and the RateLimit-* headers with
        ``RateLimit-Reset`` as a Unix time."""
        reset = int(time.time()) + retry_after
        headers = {
            "Retry-After": str(retry_after),
            "RateLimit-Name": "throttle_authenticated_api",
            "RateLimit-Limit": "60",
            "RateLimit-Observed": "67",
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(reset),
            "RateLimit-ResetTime": email.utils.formatdate(reset, usegmt=True),
        }
        self.fail_next(method, path_regex, 429, headers, "Retry later\n", times)

    # -- dispatch ----------------------------------------------------------------------
    def _sent_path(self, request: Request) -> str:
        raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
        return raw_path.decode("latin-1")  # GitLab's ids and file paths arrive %-encoded

    def _other_request(self, request: Request, sent: str) -> Response:
        return self._gap(
            f"FakeGitLab has no route for {request.method} {sent} "
            f"(REST clients must use the base URL {self.url} and /api/v4)"
        )

    def _authenticated(self, request: Request) -> bool:
        # doc/api/rest/authentication.md: a personal, project or group access token goes in
        # PRIVATE-TOKEN, an OAuth token in "Authorization: Bearer" (python-gitlab's oauth_token).
        if request.headers.get("private-token") == self.token:
            return True
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and credential.strip() == self.token

    def _api_request(self, request: Request, path: str, raw: bytes) -> Response:
        if not self._authenticated(request):
            return JSONResponse({"message": "401 Unauthorized"}, 401)
        method = request.method
        found = next(
            ((m, name) for verb, pattern, name in _ROUTES
             if verb == method and (m := pattern.fullmatch(path)) is not None),
            None,
        )  # fmt: skip
        if found is None:
            return self._gap(f"FakeGitLab does not implement {method} {API_PREFIX}{path}")
        m, name = found
        try:
            args = self._arguments(request, raw)
        except ValueError as problem:
            self._gap(f"{method} {path}: {problem}")
            return JSONResponse({"error": str(problem)}, 400)
        params = {k: urllib.parse.unquote(v) for k, v in m.groupdict().items()}
        call = _Call(params, args, self.instance.user(self.username), request)
        handler: Callable[[_Call], _Reply] = getattr(self, name)
        try:
            reply = handler(call)
        except _Refused as refused:
            reply = refused.reply
        except Exception as e:  # a bug or gap of the fake: fail the test, not the server
            return self._gap(f"{method} {API_PREFIX}{path}: {type(e).__name__}: {e}")
        if isinstance(reply.body, bytes):
            return Response(reply.body, reply.status, reply.headers, media_type="text/plain")
        return JSONResponse(reply.body, reply.status, reply.headers)

    @staticmethod
    def _arguments(request: Request, raw: bytes) -> dict[str, JSON]:
        """Grape's ``params``: the query string merged with a JSON or form body."""
        args: dict[str, JSON] = dict(request.query_params)
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if raw and kind == "application/json":
            try:
                body = json.loads(raw)
            except ValueError as e:
                raise ValueError(f"body is not JSON ({e})") from e
            if not isinstance(body, dict):
                raise ValueError("body is not a JSON object")
            args.update(body)
        elif raw and kind == "application/x-www-form-urlencoded":
            args.update(urllib.parse.parse_qsl(raw.decode()))
        return args

    def _git_request(self, request: Request, m: re.Match[str], body: bytes) -> Response:
        # doc/user/project/repository: a token is the password of HTTP Basic auth, any user
        # name; without it, 401 with a Basic challenge so git asks its credential helper.
        user, password = basic_credentials(request.headers.get("authorization", ""))
        if password != self.token:
            return basic_challenge(
                "HTTP Basic: Access denied. If a password was provided for Git authentication, "
                "the password was incorrect or you're required to use a token instead of a "
                "password.\n",
                "GitLab",
            )
        project = self.instance.project(m[1])
        if project is None:
            return Response("The project you were looking for could not be found.\n", 404)
        return self._serve_git(
            request,
            m,
            body,
            repo_path=project.path_with_namespace,
            remote_user=user or "oauth2",
            pushed=project.sync_merge_request_heads,  # a push moves the heads of MRs from it
        )

    # -- helpers -----------------------------------------------------------------------
    def _project(self, call: _Call) -> FakeProject:
        project = self.instance.project(call.params["id"])
        if project is None:
            raise _Refused(404, "404 Project Not Found")
        return project

    def _merge_request(self, call: _Call) -> tuple[FakeProject, objects.FakeMergeRequest]:
        project = self._project(call)
        with self._cond:
            mr = project.merge_requests.get(int(call.params["iid"]))
        if mr is None:
            raise _Refused(404, "404 Not found")
        return project, mr

    @staticmethod
    def _paginate(call: _Call, items: list[JSON]) -> _Reply:
        """GitLab's offset pagination (doc/api/rest/_index.md, "Pagination"): ``page`` and
        ``per_page`` (default 20, at most 100), X-* headers and a Link header."""
        try:
            per_page = min(max(int(call.args.get("per_page", 20)), 1), 100)
            page = max(int(call.args.get("page", 1)), 1)
        except (TypeError, ValueError) as e:
            raise _Refused(400, "page or per_page is invalid", "error") from e
        total = len(items)
        pages = max((total + per_page - 1) // per_page, 1)
        headers = {
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Total": str(total),
            "X-Total-Pages": str(pages),
            "X-Prev-Page": str(page - 1) if page > 1 else "",
            "X-Next-Page": str(page + 1) if page < pages else "",
        }
        request = call.request
        base = f"{request.url.scheme}://{request.url.netloc}{request.scope['raw_path'].decode()}"
        links = []
        for rel, number in (("prev", page - 1), ("next", page + 1), ("first", 1), ("last", pages)):
            if 1 <= number <= pages and (rel in ("first", "last") or number != page):
                query = {**dict(request.query_params), "page": number, "per_page": per_page}
                links.append(f'<{base}?{urllib.parse.urlencode(query)}>; rel="{rel}"')
        headers["Link"] = ", ".join(links)
        return _Reply(200, items[(page - 1) * per_page : page * per_page], headers)

    @staticmethod
    def _resolve(project: FakeProject, ref: str | None) -> str:
        sha = project.bare.resolve(ref or project.default_branch)
        if sha is None:
            raise _Refused(404, "404 Commit Not Found")
        return sha

    # -- REST handlers: each cites the GitLab doc or source it follows --------------------
    def _current_user(self, call: _Call) -> _Reply:
        return _Reply(200, objects.user_basic(call.user, self.instance))

    def _list_users(self, call: _Call) -> _Reply:
        # users.md, "List users": ``username`` is an exact, case-insensitive match.
        wanted = call.args.get("username")
        users = self.instance.users()
        if wanted is not None:
            users = [u for u in users if u.username.lower() == str(wanted).lower()]
        return self._paginate(call, [objects.user_basic(u, self.instance) for u in users])

    def _get_project(self, call: _Call) -> _Reply:
        return _Reply(200, objects.project(self._project(call)))

    def _file(self, call: _Call) -> tuple[FakeProject, str, str, str]:
        # repository_files.md: ``ref`` is required for the JSON endpoint (Grape answers 400
        # "ref is missing"), optional for /raw; HEAD means the default branch.
        project = self._project(call)
        ref = call.args.get("ref")
        ref = None if ref in (None, "HEAD") else str(ref)
        sha = self._resolve(project, ref)
        path = call.params["file_path"]
        return project, path, ref or project.default_branch, sha

    def _get_file(self, call: _Call) -> _Reply:
        if "ref" not in call.args:
            raise _Refused(400, "ref is missing", "error")
        project, path, ref, sha = self._file(call)
        blob = project.bare.read_file(sha, path)
        if blob is None:
            raise _Refused(404, "404 File Not Found")
        return _Reply(200, objects.repository_file(project, path, ref, sha, blob))

    def _get_raw_file(self, call: _Call) -> _Reply:
        project, path, _, sha = self._file(call)
        blob = project.bare.read_file(sha, path)
        if blob is None:
            raise _Refused(404, "404 File Not Found")
        # GitLab serves raw files as text/plain with the blob's metadata in X-Gitlab-* headers.
        return _Reply(200, blob.data, {"X-Gitlab-Blob-Id": blob.sha, "X-Gitlab-Commit-Id": sha})

    def _get_commit(self, call: _Call) -> _Reply:
        project = self._project(call)
        sha = self._resolve(project, call.params["sha"])
        return _Reply(200, objects.commit(project, project.bare.commit_info(sha)))

    def _get_branch(self, call: _Call) -> _Reply:
        """``GET /projects/:id/repository/branches/:branch`` (branches.md, "Get single
        repository branch"): 404 "Branch Not Found" for a branch the project lacks."""
        project = self._project(call)
        name = call.params["branch"]
        sha = project.bare.resolve(f"refs/heads/{name}")
        if sha is None:
            raise _Refused(404, "404 Branch Not Found")
        return _Reply(200, objects.branch(project, name, project.bare.commit_info(sha)))

    def _get_tag(self, call: _Call) -> _Reply:
        """``GET /projects/:id/repository/tags/:tag_name`` (tags.md, "Get a single
        repository tag"): its ``commit`` is the commit (an annotated tag's too), ``target``
        the ref's own value; 404 "Tag Not Found" for a tag the project lacks."""
        project = self._project(call)
        name = call.params["tag"]
        target = project.bare.ref_value(f"refs/tags/{name}")
        sha = project.bare.resolve(f"refs/tags/{name}")
        if target is None or sha is None:
            raise _Refused(404, "404 Tag Not Found")
        return _Reply(200, objects.tag(project, name, target, project.bare.commit_info(sha)))

    def _compare(self, call: _Call) -> _Reply:
        """``GET /projects/:id/repository/compare?from=&to=`` (repositories.md, "Compare
        branches, tags or commits"): not `straight`, so from the merge base (from...to)."""
        project = self._project(call)
        if str(call.args.get("straight", "false")).lower() == "true":
            raise _Refused(400, "the fake compares from the merge base only (straight=false)")
        base = self._resolve(project, str(call.args.get("from", "")))
        head = self._resolve(project, str(call.args.get("to", "")))
        merge_base = project.bare.merge_base(base, head)
        if merge_base is None:
            raise _Refused(404, "404 Commit Not Found")
        return _Reply(200, objects.comparison(project, base, head, merge_base))

    def _create_status(self, call: _Call) -> _Reply:
        """``POST /projects/:id/statuses/:sha`` as Ci::CreateCommitStatusService runs it."""
        project = self._project(call)
        state = call.args.get("state")
        if state is None:
            raise _Refused(400, "state is missing", "error")
        if state not in _APPLY:
            self._gap(f"POST statuses: state {state!r} is not one of {sorted(_APPLY)}")
            raise _Refused(400, "state does not have a valid value", "error")
        sha = project.bare.resolve(call.params["sha"])
        if sha is None:
            raise _Refused(404, "404 Commit Not Found")
        ref = call.args.get("ref")
        if not ref:
            # Without ``ref`` GitLab picks the first branch holding the commit; a commit only a
            # fork MR's refs/merge-requests/:iid/head holds has none, so it answers 404.
            branches = project.branches_containing(sha)
            if not branches:
                raise _Refused(404, "404 References for commit Not Found")
            ref = branches[0]
        name = str(call.args.get("name") or call.args.get("context") or "default")
        with self._cond:
            jobs = project.jobs.setdefault(sha, [])
            job = next(
                (
                    j
                    for j in reversed(jobs)
                    if j["ref"] == ref
                    and j["name"] == name
                    and j["status"] in ("pending", "running")
                ),
                None,
            )
            new = job is None
            now_stamp = time.time()
            pipeline = project.pipelines.get((sha, ref))
            if pipeline is None:
                pipeline = objects.FakePipeline(
                    id=self.instance.next_id("pipeline"),
                    iid=len(project.pipelines) + 1,
                    sha=sha,
                    ref=ref,
                    user=call.user,
                    created_at=now_stamp,
                    updated_at=now_stamp,
                )
                project.pipelines[(sha, ref)] = pipeline
            if job is None:
                job = objects.commit_status(
                    project,
                    status_id=self.instance.next_id("job"),
                    sha=sha,
                    ref=ref,
                    name=name,
                    pipeline_id=pipeline.id,
                    author=call.user,
                )
            current = job["status"]
            for event, bang in _APPLY[state]:
                sources, target = _EVENTS[event]
                if current in sources:
                    current = target
                elif bang:
                    raise _Refused(
                        400,
                        f"Cannot transition status via :{event} from :{current} "
                        f'(Reason(s): Status cannot transition via "{event}")',
                    )
            now = objects.iso(now_stamp)
            pipeline.updated_at = now_stamp
            for key in ("target_url", "description", "coverage"):
                if key in call.args:
                    job[key] = call.args[key]
            if current == "running" and job["started_at"] is None:
                job["started_at"] = now
            if current in _FINISHED:
                job["finished_at"] = now
            job["status"] = current
            if new:
                jobs.append(job)
            posted = copy.deepcopy(job)
            project.statuses.setdefault(sha, []).append(posted)
        return _Reply(201, copy.deepcopy(posted))

    def _list_statuses(self, call: _Call) -> _Reply:
        """commits.md, "List the statuses of a commit": the latest job per name and ref (all
        with ``all=true``), filtered by ``ref``/``name``, in ascending id order."""
        project = self._project(call)
        sha = self._resolve(project, call.params["sha"])
        with self._cond:
            jobs = copy.deepcopy(project.jobs.get(sha, []))
        if str(call.args.get("all", "false")).lower() not in ("true", "1"):
            latest: dict[tuple[str, str], JSON] = {}
            for job in jobs:
                latest[(job["ref"], job["name"])] = job
            jobs = sorted(latest.values(), key=lambda j: int(j["id"]))
        for key in ("ref", "name"):
            if call.args.get(key):
                jobs = [j for j in jobs if j[key] == call.args[key]]
        if call.args.get("sort") == "desc":
            jobs.reverse()
        return self._paginate(call, jobs)

    def _get_merge_request(self, call: _Call) -> _Reply:
        project, mr = self._merge_request(call)
        with self._cond:
            return _Reply(200, objects.merge_request(project, mr, call.user))

    def _list_merge_request_pipelines(self, call: _Call) -> _Reply:
        # merge_requests.md, "List merge request pipelines": PipelineBasic, newest first.
        project, mr = self._merge_request(call)
        with self._cond:
            shown = [objects.pipeline_basic(mr.source_project, found)
                     for found in project.merge_request_pipelines(mr)]  # fmt: skip
        return self._paginate(call, shown)

    def _list_notes(self, call: _Call) -> _Reply:
        # notes.md, "List all merge request notes": sorted by created_at, newest first unless
        # ``sort=asc``.
        _, mr = self._merge_request(call)
        with self._cond:
            notes = copy.deepcopy(mr.notes)
        if call.args.get("sort", "desc") != "asc":
            notes.reverse()
        return self._paginate(call, notes)

    def _note(self, call: _Call) -> tuple[FakeProject, objects.FakeMergeRequest, JSON]:
        project, mr = self._merge_request(call)
        note_id = int(call.params["note_id"])
        found = next((n for n in mr.notes if n["id"] == note_id), None)
        if found is None:
            raise _Refused(404, "404 Note Not Found")
        return project, mr, found

    def _get_note(self, call: _Call) -> _Reply:
        with self._cond:
            return _Reply(200, copy.deepcopy(self._note(call)[2]))

    def _create_note(self, call: _Call) -> _Reply:
        project, mr = self._merge_request(call)
        body = call.args.get("body")
        if not body:
            raise _Refused(400, "body is missing", "error")
        return _Reply(201, project.add_note(mr.iid, str(body), call.user.username))

    def _edit_note(self, call: _Call) -> _Reply:
        body = call.args.get("body")
        if not body:
            raise _Refused(400, "body is missing", "error")
        with self._cond:
            _, _, found = self._note(call)
            # Only a note's author may edit it (GitLab's :admin_note ability).
            if found["author"]["id"] != call.user.id:
                raise _Refused(403, "403 Forbidden")
            found.update(body=str(body), updated_at=objects.iso(time.time()))
            return _Reply(200, copy.deepcopy(found))

    def _get_member(self, call: _Call) -> _Reply:
        # members.md, "Get a member of a group or project, including inherited and invited
        # members": 404 for a user who is not one.
        project = self._project(call)
        user = self.instance.user_by_id(int(call.params["user_id"]))
        with self._cond:
            level = project.members.get(user.id) if user else None
        if user is None or level is None:
            raise _Refused(404, "404 Not found")
        return _Reply(200, objects.member(user, level, self.instance))
