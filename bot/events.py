"""The forge-neutral Event: what happened, independent of GitHub or GitLab.

Forge drivers (bot/forges/*) turn a webhook into one of these; nothing downstream reads
forge payloads. Forge verbs map to one vocabulary, as Zuul does: GitHub `synchronize` and
GitLab `update` are both CHANGED.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class EventKind(enum.StrEnum):
    PUSH = "push"  # to a branch
    TAG = "tag"  # a tag pushed
    PULL_REQUEST = "pull_request"  # GitHub pull request / GitLab merge request
    COMMENT = "comment"  # on a pull/merge request
    RELEASE = "release"  # a release published
    RERUN = "rerun"  # someone asked for builds of a commit again (GitHub's "Re-run")


class PullAction(enum.StrEnum):
    OPENED = "opened"
    CHANGED = "changed"  # new commits on the head branch
    REOPENED = "reopened"
    READY = "ready"  # a draft marked ready for review
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Repo:
    """A repository on a forge: its name and where to clone it from."""

    forge: str  # "github" | "gitlab"
    full_name: str  # "owner/name" (GitLab: the project's full path)
    # Built from the forge's configured git URL once the forge's API confirmed the repository
    # (ForgeApi.repository); empty in what a webhook parser returns: payloads never say it.
    clone_url: str = ""
    html_url: str = ""
    id: int | None = None  # the forge's repository (GitLab: project) id


@dataclass(frozen=True, slots=True)
class BranchPush:
    """A branch moved from `before` to `sha`, told by no webhook: what the catch-up writes as
    each forge's push webhook (bot/catch_up.py). `paths`: the files changed, None unknown.

    A manual trigger (bot/manual_trigger.py) and a rebuild on a new base image
    (bot/base_images.py) write one too, for a branch or, with `tag`, a tag (`branch` is then
    the tag's name): `only_builds` limits it to builds of `.s2i.yaml` by name, and `note` says
    why in its pending statuses."""

    repo: Repo
    branch: str
    before: str
    sha: str
    delivery_id: str
    actor: str
    paths: tuple[str, ...] | None
    tag: bool = False
    only_builds: tuple[str, ...] | None = None
    note: str = ""
    rebuilt_on: str = ""  # a rebuild on a new base image: `image@digest` (bot/base_images.py)


@dataclass(frozen=True, slots=True)
class PullRequest:
    number: int  # GitHub number / GitLab iid
    head_sha: str
    head_branch: str
    base_branch: str
    author: str
    from_fork: bool
    draft: bool = False
    base_sha: str = ""
    author_id: int | None = None  # the forge's user id: it decides who the author is
    # The ref of the base repository that holds the head commit, so a fork's code is fetched
    # from the base repository: GitHub refs/pull/N/head, GitLab refs/merge-requests/N/head.
    fetch_ref: str = ""


@dataclass(frozen=True, slots=True)
class Comment:
    id: int
    body: str
    author: str
    author_id: int | None = None  # the forge's user id: it decides who the author is


@dataclass(frozen=True, slots=True)
class Rerun:
    """A request to run builds again from the forge's own button (GitHub: a check run's
    "Re-run", `check_run` `rerequested`; "Re-run all checks", `check_suite` `rerequested`)."""

    build_key: str | None  # the build re-run (its check run's external_id); None: the commit's
    requester: str
    requester_id: int | None = None  # the forge's user id: it decides who asked


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    repo: Repo
    ref: str  # the full git ref built, e.g. "refs/heads/main", "refs/pull/4/head"
    sha: str  # the commit to build ("" for a comment: the PR's head is looked up)
    actor: str
    delivery_id: str
    pull: PullRequest | None = None
    pull_action: PullAction | None = None
    comment: Comment | None = None
    pr_number: int | None = None  # a comment's pull request (its head is looked up)
    changed_paths: tuple[str, ...] | None = None  # None: unknown (build regardless of paths)
    release_id: int | None = None
    rerun: Rerun | None = None
    # Set only by a delivery the bot wrote itself (a manual trigger: BranchPush): only these
    # builds of `.s2i.yaml` (None: every build the event triggers), and why, for the statuses.
    only_builds: tuple[str, ...] | None = None
    note: str = ""
    rebuilt_on: str = ""  # a rebuild of the same commit on a new base image: `image@digest`

    @property
    def branch(self) -> str | None:
        prefix = "refs/heads/"
        return self.ref[len(prefix) :] if self.ref.startswith(prefix) else None

    @property
    def tag(self) -> str | None:
        prefix = "refs/tags/"
        return self.ref[len(prefix) :] if self.ref.startswith(prefix) else None
