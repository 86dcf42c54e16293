"""The image policy (bot/image_policy.py, pure): where a build may push and what it may pull."""

from __future__ import annotations

import pytest

from bot.build_spec import BuildSpec, SourceSpec
from bot.events import Event, EventKind, Repo
from bot.image_policy import (
    ImagePolicy,
    ImagePolicyError,
    before_build,
    covers,
    pulled_images,
    repository,
)
from bot.planner import PlanError, plan
from bot.repo_config import RepoConfig, parse_repo_config
from bot.templates import Artifact, RuntimeStage, Template

REGISTRY = "127.0.0.1:5000"
POLICY = ImagePolicy.build(
    registries=[REGISTRY, "https://Registry.Example.com/v1/"],
    push={"acme/*": ["registry.example.com/acme/shared"], "platform/base": ["r.io/base"]},
    builder_registry=REGISTRY,
    protected={
        f"{REGISTRY}/s2i-bot/go:latest": "builder image of template 'go'",
        "r.io/base/runner:1": "the runner image, kubernetes.runner_image",
    },
)


def spec(
    image: str, *, repo: str = "acme/web", runtime: str | None = None, **more: object
) -> BuildSpec:
    source = SourceSpec(git_url="http://forge/x.git", sha="f" * 40, ref="refs/heads/main")
    stage = RuntimeStage(image=runtime, artifacts=(Artifact("/a", "/b"),)) if runtime else None
    return BuildSpec(
        name="web", repo=repo, forge="github", source=source, template="go",
        builder_image=f"{REGISTRY}/s2i-bot/go:latest", runtime=stage, image=image,
        tags=("main",), **more,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.mark.parametrize(
    ("image", "repo"),
    [
        ("127.0.0.1:5000/s2i-bot/go:latest", "127.0.0.1:5000/s2i-bot/go"),
        ("Registry.Example.com/acme/web@sha256:" + "a" * 64, "registry.example.com/acme/web"),
        ("localhost:5000/a/b:v1.2", "localhost:5000/a/b"),
        ("debian:bookworm", "docker.io/library/debian"),
        ("acme/web", "docker.io/acme/web"),
        ("index.docker.io/acme/web", "docker.io/acme/web"),
    ],
)
def test_an_image_reference_names_its_repository_with_the_registry(image: str, repo: str) -> None:
    assert repository(image) == repo


@pytest.mark.parametrize("image", ["r.io/a/../b", "r.io//a", "r.io/a/", "", "r.io/a b", "r.io/-a"])
def test_what_is_not_an_image_reference_is_refused(image: str) -> None:
    with pytest.raises(ValueError, match="is not an image reference"):
        repository(image)


def test_a_grant_covers_its_repository_and_below_never_a_sibling() -> None:
    assert covers("r/acme/web", "r/acme/web") and covers("r/acme/web", "r/acme/web/api")
    assert not covers("r/acme/web", "r/acme/webapp") and not covers("r/acme/web", "r/acme")


@pytest.mark.parametrize(
    "image",
    [
        f"{REGISTRY}/acme/web",
        f"{REGISTRY}/acme/web/api",
        "registry.example.com/acme/web",
        "registry.example.com/acme/shared/tool",  # image_policy.push['acme/*']
    ],
)
def test_a_repository_pushes_below_its_own_name_on_each_registry_and_its_grants(
    image: str,
) -> None:
    checked = POLICY.check(spec(image))
    assert checked.images is not None and checked.images.repo == "acme/web"


def test_pushing_to_another_repositorys_image_names_the_rule() -> None:
    with pytest.raises(ImagePolicyError) as caught:
        POLICY.check(spec(f"{REGISTRY}/acme/other"))
    (problem,) = caught.value.problems
    assert problem == (
        f"{REGISTRY}/acme/other is not in the push grants of acme/web (image_policy: "
        f"default <registry>/<owner>/<repo>: {REGISTRY}/acme/web, registry.example.com/acme/web; "
        "image_policy.push['acme/*']: registry.example.com/acme/shared)"
    )


@pytest.mark.parametrize(
    ("repo", "image", "why"),
    [
        # A forge repository called s2i-bot/go would be granted its own name by default.
        ("s2i-bot/go", f"{REGISTRY}/s2i-bot/go", "builder image of template 'go'"),
        ("s2i-bot/static", f"{REGISTRY}/s2i-bot/static", "image_policy.pull: builds start"),
        ("platform/base", "r.io/base/runner", "the runner image, kubernetes.runner_image"),
    ],
)
def test_builder_runtime_and_runner_images_are_protected_whatever_the_grants(
    repo: str, image: str, why: str
) -> None:
    with pytest.raises(ImagePolicyError, match=f"{image} is protected \\({why}"):
        POLICY.check(spec(image, repo=repo))


def test_runtime_images_come_only_from_the_pull_allow_list() -> None:
    assert POLICY.check(spec(f"{REGISTRY}/acme/web", runtime=f"{REGISTRY}/s2i-bot/go-runtime"))
    with pytest.raises(ImagePolicyError) as caught:
        POLICY.check(spec(f"{REGISTRY}/acme/web", runtime="evil/miner:latest"))
    assert caught.value.problems == [
        f"runtime image docker.io/evil/miner is not in image_policy.pull ({REGISTRY}/s2i-bot)"
    ]


def test_the_default_pull_list_is_the_builder_registrys_s2i_bot_or_docker_hubs() -> None:
    assert POLICY.pull == (f"{REGISTRY}/s2i-bot",)
    assert ImagePolicy.build(registries=[]).pull == ("docker.io/s2i-bot",)


def test_without_configured_registries_nothing_may_be_pushed() -> None:
    with pytest.raises(ImagePolicyError, match="image_policy: none"):
        ImagePolicy.build(registries=[]).check(spec(f"{REGISTRY}/acme/web"))


def test_the_default_grant_can_be_turned_off() -> None:
    policy = ImagePolicy.build(registries=[REGISTRY], default_push=False)
    with pytest.raises(ImagePolicyError, match="not in the push grants"):
        policy.check(spec(f"{REGISTRY}/acme/web"))


def test_a_setting_that_is_not_an_image_repository_names_the_setting() -> None:
    with pytest.raises(ValueError, match=r"image_policy.push\['acme/\*'\]: 'r.io/A B'"):
        ImagePolicy.build(registries=[], push={"acme/*": ["r.io/A B"]})


def test_the_dockerfile_pulls_each_from_and_copy_from_that_is_no_stage() -> None:
    dockerfile = (
        "FROM r.io/app:main-s2i-cache as cached\nRUN true\n"
        "FROM --platform=linux/amd64 127.0.0.1:5000/s2i-bot/go:latest AS s2i-build\n"
        "COPY --from=cached /x /y\n"
        "FROM s2i-build\n"
        "COPY \\\n  --from=evil/tools:1 /bin/x /x\n"
        "COPY --from=0 /a /b\n"
        "# FROM commented/out\n"
    )
    assert pulled_images(dockerfile) == [
        "r.io/app:main-s2i-cache", "127.0.0.1:5000/s2i-bot/go:latest", "evil/tools:1",
    ]  # fmt: skip


def test_the_runner_refuses_a_dockerfile_that_pulls_or_pushes_outside_the_grants() -> None:
    checked = POLICY.check(spec(f"{REGISTRY}/acme/web", incremental=True))
    fine = f"FROM {REGISTRY}/acme/web:main as cached\nFROM {REGISTRY}/s2i-bot/go:latest\n"
    assert before_build(checked, fine) == []
    injected = fine + "FROM evil/base\n"
    assert before_build(checked, injected) == [
        f"FROM evil/base image docker.io/evil/base is not in image_policy.pull ({REGISTRY}/s2i-bot)"
    ]
    # The grants travel with the spec; a spec changed after planning is caught too.
    moved = checked.model_copy(update={"image": f"{REGISTRY}/s2i-bot/go"})
    assert before_build(moved, fine)[0].startswith(f"{REGISTRY}/s2i-bot/go is protected")


def test_a_build_by_hand_has_no_grants_and_the_runner_checks_nothing() -> None:
    assert before_build(spec("anything/at-all"), "FROM evil/base\n") == []


def test_the_planner_gives_each_build_its_grants_and_refuses_one_outside_them() -> None:
    templates = {"go": Template(name="go", builder="s2i-bot/go:latest")}
    event = Event(
        EventKind.PUSH, Repo("github", "acme/web", "http://forge/acme/web.git"),
        "refs/heads/main", "a" * 40, "octocat", "d1",
    )  # fmt: skip

    def config(image: str, extra: str = "") -> RepoConfig:
        text = (
            f"builds:\n  - name: web\n    template: go\n    image: {image}\n{extra}"
            "    triggers: {branches: [main]}\n"
        )
        return parse_repo_config(text, templates=templates.keys())

    ok = config(f"{REGISTRY}/acme/web/api", "    timeout: 5\n")
    (spec,) = plan(event, ok, templates, builder_registry=REGISTRY, image_policy=POLICY)
    assert spec.images == POLICY.grants_for("acme/web") and spec.timeout == 5
    with pytest.raises(PlanError, match=f"build 'web': {REGISTRY}/s2i-bot/go is protected"):
        plan(event, config(f"{REGISTRY}/s2i-bot/go"), templates, builder_registry=REGISTRY,
             image_policy=POLICY)  # fmt: skip


def test_a_grant_may_end_in_the_forge_repository() -> None:
    policy = ImagePolicy.build(
        registries=[], push={"*": ["registry.example.com/apps/{repo}"], "x/*": ["{repo}"]},
        builder_registry=REGISTRY,
    )  # fmt: skip
    grants = policy.grants_for("Acme/Web")
    assert [g.image for g in grants.push] == ["registry.example.com/apps/acme/web"]
    assert policy.check(spec("registry.example.com/apps/acme/web/api", repo="Acme/Web"))
    assert [g.image for g in policy.grants_for("x/y").push][-1] == "docker.io/x/y"
    with pytest.raises(ValueError, match="may only end a grant"):
        ImagePolicy.build(registries=[], push={"*": ["r.io/{repo}/x"]})
