"""The GitLab driver (python-gitlab underneath) against the fake GitLab."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.build_record import Build, BuildState
from bot.commit_status import status_for
from bot.events import Event, EventKind, Repo
from bot.forges.base import CommitStatus, RateLimited, StatusState, UnknownRepository
from bot.forges.gitlab_api import GitLabApi
from bot.metrics import Metrics
from bot.planner import plan
from bot.pull_comment import MARKER
from bot.repo_config import parse_repo_config
from bot.retry import RetryPolicy
from bot.templates import Template
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.gitlab_objects import DEVELOPER, REPORTER, FakeProject

TOKEN = "glpat-driver-test-token"


@pytest.fixture
def fake() -> Iterator[FakeGitLab]:
    with FakeGitLab(TOKEN) as fake:
        yield fake
        assert fake.errors == []


@pytest.fixture
def project(fake: FakeGitLab) -> FakeProject:
    return fake.create_project("group/app")


def driver(fake: FakeGitLab, sleeps: list[float] | None = None) -> GitLabApi:
    policy = RetryPolicy(sleep=(sleeps if sleeps is not None else []).append)
    return GitLabApi(fake.url, TOKEN, retry=policy)


def status(state: StatusState, ref: str = "main") -> CommitStatus:
    return CommitStatus(state, "s2i/web", "building", "http://bot/builds/1/log", ref)


def test_files_statuses_and_idempotent_transitions(fake: FakeGitLab, project: FakeProject) -> None:
    sha = project.commit({".s2i.yaml": "builds: []\n"}, "config")
    forge = driver(fake)
    assert forge.read_file("group/app", ".s2i.yaml", sha) == "builds: []\n"
    assert forge.read_file("group/app", "missing.yaml", sha) is None
    forge.set_status("group/app", sha, status(StatusState.PENDING))
    forge.set_status("group/app", sha, status(StatusState.RUNNING))
    forge.set_status("group/app", sha, status(StatusState.RUNNING))  # GitLab refuses; a no-op
    forge.set_status("group/app", sha, status(StatusState.CANCELLED))
    states = [s["status"] for s in fake.statuses("group/app", sha)]
    assert states == ["pending", "running", "canceled"]


def test_write_access_is_developer_or_more(fake: FakeGitLab, project: FakeProject) -> None:
    project.set_access("dev", DEVELOPER)
    project.set_access("reporter", REPORTER)
    forge = driver(fake)
    assert forge.can_write("group/app", "dev", fake.user("dev").id)
    assert not forge.can_write("group/app", "reporter", fake.user("reporter").id)
    assert not forge.can_write("group/app", "nobody", fake.user("nobody").id)


def test_one_note_per_merge_request_is_edited_in_place(
    fake: FakeGitLab, project: FakeProject
) -> None:
    project.commit({"a": "1"}, "start")
    project.commit({"a": "2"}, "change", branch="fix")
    iid = project.create_merge_request("fix", author="dev")
    forge = driver(fake)
    first = forge.upsert_comment("group/app", iid, None, f"{MARKER}\none")
    assert forge.upsert_comment("group/app", iid, first, f"{MARKER}\ntwo") == first
    # A new database has no id: the marker finds the note again.
    assert forge.upsert_comment("group/app", iid, None, f"{MARKER}\nthree") == first
    forge.comment("group/app", iid, "a reply")
    bodies = sorted(n["body"] for n in fake.notes("group/app", iid))
    assert bodies == [f"{MARKER}\nthree", "a reply"]
    pull = forge.pull_request("group/app", iid)
    assert (pull.number, pull.head_branch, pull.author, pull.from_fork) == (
        iid,
        "fix",
        "dev",
        False,
    )
    assert pull.head_sha == project.head("fix")


def test_a_rate_limited_call_waits_as_asked_then_lands(
    fake: FakeGitLab, project: FakeProject
) -> None:
    sha = project.commit({"a": "1"}, "start")
    sleeps: list[float] = []
    fake.rate_limit("POST", r"/statuses/", retry_after=7)
    driver(fake, sleeps).set_status("group/app", sha, status(StatusState.SUCCESS))
    assert sleeps == [7.0]
    assert [s["status"] for s in fake.statuses("group/app", sha)] == ["success"]


def test_a_long_rate_limit_goes_back_to_the_outbox(fake: FakeGitLab, project: FakeProject) -> None:
    sha = project.commit({"a": "1"}, "start")
    fake.rate_limit("POST", r"/statuses/", retry_after=3600)
    with pytest.raises(RateLimited) as raised:
        driver(fake).set_status("group/app", sha, status(StatusState.SUCCESS))
    assert raised.value.retry_after == 3600


def reported_status(forge: GitLabApi, project: FakeProject, iid: int) -> CommitStatus:
    """The status the bot reports for a running build of merge request ``iid``, from the merge
    request as the driver reads it, through the planner and commit_status."""
    pull = forge.pull_request(project.path_with_namespace, iid)
    repo = Repo("gitlab", project.path_with_namespace, project.http_url_to_repo)
    event = Event(EventKind.PULL_REQUEST, repo, pull.fetch_ref, pull.head_sha, "alice", "d1",
                  pull=pull)  # fmt: skip
    config = parse_repo_config(
        "builds:\n  - {name: web, template: go, image: reg/app, triggers: {pull_requests: true}}\n",
        templates={"go"},
    )
    (spec,) = plan(event, config, {"go": Template(name="go", builder="s2i-bot/go")})
    build = Build(1, "d1", "web", "gitlab", repo.full_name, pull.head_sha, spec,
                  BuildState.RUNNING, "", None, None)  # fmt: skip
    return status_for(build, "http://bot")


def test_a_merge_requests_status_shows_on_the_merge_request(
    fake: FakeGitLab, project: FakeProject
) -> None:
    project.commit({"a": "1"}, "start")
    head = project.commit({"a": "2"}, "change", branch="fix/login")
    iid = project.create_merge_request("fix/login", author="alice")
    forge = driver(fake)
    status = reported_status(forge, project, iid)
    assert status.ref == "fix/login"
    forge.set_status("group/app", head, status)
    shown = fake.merge_request_statuses("group/app", iid)
    assert [(s["name"], s["status"], s["ref"]) for s in shown] == [
        ("s2i/web", "running", "fix/login")
    ]


def test_a_fork_merge_requests_status_stays_on_the_commit(
    fake: FakeGitLab, project: FakeProject
) -> None:
    project.commit({"a": "1"}, "start")
    fork = fake.create_project("alice/app", forked_from=project)
    head = fork.commit({"a": "2"}, "change", branch="fix/login")
    iid = project.create_merge_request("fix/login", author="alice", source_project=fork)
    forge = driver(fake)
    status = reported_status(forge, project, iid)
    # The fork's branch is not a branch of group/app: the status names the ref GitLab keeps
    # for the MR there. GitLab shows it on the commit, not on the MR (it would need the fork).
    assert status.ref == f"refs/merge-requests/{iid}/head"
    forge.set_status("group/app", head, status)
    assert [s["ref"] for s in fake.statuses("group/app", head)] == [status.ref]
    assert fake.merge_request_statuses("group/app", iid) == []


def test_a_draft_marked_ready_reads_as_ready(fake: FakeGitLab, project: FakeProject) -> None:
    project.commit({"a": "1"}, "start")
    project.commit({"a": "2"}, "change", branch="fix")
    iid = project.create_merge_request("fix", author="alice", draft=True)
    forge = driver(fake)
    assert forge.pull_request("group/app", iid).draft
    project.mark_ready(iid)
    assert not forge.pull_request("group/app", iid).draft


def test_a_project_is_confirmed_by_the_api_and_cloned_from_the_configured_url(
    fake: FakeGitLab, project: FakeProject
) -> None:
    forge = driver(fake)
    confirmed = forge.repository("group/app", project.id)
    assert (confirmed.full_name, confirmed.id) == ("group/app", project.id)
    assert confirmed.clone_url == f"{fake.url}/group/app.git" == project.http_url_to_repo
    with pytest.raises(UnknownRepository, match="has id"):
        forge.repository("group/app", project.id + 1)
    with pytest.raises(UnknownRepository, match="no project group/ghost"):
        forge.repository("group/ghost", 1)
    elsewhere = GitLabApi(fake.url, TOKEN, git_url="https://git.example")
    assert elsewhere.repository("group/app", None).clone_url == "https://git.example/group/app.git"


def test_a_renamed_accounts_old_name_taken_by_someone_else_gives_no_write_access(
    fake: FakeGitLab, project: FakeProject
) -> None:
    dev = project.set_access("dev", DEVELOPER)
    forge = driver(fake)
    assert forge.can_write("group/app", "dev", dev.id)
    fake.rename_user("dev", "dev-renamed")
    squatter = fake.user("dev")  # the freed name, now someone else's account
    assert squatter.id != dev.id
    assert not forge.can_write("group/app", "dev", squatter.id)
    assert forge.can_write("group/app", "dev-renamed", dev.id)
    assert not forge.can_write("group/app", "dev", None)  # without an id, nobody


def test_calls_are_counted_by_outcome_and_the_rate_limit_left_is_what_gitlab_said(
    fake: FakeGitLab, project: FakeProject
) -> None:
    sha = project.commit({"a": "1"}, "start")
    metrics = Metrics()
    forge = GitLabApi(fake.url, TOKEN, retry=RetryPolicy(sleep=lambda _: None), metrics=metrics)
    sample = metrics.registry.get_sample_value
    forge.set_status("group/app", sha, status(StatusState.PENDING))
    assert sample("s2i_bot_forge_api_calls_total", {"forge": "gitlab", "outcome": "ok"}) == 1
    fake.rate_limit("POST", r"/statuses/", retry_after=3600)  # RateLimit-Remaining: 0
    with pytest.raises(RateLimited):
        forge.set_status("group/app", sha, status(StatusState.SUCCESS))
    limited = {"forge": "gitlab", "outcome": "rate_limited"}
    assert sample("s2i_bot_forge_api_calls_total", limited) == 1
    assert sample("s2i_bot_forge_rate_limit_remaining", {"forge": "gitlab"}) == 0
