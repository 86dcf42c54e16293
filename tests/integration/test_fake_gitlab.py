"""The fake GitLab answers the real python-gitlab client and the real git as GitLab would."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import gitlab
import pytest
from gitlab.v4.objects import Project

from tests.fakes.git import GIT_ENV
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.gitlab_objects import DEVELOPER, MAINTAINER, FakeProject
from tests.support import http

TOKEN = "glpat-fake-token-0123456789"
S2I_YAML = "builder: registry.example/python:3.12\n"


@pytest.fixture
def fake() -> Iterator[FakeGitLab]:
    with FakeGitLab(TOKEN) as fake:
        yield fake
        assert fake.errors == []


@pytest.fixture
def project(fake: FakeGitLab) -> FakeProject:
    return fake.create_project("group/app")


def client(fake: FakeGitLab, token: str = TOKEN) -> gitlab.Gitlab:
    # The bot's settings: no retries of transient errors, or tests would wait.
    return gitlab.Gitlab(fake.url, private_token=token, retry_transient_errors=False)


def remote(project: FakeProject, lazy: bool = True, *, by_id: bool = False) -> Project:
    fake_client = client_for(project)
    ident: int | str = project.id if by_id else project.path_with_namespace
    return fake_client.projects.get(ident, lazy=lazy)


def client_for(project: FakeProject) -> gitlab.Gitlab:
    url = project.instance.web_url
    return gitlab.Gitlab(url, private_token=TOKEN, retry_transient_errors=False)


def run_git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, check=False)


@pytest.mark.parametrize("by_id", [False, True])
def test_get_project_by_path_or_id(project: FakeProject, by_id: bool) -> None:
    got = remote(project, lazy=False, by_id=by_id)
    assert got.id == project.id
    assert got.path_with_namespace == "group/app"
    assert got.http_url_to_repo == project.http_url_to_repo
    assert got.default_branch == "main"


def test_file_json_and_raw_at_a_sha(project: FakeProject) -> None:
    sha = project.commit({".s2i.yaml": S2I_YAML, "app/main.py": "print('hi')\n"}, "Add app")
    project.commit({".s2i.yaml": "builder: other\n"}, "Change builder")
    files = remote(project).files
    got = files.get(".s2i.yaml", ref=sha)
    assert got.decode().decode() == S2I_YAML
    assert got.commit_id == sha and got.last_commit_id == sha
    assert files.raw("app/main.py", ref=sha) == b"print('hi')\n"
    assert files.raw(".s2i.yaml", ref="main") == b"builder: other\n"


def test_missing_file_is_404(project: FakeProject) -> None:
    sha = project.commit({"app.py": "print('hi')\n"}, "No config")
    with pytest.raises(gitlab.GitlabGetError) as raised:
        remote(project).files.get(".s2i.yaml", ref=sha)
    assert raised.value.response_code == 404
    assert raised.value.error_message == "404 File Not Found"
    with pytest.raises(gitlab.GitlabGetError):
        remote(project).files.raw(".s2i.yaml", ref=sha)


def test_statuses_follow_gitlabs_state_machine(fake: FakeGitLab, project: FakeProject) -> None:
    sha = project.commit({".s2i.yaml": S2I_YAML}, "Add config")
    statuses = remote(project).commits.get(sha, lazy=True).statuses
    create = {"name": "s2i-bot", "target_url": "http://ci.example/1", "ref": "main"}
    first = statuses.create({**create, "state": "pending", "description": "Queued"})
    assert statuses.create({**create, "state": "running"}).id == first.id  # same job moves on
    with pytest.raises(gitlab.GitlabCreateError) as raised:
        statuses.create({**create, "state": "running"})
    assert raised.value.response_code == 400
    assert raised.value.error_message.startswith("Cannot transition status via :run from :running")
    statuses.create({**create, "state": "success", "description": "Built"})
    # A finished job is never updated again: a new post starts a new job.
    again = statuses.create({**create, "state": "pending"})
    assert again.id != first.id
    posted = fake.statuses("group/app", sha)
    assert [s["status"] for s in posted] == ["pending", "running", "success", "pending"]
    assert posted[2]["description"] == "Built" and posted[2]["finished_at"]
    assert [s.status for s in statuses.list(get_all=True)] == ["pending"]  # latest only
    everything = statuses.list(get_all=True, all=True)
    assert [s.status for s in everything] == ["success", "pending"]


def test_same_pending_twice_is_refused(project: FakeProject) -> None:
    sha = project.commit({"a": "1"}, "One")
    statuses = remote(project).commits.get(sha, lazy=True).statuses
    statuses.create({"state": "pending", "name": "s2i-bot"})
    with pytest.raises(gitlab.GitlabCreateError, match="via :enqueue from :pending"):
        statuses.create({"state": "pending", "name": "s2i-bot"})


def test_status_without_ref_needs_a_branch(fake: FakeGitLab, project: FakeProject) -> None:
    project.commit({"a": "1"}, "One")
    fork = fake.create_project("alice/app", forked_from=project)
    head = fork.commit({"b": "2"}, "Fork change", branch="feature")
    iid = project.create_merge_request("feature", author="alice", source_project=fork)
    statuses = remote(project).commits.get(head, lazy=True).statuses
    with pytest.raises(gitlab.GitlabCreateError, match="References for commit Not Found"):
        statuses.create({"state": "pending", "name": "s2i-bot"})
    statuses.create(
        {"state": "pending", "name": "s2i-bot", "ref": f"refs/merge-requests/{iid}/head"}
    )
    assert fake.statuses("group/app", head)[0]["ref"] == f"refs/merge-requests/{iid}/head"


def test_bogus_state_is_refused_and_recorded(fake: FakeGitLab, project: FakeProject) -> None:
    sha = project.commit({"a": "1"}, "One")
    with pytest.raises(gitlab.GitlabCreateError) as raised:
        remote(project).commits.get(sha, lazy=True).statuses.create({"state": "bogus"})
    assert raised.value.response_code == 400
    assert fake.statuses("group/app", sha) == []
    assert len(fake.errors) == 1 and "'bogus'" in fake.errors[0]
    fake.errors.clear()


def test_merge_request_from_a_fork(fake: FakeGitLab, project: FakeProject, tmp_path: Path) -> None:
    base = project.commit({"README": "hi\n"}, "Initial")
    fork = fake.create_project("alice/app", forked_from=project)
    head = fork.commit({"app.py": "print(1)\n"}, "Feature", branch="feature")
    iid = project.create_merge_request("feature", author="alice", source_project=fork, draft=True)
    mr = remote(project).mergerequests.get(iid)
    assert (mr.iid, mr.sha, mr.draft, mr.state) == (iid, head, True, "opened")
    assert mr.source_project_id == fork.id and mr.target_project_id == project.id
    assert mr.author["username"] == "alice"
    assert mr.diff_refs == {"base_sha": base, "head_sha": head, "start_sha": base}
    # New commits on the fork's branch move the head GitLab keeps in the target project.
    newer = fork.commit({"app.py": "print(2)\n"}, "More", branch="feature")
    assert remote(project).mergerequests.get(iid).sha == newer
    url = project.http_url_to_repo.replace("http://", f"http://oauth2:{TOKEN}@")
    done = run_git("clone", "--quiet", "--bare", url, str(tmp_path / "clone.git"))
    assert done.returncode == 0, done.stderr
    spec = f"refs/merge-requests/{iid}/head:refs/mr"
    assert run_git("fetch", "--quiet", url, spec, cwd=tmp_path / "clone.git").returncode == 0
    rev = run_git("rev-parse", "refs/mr", cwd=tmp_path / "clone.git")
    assert rev.stdout.decode().strip() == newer


def test_a_merge_request_shows_the_statuses_posted_under_its_source_branch_only(
    fake: FakeGitLab, project: FakeProject
) -> None:
    project.commit({"README": "hi\n"}, "Initial")
    head = project.commit({"app.py": "print(1)\n"}, "Feature", branch="feature")
    iid = project.create_merge_request("feature", author="alice")
    statuses = remote(project).commits.get(head, lazy=True).statuses
    # Under the MR's own ref GitLab files the status on the commit, in a pipeline no MR shows.
    mr_ref = f"refs/merge-requests/{iid}/head"
    statuses.create({"state": "success", "name": "s2i/web", "ref": mr_ref})
    mr = remote(project).mergerequests.get(iid)
    assert mr.head_pipeline is None and mr.pipelines.list(get_all=True) == []
    assert fake.merge_request_statuses("group/app", iid) == []
    assert [s.ref for s in statuses.list(get_all=True)] == [mr_ref]  # stored with its ref
    # Under the source branch it is the MR's head pipeline; the pipeline sums up its jobs.
    statuses.create({"state": "success", "name": "s2i/web", "ref": "feature"})
    statuses.create({"state": "running", "name": "s2i/api", "ref": "feature"})
    mr = remote(project).mergerequests.get(iid)
    (listed,) = mr.pipelines.list(get_all=True)
    assert (listed.ref, listed.sha, listed.status, listed.source) == (
        "feature", head, "running", "external",
    )  # fmt: skip
    assert mr.head_pipeline["id"] == listed.id and mr.head_pipeline["status"] == "running"
    shown = fake.merge_request_statuses("group/app", iid)
    assert [(s["name"], s["status"], s["ref"]) for s in shown] == [
        ("s2i/web", "success", "feature"), ("s2i/api", "running", "feature"),
    ]  # fmt: skip
    statuses.create({"state": "failed", "name": "s2i/api", "ref": "feature"})
    assert remote(project).mergerequests.get(iid).head_pipeline["status"] == "failed"
    # A new head commit has no pipeline yet: the MR lists the old one, shows no head pipeline.
    project.commit({"app.py": "print(2)\n"}, "More", branch="feature")
    mr = remote(project).mergerequests.get(iid)
    assert mr.head_pipeline is None and len(mr.pipelines.list(get_all=True)) == 1
    assert fake.merge_request_statuses("group/app", iid) == []


def test_a_fork_merge_request_shows_only_statuses_posted_to_the_fork(
    fake: FakeGitLab, project: FakeProject
) -> None:
    project.commit({"README": "hi\n"}, "Initial")
    fork = fake.create_project("alice/app", forked_from=project)
    head = fork.commit({"app.py": "print(1)\n"}, "Feature", branch="feature")
    iid = project.create_merge_request("feature", author="alice", source_project=fork)
    target = remote(project).commits.get(head, lazy=True).statuses
    target.create({"state": "success", "name": "s2i/web", "ref": "feature"})
    target.create({"state": "success", "name": "s2i/web", "ref": f"refs/merge-requests/{iid}/head"})
    assert fake.merge_request_statuses("group/app", iid) == []
    remote(fork).commits.get(head, lazy=True).statuses.create(
        {"state": "success", "name": "s2i/web", "ref": "feature"}
    )
    mr = remote(project).mergerequests.get(iid)
    assert mr.head_pipeline["project_id"] == fork.id
    assert [s["ref"] for s in fake.merge_request_statuses("group/app", iid)] == ["feature"]


def test_marking_a_draft_ready_drops_the_title_prefix_and_says_what_changed(
    fake: FakeGitLab, project: FakeProject
) -> None:
    project.commit({"README": "hi\n"}, "Initial")
    project.commit({"app.py": "print(1)\n"}, "Feature", branch="feature")
    iid = project.create_merge_request("feature", author="alice", draft=True)
    assert remote(project).mergerequests.get(iid).title == "Draft: feature"
    changes = project.mark_ready(iid, by="maria")
    assert changes["draft"] == {"previous": True, "current": False}
    assert changes["title"] == {"previous": "Draft: feature", "current": "feature"}
    assert changes["updated_by_id"]["current"] == fake.user("maria").id
    mr = remote(project).mergerequests.get(iid)
    assert (mr.title, mr.draft, mr.work_in_progress) == ("feature", False, False)
    with pytest.raises(ValueError, match="not a draft"):
        project.mark_ready(iid)


def test_unknown_merge_request_is_404(project: FakeProject) -> None:
    with pytest.raises(gitlab.GitlabGetError) as raised:
        remote(project).mergerequests.get(7)
    assert raised.value.response_code == 404


def test_notes_list_create_and_edit(fake: FakeGitLab, project: FakeProject) -> None:
    project.commit({"a": "1"}, "One")
    project.commit({"b": "2"}, "Two", branch="feature")
    iid = project.create_merge_request("feature", author="alice")
    project.add_note(iid, "/s2i build", author="alice")
    mr = remote(project).mergerequests.get(iid, lazy=True)
    note = mr.notes.create({"body": "Build started"})
    assert note.author["username"] == "s2i-bot"
    note.body = "Build finished"
    note.save()
    assert [n.body for n in mr.notes.list(get_all=True)] == ["Build finished", "/s2i build"]
    assert mr.notes.get(note.id).body == "Build finished"
    assert [n["body"] for n in fake.notes("group/app", iid)] == ["/s2i build", "Build finished"]


def test_editing_someone_elses_note_is_forbidden(project: FakeProject) -> None:
    project.commit({"a": "1"}, "One")
    project.commit({"b": "2"}, "Two", branch="feature")
    iid = project.create_merge_request("feature", author="alice")
    theirs = project.add_note(iid, "mine", author="alice")
    note = remote(project).mergerequests.get(iid, lazy=True).notes.get(theirs["id"])
    note.body = "changed"
    with pytest.raises(gitlab.GitlabUpdateError) as raised:
        note.save()
    assert raised.value.response_code == 403


def test_members_and_users(fake: FakeGitLab, project: FakeProject) -> None:
    project.set_access("maria", MAINTAINER)
    project.set_access("dev", DEVELOPER)
    fake.user("stranger")
    gl = client(fake)
    [maria] = gl.users.list(username="Maria")
    assert maria.username == "maria"
    assert gl.users.list(username="nobody") == []
    members = remote(project).members_all
    assert members.get(maria.id).access_level == MAINTAINER
    assert members.get(fake.user("dev").id).access_level == DEVELOPER
    with pytest.raises(gitlab.GitlabGetError) as raised:
        members.get(fake.user("stranger").id)
    assert raised.value.response_code == 404


def test_git_clone_needs_the_token(project: FakeProject, tmp_path: Path) -> None:
    sha = project.commit({"README": "hi\n"}, "Initial")
    with_token = project.http_url_to_repo.replace("http://", f"http://oauth2:{TOKEN}@")
    done = run_git("clone", "--quiet", with_token, str(tmp_path / "ok"))
    assert done.returncode == 0, done.stderr
    assert run_git("rev-parse", "HEAD", cwd=tmp_path / "ok").stdout.decode().strip() == sha
    for url in (project.http_url_to_repo, with_token.replace(TOKEN, "wrong")):
        failed = run_git("clone", "--quiet", url, str(tmp_path / "no"))
        assert failed.returncode != 0
        # Without credentials git asks for some (and may not prompt); wrong ones fail auth.
        assert b"could not read Username" in failed.stderr or b"Authentication" in failed.stderr
    refs = http.get(f"{project.http_url_to_repo}/info/refs?service=git-upload-pack")
    assert refs.status_code == 401
    assert refs.headers["WWW-Authenticate"] == 'Basic realm="GitLab"'


def test_push_over_http_moves_a_merge_request_head(project: FakeProject, tmp_path: Path) -> None:
    project.commit({"README": "hi\n"}, "Initial")
    project.commit({"a": "1"}, "Feature", branch="feature")
    iid = project.create_merge_request("feature", author="alice")
    url = project.http_url_to_repo.replace("http://", f"http://oauth2:{TOKEN}@")
    work = tmp_path / "work"
    assert run_git("clone", "--quiet", "--branch", "feature", url, str(work)).returncode == 0
    ident = ["-c", "user.name=T", "-c", "user.email=t@example.invalid"]
    assert (
        run_git(*ident, "commit", "--quiet", "--allow-empty", "-m", "x", cwd=work).returncode == 0
    )
    pushed = run_git("push", "--quiet", "origin", "feature", cwd=work)
    assert pushed.returncode == 0, pushed.stderr
    new_head = run_git("rev-parse", "HEAD", cwd=work).stdout.decode().strip()
    assert project.merge_request_head(project.merge_request(iid)) == new_head


def test_wrong_or_missing_token_is_401(fake: FakeGitLab, project: FakeProject) -> None:
    with pytest.raises(gitlab.GitlabAuthenticationError) as raised:
        client(fake, "wrong").projects.get("group/app")
    assert raised.value.error_message == "401 Unauthorized"
    assert http.get(f"{project.url}").status_code == 401
    bearer = http.get(project.url, headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 200


def test_unknown_routes_answer_500_and_are_recorded(fake: FakeGitLab, project: FakeProject) -> None:
    auth = {"PRIVATE-TOKEN": TOKEN}
    assert http.get(f"{project.url}/pipelines", headers=auth).status_code == 500
    assert http.get(f"{fake.url}/projects/{project.id}", headers=auth).status_code == 500
    assert "does not implement GET /api/v4/projects/group%2Fapp/pipelines" in fake.errors[0]
    assert f"no route for GET /projects/{project.id}" in fake.errors[1]
    fake.errors.clear()


def test_fail_next_answers_once(fake: FakeGitLab, project: FakeProject) -> None:
    sha = project.commit({"a": "1"}, "One")
    fake.fail_next("POST", r"/statuses/", 503)
    statuses = remote(project).commits.get(sha, lazy=True).statuses
    with pytest.raises(gitlab.GitlabCreateError) as raised:
        statuses.create({"state": "pending", "name": "s2i-bot"})
    assert raised.value.response_code == 503
    statuses.create({"state": "pending", "name": "s2i-bot"})
    assert [r.status for r in fake.requests if r.method == "POST"] == [503, 201]


def test_rate_limit_is_429_with_gitlabs_headers(fake: FakeGitLab, project: FakeProject) -> None:
    fake.rate_limit("GET", r"/projects/", retry_after=30)
    response = http.get(project.url, headers={"PRIVATE-TOKEN": TOKEN})
    assert response.status_code == 429
    assert response.text == "Retry later\n"
    assert response.headers["Retry-After"] == "30"
    assert int(response.headers["RateLimit-Reset"]) > 0
    assert response.headers["RateLimit-Remaining"] == "0"
    # python-gitlab obeys a 429 by sleeping Retry-After and retrying (up to max_retries=10);
    # obey_rate_limit=False, an argument of each call, makes it raise instead.
    fake.rate_limit("GET", r"/projects/")
    with pytest.raises(gitlab.GitlabGetError) as raised:
        client(fake).projects.get("group/app", obey_rate_limit=False)
    assert raised.value.response_code == 429
    fake.rate_limit("GET", r"/projects/", retry_after=0)
    assert client(fake).projects.get("group/app").id == project.id  # retried once, at once


def test_wait_for_sees_requests(fake: FakeGitLab, project: FakeProject) -> None:
    sha = project.commit({"a": "1"}, "One")
    remote(project).commits.get(sha, lazy=True).statuses.create({"state": "success"})
    fake.wait_for(lambda: len(fake.statuses("group/app", sha)) == 1, timeout=2)
    assert fake.statuses("group/app", sha)[0]["name"] == "default"
