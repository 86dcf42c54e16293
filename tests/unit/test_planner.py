import pytest

from bot.events import Event, EventKind, PullRequest, Repo
from bot.planner import PlanError, image_tag, plan, resolve_image
from bot.repo_config import parse_repo_config
from bot.templates import Artifact, RuntimeStage, Template

TEMPLATES = {
    "go": Template(
        name="go",
        builder="s2i-bot/go:latest",
        runtime=RuntimeStage(
            image="s2i-bot/go-runtime:latest",
            artifacts=(Artifact("/opt/app-root/app", "/opt/app-root"),),
        ),
        env={"CGO_ENABLED": "0"},
        incremental=True,
    ),
    "python": Template(name="python", builder="s2i-bot/python:latest"),
}
CONFIG = parse_repo_config(
    """\
builds:
  - name: web
    template: go
    image: 127.0.0.1:5000/acme/web
    env: {GO_MAIN_PACKAGE: ./cmd/web}
    triggers: {branches: [main], tags: ["v*"], pull_requests: [main]}
  - name: api
    template: go
    context: services/api
    image: 127.0.0.1:5000/acme/api
    tags: {branch: ["edge", "{short_sha}"]}
    incremental: false
    triggers:
      branches: ["feature/*"]
      paths: ["services/api/*"]
      paths_ignore: ["*.md"]
""",
    templates=TEMPLATES.keys(),
)
REPO = Repo("github", "acme/app", "http://forge/acme/app.git")
SHA = "abcdef0" + "1" * 33


def push(ref: str, changed: tuple[str, ...] | None = None) -> Event:
    return Event(EventKind.PUSH, REPO, ref, SHA, "octocat", "d1", changed_paths=changed)


def test_a_branch_push_plans_the_builds_whose_globs_match() -> None:
    (spec,) = plan(push("refs/heads/feature/login"), CONFIG, TEMPLATES, builder_registry="reg:5000")
    assert spec.name == "api"
    assert spec.outputs == ["127.0.0.1:5000/acme/api:edge", "127.0.0.1:5000/acme/api:abcdef0"]
    assert spec.builder_image == "reg:5000/s2i-bot/go:latest"
    assert spec.runtime is not None and spec.runtime.image == "reg:5000/s2i-bot/go-runtime:latest"
    assert spec.source.sha == SHA and spec.source.context_dir == "services/api"
    assert spec.incremental is False


def test_the_default_branch_tag_is_the_branch_and_env_merges_over_the_template() -> None:
    (spec,) = plan(push("refs/heads/main"), CONFIG, TEMPLATES)
    assert spec.output == "127.0.0.1:5000/acme/web:main"
    assert spec.env == {"CGO_ENABLED": "0", "GO_MAIN_PACKAGE": "./cmd/web"}
    assert spec.incremental is True


def test_a_tag_push_is_tagged_with_the_version() -> None:
    event = Event(EventKind.TAG, REPO, "refs/tags/v1.2.3", SHA, "octocat", "d2")
    (spec,) = plan(event, CONFIG, TEMPLATES)
    assert spec.output == "127.0.0.1:5000/acme/web:1.2.3"


def test_a_pull_request_builds_its_head_into_a_pr_tag() -> None:
    pull = PullRequest(42, SHA, "fix", "main", "mallory", True, fetch_ref="refs/pull/42/head")
    event = Event(
        EventKind.PULL_REQUEST, REPO, "refs/pull/42/head", SHA, "mallory", "d3", pull=pull
    )
    (spec,) = plan(event, CONFIG, TEMPLATES)
    assert spec.outputs == ["127.0.0.1:5000/acme/web:pr-42"]
    assert spec.source.ref == "refs/pull/42/head"
    other_base = Event(
        EventKind.PULL_REQUEST, REPO, "refs/pull/43/head", SHA, "x", "d4",
        pull=PullRequest(43, SHA, "fix", "develop", "x", False),
    )  # fmt: skip
    assert plan(other_base, CONFIG, TEMPLATES) == []


def test_paths_filter_builds_by_the_files_a_push_changed() -> None:
    ref = "refs/heads/feature/x"
    assert plan(push(ref, ("README.md", "web/main.go")), CONFIG, TEMPLATES) == []
    assert plan(push(ref, ("services/api/README.md",)), CONFIG, TEMPLATES) == []
    assert len(plan(push(ref, ("services/api/main.go",)), CONFIG, TEMPLATES)) == 1
    assert len(plan(push(ref, None), CONFIG, TEMPLATES)) == 1  # unknown: build


def test_names_restrict_the_plan() -> None:
    assert plan(push("refs/heads/main"), CONFIG, TEMPLATES, names={"api"}) == []


def test_a_runtime_override_without_artifacts_needs_the_templates() -> None:
    config = parse_repo_config(
        "builds:\n  - {name: a, template: python, image: r/a, runtime: {image: slim},"
        " triggers: {branches: [main]}}\n",
        templates=TEMPLATES.keys(),
    )
    with pytest.raises(PlanError, match="needs 'artifacts'"):
        plan(push("refs/heads/main"), config, TEMPLATES)


def test_image_helpers() -> None:
    assert image_tag("feature/Login#2") == "feature-Login-2"
    assert resolve_image("quay.io/x/y", "reg:5000") == "quay.io/x/y"
    assert resolve_image("x/y", None) == "x/y"


def test_a_pull_requests_statuses_name_its_head_branch_unless_it_comes_from_a_fork() -> None:
    def pull_event(from_fork: bool) -> Event:
        ref = "refs/merge-requests/7/head"
        pull = PullRequest(7, SHA, "fix/login", "main", "alice", from_fork, fetch_ref=ref)
        return Event(EventKind.PULL_REQUEST, REPO, ref, SHA, "alice", "d5", pull=pull)

    (same_repo,) = plan(pull_event(from_fork=False), CONFIG, TEMPLATES)
    assert (same_repo.status_ref, same_repo.source.ref) == (
        "fix/login",
        "refs/merge-requests/7/head",
    )
    (fork,) = plan(pull_event(from_fork=True), CONFIG, TEMPLATES)
    assert fork.status_ref == ""  # the fork's branch is not one of this repository's
    (branch,) = plan(push("refs/heads/main"), CONFIG, TEMPLATES)
    assert branch.status_ref == ""
