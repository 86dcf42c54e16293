"""bot/commit_status.py: a Build becomes the commit status the forge shows."""

from __future__ import annotations

from bot.build_record import Build, BuildState
from bot.build_spec import BuildSpec, SourceSpec
from bot.commit_status import status_for
from bot.forges.base import StatusState

SHA = "c0ffee" + "0" * 34


def build(ref: str, status_ref: str = "", state: BuildState = BuildState.RUNNING) -> Build:
    source = SourceSpec(git_url="http://forge/acme/app.git", sha=SHA, ref=ref)
    spec = BuildSpec(
        name="web", repo="acme/app", forge="gitlab", source=source, template="go",
        builder_image="s2i-bot/go", image="registry/acme/app", tags=("main",),
        status_ref=status_ref,
    )  # fmt: skip
    return Build(
        7, "d1", "web", "gitlab", "acme/app", SHA, spec, state, "", None, None, key="k3Y_-x"
    )


def test_a_status_names_the_branch_or_tag_built() -> None:
    status = status_for(build("refs/heads/feature/x"), "http://bot")
    assert (status.ref, status.state, status.context) == (
        "feature/x",
        StatusState.RUNNING,
        "s2i/web",
    )
    assert status.target_url == "http://bot/builds/k3Y_-x"  # the page, by key, never the id
    assert status_for(build("refs/tags/v1.0.0"), "http://bot").ref == "v1.0.0"


def test_a_pull_requests_status_names_its_head_branch_not_the_ref_fetched() -> None:
    mr = build("refs/merge-requests/3/head", status_ref="fix/login")
    assert status_for(mr, "http://bot").ref == "fix/login"
    # A fork's MR (and a spec stored before status_ref existed) keeps the ref fetched.
    assert status_for(build("refs/merge-requests/3/head"), "http://bot").ref == (
        "refs/merge-requests/3/head"
    )
