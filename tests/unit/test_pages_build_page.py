"""The build page and badges, rendered pure (bot/pages/): what a build and its log become,
every value from the build or the log escaped, links to the forge made from the bot's own
git URL."""

from __future__ import annotations

from datetime import datetime

from bot.build_record import Build, BuildState
from bot.build_spec import BuildSpec, SourceSpec
from bot.pages.badge import badge_state, badge_svg
from bot.pages.build_page import build_page
from bot.pages.build_view import build_view

SHA = "c0ffee" + "0" * 34
XSS = '"><script>alert(1)</script>'


def build(
    forge: str = "github", ref: str = "refs/heads/main", state: BuildState = BuildState.FAILED,
    git_url: str = "https://forge.example/acme/app.git", pr: int | None = None,
    reason: str = "", digest: str | None = None,
) -> Build:  # fmt: skip
    source = SourceSpec(git_url=git_url, sha=SHA, ref=ref)
    spec = BuildSpec(
        name="web", repo="acme/app", forge=forge, source=source, template="go",
        builder_image="s2i-bot/go", image="registry/acme/app", tags=("main",),
    )  # fmt: skip
    return Build(
        7, "d1", "web", forge, "acme/app", SHA, spec, state, reason, digest, 2_000_000,
        ref_key=ref if pr is None else f"pr/{pr}", pr=pr, key="k3Y_-x",
        created_at=datetime(2026, 1, 1, 12, 0, 0), started_at=datetime(2026, 1, 1, 12, 0, 2),
        finished_at=datetime(2026, 1, 1, 12, 0, 9) if state.finished else None,
    )  # fmt: skip


LOG = ["==> build registry/acme/app:main with docker", "main.go:3:1: undefined: x",
       "<== build registry/acme/app:main with docker: failed in 4.0s"]  # fmt: skip


def test_the_page_escapes_the_branch_the_reason_and_the_log() -> None:
    b = build(ref=f"refs/heads/{XSS}", reason=f"assemble failed: {XSS}")
    page = build_page(build_view(b, [*LOG, XSS], "push", "http://bot"), [*LOG, XSS])
    assert XSS not in page and "<script>" not in page
    # The heading and the branch row, the reason, the log line: shown as text each time.
    assert page.count("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;") == 4
    # The branch's link is URL-quoted, then attribute-escaped.
    assert 'href="https://forge.example/acme/app/tree/%22%3E%3Cscript%3Ealert%281%29' in page


def test_a_failed_build_marks_its_step_and_line_and_links_to_it() -> None:
    view = build_view(build(), LOG, "push", "http://bot")
    page = build_page(view, LOG)
    assert '<span class="line failed-step" id="L1">' in page
    assert '<span class="line failed-step error-line" id="L2">' in page
    assert 'data-failure-line="2"' in page and '<a href="#L2" id="failure-link">line 2</a>' in page
    assert 'http-equiv="refresh"' not in page  # finished: nothing to reload for
    assert view.as_json()["timings"] == {"queue": 2.0, "build": 4.0, "total": 7.0}


def test_a_running_build_reloads_without_javascript_and_shows_no_pull_line_yet() -> None:
    b = build(state=BuildState.RUNNING)
    page = build_page(build_view(b, LOG[:1], "push", "http://bot"), LOG[:1])
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in page
    assert (
        'data-finished="false"' in page and 'data-lines="1"' in page and "docker pull" not in page
    )


def test_forge_links_follow_each_forges_paths() -> None:
    github = build_view(build(pr=12), [], "pull_request", "http://bot")
    assert github.commit_url == f"https://forge.example/acme/app/commit/{SHA}"
    assert github.ref_url == "https://forge.example/acme/app/pull/12"
    assert (github.ref_kind, github.ref_name, github.trigger) == (
        "pull request",
        "#12",
        "pull request",
    )
    gitlab = build_view(build(forge="gitlab", ref="refs/tags/v1.0"), [], "Tag Push Hook", "")
    assert gitlab.commit_url == f"https://forge.example/acme/app/-/commit/{SHA}"
    assert gitlab.ref_url == "https://forge.example/acme/app/-/tree/v1.0"
    assert (gitlab.ref_kind, gitlab.trigger) == ("tag", "tag")
    # Only http(s) URLs become links.
    local = build_view(build(git_url="file:///srv/repo.git"), [], None, "")
    assert local.commit_url is None and local.ref_url is None and local.trigger == "unknown"


def test_the_pull_command_names_the_image_by_digest() -> None:
    digest = "sha256:" + "a" * 64
    view = build_view(build(state=BuildState.SUCCEEDED, digest=digest), [], "push", "http://bot")
    assert view.pull_command == f"docker pull registry/acme/app@{digest}"
    assert view.as_json()["pull"] == view.pull_command and view.size_text == "2.0 MB"


def test_a_badge_says_the_newest_builds_state_a_cancelled_one_aside() -> None:
    def of(*states: BuildState) -> str:
        return badge_state([build(state=s) for s in states])

    assert of() == "unknown" and of(BuildState.CANCELLED) == "unknown"
    assert of(BuildState.RUNNING, BuildState.FAILED) == "building"
    assert of(BuildState.CANCELLED, BuildState.SUCCEEDED) == "passing"
    assert of(BuildState.ERROR, BuildState.SUCCEEDED) == "failing"
    svg = badge_svg('<name&"x">', "passing")
    assert "<name" not in svg and "&lt;name&amp;&quot;x&quot;&gt;" in svg and "#2ea44f" in svg


def test_a_listings_json_leaves_out_what_only_the_log_tells() -> None:
    view = build_view(build(), [], None, "http://bot")
    listed = view.as_json(with_log=False)
    assert not {"trigger", "steps", "failure_line"} & set(listed)
    assert listed["timings"] == {"queue": 2.0, "total": 7.0}
    assert listed["url"] == "http://bot/builds/k3Y_-x" and listed["state"] == "failed"


def test_a_config_failure_without_a_spec_still_has_a_page() -> None:
    # A broken .s2i.yaml is recorded as a build with no spec (nothing to build): no image, no
    # forge link (the git URL is the spec's), its reason and log still shown.
    b = Build(
        3, "d2", "config", "github", "acme/app", SHA, None, BuildState.FAILED,
        ".s2i.yaml is not valid", None, None, ref_key="refs/heads/main", key="k",
    )  # fmt: skip
    log = [".s2i.yaml at c0ffee is not valid:", "line 2: builds: expected a list"]
    view = build_view(b, log, "push", "http://bot")
    page = build_page(view, log)
    assert view.image is None and view.commit_url is None and view.ref_name == "main"
    assert ".s2i.yaml is not valid" in page and 'id="L2"' in page and "docker pull" not in page
    assert view.as_json()["ref"] == "refs/heads/main"
