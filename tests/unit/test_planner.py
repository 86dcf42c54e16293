from bot.events import Event, EventKind, Repo
from bot.planner import image_tag, plan, resolve_image, split_image
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
    )
}
CONFIG = parse_repo_config(
    """\
builds:
  - {name: web, template: go, image: 127.0.0.1:5000/acme/web, branches: [main]}
  - {name: api, template: go, image: 127.0.0.1:5000/acme/api:edge, branches: ["feature/*"]}
""",
    templates=TEMPLATES.keys(),
)
REPO = Repo("github", "acme/app", "http://forge/acme/app.git")


def push(ref: str) -> Event:
    return Event(EventKind.PUSH, REPO, ref, "a" * 40, "octocat", "d1")


def test_a_push_plans_the_builds_whose_branch_globs_match() -> None:
    (spec,) = plan(push("refs/heads/feature/login"), CONFIG, TEMPLATES, builder_registry="reg:5000")
    assert spec.name == "api"
    assert spec.output == "127.0.0.1:5000/acme/api:edge"
    assert spec.builder_image == "reg:5000/s2i-bot/go:latest"
    assert spec.runtime is not None and spec.runtime.image == "reg:5000/s2i-bot/go-runtime:latest"
    assert spec.source.sha == "a" * 40 and spec.source.git_url == REPO.clone_url
    assert spec.env == {"CGO_ENABLED": "0"}


def test_an_image_without_a_tag_is_tagged_with_the_branch() -> None:
    (spec,) = plan(push("refs/heads/main"), CONFIG, TEMPLATES)
    assert spec.output == "127.0.0.1:5000/acme/web:main"
    assert spec.builder_image == "s2i-bot/go:latest"


def test_no_build_for_an_unmatched_branch_or_a_tag() -> None:
    assert plan(push("refs/heads/develop"), CONFIG, TEMPLATES) == []
    tag = Event(EventKind.TAG, REPO, "refs/tags/v1", "a" * 40, "octocat", "d2")
    assert plan(tag, CONFIG, TEMPLATES) == []


def test_image_helpers() -> None:
    assert split_image("host:5000/a/b") == ("host:5000/a/b", None)
    assert split_image("host:5000/a/b:v1") == ("host:5000/a/b", "v1")
    assert image_tag("feature/Login#2") == "feature-Login-2"
    assert resolve_image("quay.io/x/y", "reg:5000") == "quay.io/x/y"
    assert resolve_image("x/y", None) == "x/y"
