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
from datetime import UTC, datetime
from typing import Any

from tests.fakes import openapi
from tests.fakes.git import Blob, CommitInfo, git
from tests.fakes.github_repo import AnnotatedTag, Asset, Comment, Issue, Pull, Release
from tests.fakes.github_repo import FakeRepo as FakeRepo  # re-exported: it used to live here

JSON = Any
_EXAMPLE_REPO = "octocat/Hello-World"
# GitHub returns file content base64-encoded in lines of 60 characters.
_B64_LINE = 60
# Files over 1 MiB come back with empty content and encoding "none" (REST docs,
# "Get repository content": "Between 1-100 MB: Only the raw or object custom media types").
MAX_INLINE_CONTENT = 1024 * 1024


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


# Every login the fake has named, by its id, so ``GET /user/{account_id}`` finds it again.
# An id is a function of the login, so one table serves every fake in the process.
_LOGINS: dict[int, str] = {}


def user_id(login: str) -> int:
    """The id of ``login``'s account (stable: derived from the login)."""
    uid = int(hashlib.sha256(login.encode()).hexdigest()[:6], 16)
    _LOGINS[uid] = login
    return uid


def login_of(uid: int) -> str | None:
    """The login of the account with id ``uid``, if the fake ever named it."""
    return _LOGINS.get(uid)


def public_user(login: str, web_url: str, api_url: str) -> dict[str, JSON]:
    """``GET /user/{account_id}``: a ``public-user`` for ``login`` (from its documented
    example)."""
    example = copy.deepcopy(openapi.load().example("public-user-default-response"))
    replaced = _retarget(
        example,
        [
            ("https://api.github.com/users/octocat", f"{api_url}/users/{login}"),
            ("https://github.com/octocat", f"{web_url}/{login}"),
            ("https://github.com", web_url),
        ],
    )
    uid = user_id(login)
    replaced.update(login=login, id=uid, node_id=_node_id("04:User", uid), name=login)
    return dict(replaced)


def user(login: str, web_url: str, api_url: str, *, bot: bool = False) -> dict[str, JSON]:
    """A ``simple-user`` for ``login`` (from the ``status`` example's creator); ``bot`` for a
    GitHub App's ``<slug>[bot]`` account."""
    creator = copy.deepcopy(openapi.load().example("status")["creator"])
    replaced = _retarget(
        creator,
        [
            ("https://api.github.com/users/octocat", f"{api_url}/users/{login}"),
            ("https://github.com/octocat", f"{web_url}/{login}"),
            ("https://github.com", web_url),  # the avatar
        ],
    )
    uid = user_id(login)
    replaced.update(login=login, id=uid, node_id=_node_id("04:User", uid))
    if bot:
        replaced.update(type="Bot", html_url=f"{web_url}/apps/{login.removesuffix('[bot]')}")
    return dict(replaced)


def authenticated_user(login: str, web_url: str, api_url: str) -> dict[str, JSON]:
    """``GET /user`` for a token's user: a ``private-user`` (GitHub's example, renamed)."""
    example = openapi.load().example(
        "private-user-response-with-public-and-private-profile-information"
    )
    body = _retarget(
        copy.deepcopy(example),
        [
            ("https://api.github.com/users/octocat", f"{api_url}/users/{login}"),
            ("https://github.com/octocat", f"{web_url}/{login}"),
            ("https://github.com", web_url),
        ],
    )
    simple = user(login, web_url, api_url)
    body.update(login=login, id=simple["id"], node_id=simple["node_id"], name=login)
    return dict(body)


def app(
    *, app_id: int, slug: str, client_id: str, owner: str, web_url: str, api_url: str
) -> dict[str, JSON]:
    """``GET /app`` for the app a JWT names: an ``integration`` (GitHub's example)."""
    body = copy.deepcopy(openapi.load().example("integration"))
    body.update(
        id=app_id,
        slug=slug,
        client_id=client_id,
        node_id=_node_id("03:Integration", app_id),
        owner=user(owner, web_url, api_url),
        name=f"{slug} app",
        html_url=f"{web_url}/apps/{slug}",
    )
    return dict(body)


def repository(repo: FakeRepo) -> dict[str, JSON]:
    """``GET /repos/{owner}/{repo}``: a ``full-repository`` for a public repository."""
    body = _retarget(
        copy.deepcopy(openapi.load().example("full-repository-default-response")), _urls(repo)
    )
    for key in ("parent", "source", "template_repository", "organization", "temp_clone_token"):
        body.pop(key, None)
    body.update(_identity(repo))
    body.update(
        svn_url=repo.html_url,
        # The token's user can push: the bot posts statuses with it.
        permissions={"admin": False, "maintain": False, "push": True, "triage": True, "pull": True},
    )
    if repo.parent is not None:
        # A fork names its parent and the root of its network (here: the same repository).
        body["parent"] = body["source"] = repository_summary(repo.parent)
    return dict(body)


def _identity(repo: FakeRepo) -> dict[str, JSON]:
    return {
        "id": repo.id,
        "node_id": _node_id("010:Repository", repo.id),
        "name": repo.name,
        "full_name": repo.full_name,
        "owner": user(repo.owner, repo.web_url, repo.api_url),
        "default_branch": repo.default_branch,
        "fork": repo.parent is not None,
        "mirror_url": None,
        "language": None,
        "description": None,
        "homepage": None,
    }


def repository_summary(repo: FakeRepo) -> dict[str, JSON]:
    """A ``repository`` (as in a pull request's ``head.repo``), from the pull request example."""
    example = openapi.load().example("pull-request")["head"]["repo"]
    body = _retarget(copy.deepcopy(example), _urls(repo))
    body.pop("temp_clone_token", None)
    body.update(_identity(repo), svn_url=repo.html_url, visibility="public")
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


def diff_entries(repo: FakeRepo, sha: str, base: str | None = None) -> list[dict[str, JSON]]:
    """``diff-entry`` of each file ``sha`` changed against ``base`` (default: its parent)."""
    files: list[dict[str, JSON]] = []
    for change in repo.bare.changes(sha, base):
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
    return files


def commit(repo: FakeRepo, info: CommitInfo) -> dict[str, JSON]:
    """``GET /repos/{owner}/{repo}/commits/{ref}`` (schema ``commit``), from the git object."""
    body = _retarget(copy.deepcopy(openapi.load().example("commit")), _urls(repo))
    sha = info.sha
    files = diff_entries(repo, sha)
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


def _iso_or_none(stamp: float | None) -> str | None:
    return None if stamp is None else _iso(stamp)


def _pull_links(repo: FakeRepo, number: int) -> dict[str, str]:
    return {
        "url": f"{repo.url}/pulls/{number}",
        "html_url": f"{repo.html_url}/pull/{number}",
        "diff_url": f"{repo.html_url}/pull/{number}.diff",
        "patch_url": f"{repo.html_url}/pull/{number}.patch",
    }


def _branch(repo: FakeRepo, ref: str, sha: str) -> dict[str, JSON]:
    return {
        "label": f"{repo.owner}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": user(repo.owner, repo.web_url, repo.api_url),
        "repo": repository_summary(repo),
    }


def pull_request(repo: FakeRepo, pull: Pull) -> dict[str, JSON]:
    """``GET /repos/{owner}/{repo}/pulls/{number}`` (schema ``pull-request``).

    The fake does not compute mergeability, so ``mergeable`` is null and ``mergeable_state``
    "unknown", as GitHub answers while its background job has not run yet.
    """
    body = _retarget(copy.deepcopy(openapi.load().example("pull-request")), _urls(repo))
    n = pull.number
    base_sha = repo.head(pull.base_ref)
    ref = f"refs/pull/{n}/head"
    commits, additions, deletions, files = repo.bare.diff_stats(base_sha, ref)
    links = _pull_links(repo, n)
    author = user(pull.author, repo.web_url, repo.api_url)
    body.update(
        links,
        id=repo.id * 100_000 + n,
        node_id=_node_id("011:PullRequest", repo.id * 100_000 + n),
        issue_url=f"{repo.url}/issues/{n}",
        commits_url=f"{links['url']}/commits",
        review_comments_url=f"{links['url']}/comments",
        review_comment_url=f"{repo.url}/pulls/comments{{/number}}",
        comments_url=f"{repo.url}/issues/{n}/comments",
        statuses_url=f"{repo.url}/statuses/{pull.head_sha}",
        number=n,
        state=pull.state,
        locked=False,
        title=pull.title,
        user=author,
        body=None,
        labels=[],
        milestone=None,
        active_lock_reason=None,
        created_at=_iso(pull.created_at),
        updated_at=_iso(pull.updated_at),
        closed_at=_iso_or_none(pull.closed_at),
        merged_at=_iso(pull.closed_at or pull.updated_at) if pull.merged else None,
        merge_commit_sha=None,
        assignee=None,
        assignees=[],
        requested_reviewers=[],
        requested_teams=[],
        head=_branch(pull.head_repo, pull.head_ref, pull.head_sha),
        base=_branch(repo, pull.base_ref, base_sha),
        author_association=repo.author_association(pull.author),
        auto_merge=None,
        draft=pull.draft,
        merged=pull.merged,
        mergeable=None,
        rebaseable=None,
        mergeable_state="unknown",
        merged_by=author if pull.merged else None,
        comments=len(repo.comments_on(n)),
        review_comments=0,
        maintainer_can_modify=False,
        commits=commits,
        additions=additions,
        deletions=deletions,
        changed_files=files,
    )
    body["_links"] = {
        "self": {"href": links["url"]},
        "html": {"href": links["html_url"]},
        "issue": {"href": body["issue_url"]},
        "comments": {"href": body["comments_url"]},
        "review_comments": {"href": body["review_comments_url"]},
        "review_comment": {"href": body["review_comment_url"]},
        "commits": {"href": body["commits_url"]},
        "statuses": {"href": body["statuses_url"]},
    }
    return dict(body)


def issue(repo: FakeRepo, item: Issue) -> dict[str, JSON]:
    """``GET /repos/{owner}/{repo}/issues/{number}`` (schema ``issue``): a pull request is
    an issue with a ``pull_request`` key (REST docs, "Issues")."""
    body = _retarget(copy.deepcopy(openapi.load().example("issue")), _urls(repo))
    n = item.number
    uid = repo.id * 100_000 + n
    closed_by = None
    if item.state == "closed":
        closed_by = user(item.author, repo.web_url, repo.api_url)
    body.update(
        id=uid,
        node_id=_node_id("05:Issue", uid),
        url=f"{repo.url}/issues/{n}",
        labels_url=f"{repo.url}/issues/{n}/labels{{/name}}",
        comments_url=f"{repo.url}/issues/{n}/comments",
        events_url=f"{repo.url}/issues/{n}/events",
        html_url=f"{repo.html_url}/{'pull' if isinstance(item, Pull) else 'issues'}/{n}",
        number=n,
        state=item.state,
        state_reason="completed" if item.state == "closed" else None,
        title=item.title,
        body=None,
        user=user(item.author, repo.web_url, repo.api_url),
        pinned_comment=None,
        labels=[],
        assignee=None,
        assignees=[],
        milestone=None,
        locked=False,
        active_lock_reason=None,
        comments=len(repo.comments_on(n)),
        closed_at=_iso_or_none(item.closed_at),
        created_at=_iso(item.created_at),
        updated_at=_iso(item.updated_at),
        closed_by=closed_by,
        author_association=repo.author_association(item.author),
        reactions=_no_reactions(f"{repo.url}/issues/{n}"),
    )
    if isinstance(item, Pull):
        merged_at = _iso(item.closed_at or item.updated_at) if item.merged else None
        body["pull_request"] = {**_pull_links(repo, n), "merged_at": merged_at}
        body["draft"] = item.draft
    else:
        body.pop("pull_request", None)
    return dict(body)


def issue_comment(repo: FakeRepo, comment: Comment) -> dict[str, JSON]:
    """An ``issue-comment``, as ``GET /repos/{owner}/{repo}/issues/comments/{id}`` answers."""
    body = _retarget(copy.deepcopy(openapi.load().example("issue-comment")), _urls(repo))
    kind = "pull" if isinstance(repo.issues.get(comment.number), Pull) else "issues"
    body.update(
        id=comment.id,
        node_id=_node_id("012:IssueComment", comment.id),
        url=f"{repo.url}/issues/comments/{comment.id}",
        html_url=f"{repo.html_url}/{kind}/{comment.number}#issuecomment-{comment.id}",
        issue_url=f"{repo.url}/issues/{comment.number}",
        body=comment.body,
        user=user(comment.author, repo.web_url, repo.api_url, bot=comment.bot),
        created_at=_iso(comment.created_at),
        updated_at=_iso(comment.updated_at),
        author_association=repo.author_association(comment.author),
        performed_via_github_app=None,
        reactions=_no_reactions(body["url"]),
    )
    return dict(body)


def _no_reactions(url: str) -> dict[str, JSON]:
    """A ``reaction-rollup`` with nobody reacting."""
    counts = ("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket")
    return {"url": f"{url}/reactions", "total_count": 0, **dict.fromkeys(counts, 0)}


def _permissions(role: str) -> dict[str, bool]:
    rank = ("none", "read", "triage", "write", "maintain", "admin").index(role)
    return {
        "pull": rank >= 1,
        "triage": rank >= 2,
        "push": rank >= 3,
        "maintain": rank >= 4,
        "admin": rank >= 5,
    }


# "permission" holds the legacy base roles only: maintain shows as write, triage as read
# (REST docs, "Get repository permissions for a user"); role_name has the full role.
_LEGACY = {"admin": "admin", "maintain": "write", "write": "write", "triage": "read"}


def collaborator_permission(repo: FakeRepo, login: str) -> dict[str, JSON]:
    """``GET /repos/{owner}/{repo}/collaborators/{username}/permission``."""
    role = repo.role(login)
    body = {
        "permission": _LEGACY.get(role, role),
        "role_name": role,
        "user": {
            **user(login, repo.web_url, repo.api_url),
            "permissions": _permissions(role),
            "role_name": role,
        },
    }
    return body


def iso_datetime(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def installation(
    *,
    installation_id: int,
    app_id: int,
    app_slug: str,
    client_id: str,
    account: str,
    all_repositories: bool,
    permissions: dict[str, str],
    created_at: float,
    web_url: str,
    api_url: str,
) -> dict[str, JSON]:
    """An ``installation`` of a GitHub App on a user account, from GitHub's example."""
    body = copy.deepcopy(openapi.load().example("installation"))
    owner = user(account, web_url, api_url)
    body.update(
        id=installation_id,
        account=owner,
        repository_selection="all" if all_repositories else "selected",
        access_tokens_url=f"{api_url}/app/installations/{installation_id}/access_tokens",
        repositories_url=f"{api_url}/installation/repositories",
        html_url=f"{web_url}/settings/installations/{installation_id}",
        app_id=app_id,
        client_id=client_id,
        target_id=owner["id"],
        target_type="User",
        permissions=dict(permissions),
        events=["push", "pull_request", "issue_comment"],
        created_at=_iso(created_at),
        updated_at=_iso(created_at),
        single_file_name=None,
        has_multiple_single_files=False,
        single_file_paths=[],
        app_slug=app_slug,
        suspended_at=None,
        suspended_by=None,
    )
    return dict(body)


def installation_token(
    token: str,
    expires_at: datetime,
    permissions: dict[str, str],
    repositories: list[FakeRepo] | None,
    *,
    all_repositories: bool,
) -> dict[str, JSON]:
    """``POST /app/installations/{id}/access_tokens``'s ``installation-token``;
    ``repositories`` (listed) when the request narrowed the token to them."""
    body: dict[str, JSON] = {
        "token": token,
        "expires_at": iso_datetime(expires_at),
        "permissions": dict(permissions),
        "repository_selection": "all" if all_repositories else "selected",
    }
    if repositories is not None:
        body["repositories"] = [repository_summary(r) for r in repositories]
    return body


def release_asset(repo: FakeRepo, release: Release, asset: Asset) -> dict[str, JSON]:
    """A ``release-asset``, as ``GET /repos/{owner}/{repo}/releases/assets/{id}`` answers.

    ``url`` is the API URL (download with ``Accept: application/octet-stream``);
    ``browser_download_url`` is ``{html_url}/releases/download/{tag}/{name}``.
    """
    quoted_tag = urllib.parse.quote(release.tag, safe="")
    quoted_name = urllib.parse.quote(asset.name, safe="")
    stamp = _iso(asset.created_at)
    return {
        "url": f"{repo.url}/releases/assets/{asset.id}",
        "browser_download_url": f"{repo.html_url}/releases/download/{quoted_tag}/{quoted_name}",
        "id": asset.id,
        "node_id": _node_id("012:ReleaseAsset", asset.id),
        "name": asset.name,
        "label": None,
        "state": "uploaded",
        "content_type": asset.content_type,
        "size": len(asset.data),
        "digest": asset.digest,
        "download_count": asset.download_count,
        "created_at": stamp,
        "updated_at": stamp,
        "uploader": user(release.author, repo.web_url, repo.api_url),
    }


def release(repo: FakeRepo, rel: Release) -> dict[str, JSON]:
    """A ``release``, as ``GET /repos/{owner}/{repo}/releases/{id}`` answers, from GitHub's
    example; its assets in upload order."""
    body = _retarget(copy.deepcopy(openapi.load().example("release")), _urls(repo))
    for key in ("discussion_url", "body_html", "body_text", "mentions_count", "reactions"):
        body.pop(key, None)
    url = f"{repo.url}/releases/{rel.id}"
    tag = urllib.parse.quote(rel.tag, safe="")
    host = urllib.parse.urlsplit(repo.web_url)
    body.update(
        url=url,
        html_url=f"{repo.html_url}/releases/tag/{tag}",
        assets_url=f"{url}/assets",
        # GitHub Enterprise's upload host: <host>/api/uploads (github.com: uploads.github.com).
        upload_url=f"{host.scheme}://{host.netloc}/api/uploads/repos/{repo.full_name}"
        f"/releases/{rel.id}/assets{{?name,label}}",
        tarball_url=f"{repo.url}/tarball/{tag}",
        zipball_url=f"{repo.url}/zipball/{tag}",
        id=rel.id,
        node_id=_node_id("07:Release", rel.id),
        tag_name=rel.tag,
        target_commitish=rel.target_commitish,
        name=rel.name,
        body=None,
        draft=rel.draft,
        prerelease=rel.prerelease,
        immutable=False,
        created_at=_iso(rel.created_at),
        published_at=_iso_or_none(rel.published_at),
        updated_at=_iso(rel.published_at or rel.created_at),
        author=user(rel.author, repo.web_url, repo.api_url),
        assets=[release_asset(repo, rel, a) for a in rel.assets.values()],
    )
    return dict(body)


def _git_object(repo: FakeRepo, kind: str, sha: str) -> dict[str, JSON]:
    return {"type": kind, "sha": sha, "url": f"{repo.url}/git/{kind}s/{sha}"}


def git_ref(repo: FakeRepo, ref: str, kind: str, sha: str) -> dict[str, JSON]:
    """``GET /repos/{owner}/{repo}/git/ref/{ref}`` (schema ``git-ref``) for ``refs/...``:
    ``object.type`` is ``tag`` for an annotated tag (then resolve it with ``git/tags``),
    ``commit`` otherwise."""
    quoted = urllib.parse.quote(ref, safe="/")
    return {
        "ref": ref,
        "node_id": _node_id("03:Ref", ref),
        "url": f"{repo.url}/git/{quoted}",
        "object": _git_object(repo, kind, sha),
    }


def git_tag(repo: FakeRepo, tag: AnnotatedTag) -> dict[str, JSON]:
    """``GET /repos/{owner}/{repo}/git/tags/{tag_sha}`` (schema ``git-tag``); unsigned."""
    name, email, stamp = tag.tagger
    return {
        "node_id": _node_id("03:Tag", tag.sha),
        "tag": tag.tag,
        "sha": tag.sha,
        "url": f"{repo.url}/git/tags/{tag.sha}",
        "message": tag.message,
        "tagger": {"name": name, "email": email, "date": _iso(stamp)},
        "object": _git_object(repo, tag.object_type, tag.object_sha),
        "verification": {
            "verified": False,
            "reason": "unsigned",
            "signature": None,
            "payload": None,
            "verified_at": None,
        },
    }


def comparison(repo: FakeRepo, base: str, head: str, merge_base: str) -> dict[str, JSON]:
    """``GET /repos/{owner}/{repo}/compare/{base}...{head}`` (schema ``commit-comparison``):
    the commits of ``merge_base..head`` and the files changed since the merge base."""
    bare = repo.bare
    ahead = git(bare.path, "rev-list", "--reverse", f"{merge_base}..{head}").decode().split()
    behind = int(git(bare.path, "rev-list", "--count", f"{merge_base}..{base}").decode())
    status = (
        "identical" if not ahead and not behind
        else "ahead" if not behind
        else "behind" if not ahead
        else "diverged"
    )  # fmt: skip
    basehead, owner = f"{base}...{head}", repo.owner
    return {
        "url": f"{repo.url}/compare/{basehead}",
        "html_url": f"{repo.html_url}/compare/{basehead}",
        "permalink_url": f"{repo.html_url}/compare/{owner}:{base[:7]}...{owner}:{head[:7]}",
        "diff_url": f"{repo.html_url}/compare/{basehead}.diff",
        "patch_url": f"{repo.html_url}/compare/{basehead}.patch",
        "base_commit": commit(repo, bare.commit_info(base)),
        "merge_base_commit": commit(repo, bare.commit_info(merge_base)),
        "status": status,
        "ahead_by": len(ahead),
        "behind_by": behind,
        "total_commits": len(ahead),
        "commits": [commit(repo, bare.commit_info(sha)) for sha in ahead],
        "files": diff_entries(repo, head, merge_base),
    }
