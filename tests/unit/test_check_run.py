"""bot/check_run.py: a Build (and its log) becomes the check run GitHub shows."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from bot.build_record import Build, BuildState
from bot.build_spec import BuildSpec, SourceSpec
from bot.check_run import (
    MAX_ANNOTATIONS,
    SUMMARY_MAX,
    annotations_from,
    check_run_for,
    chunks,
    repository_path,
    step_timings,
)
from bot.forges.base import Annotation, CheckConclusion

SHA = "c0ffee" + "0" * 34
KEY = "k3Y_-xk3Y_-xk3Y_-x"
DIGEST = "sha256:" + "ab" * 32
FAILURES = Path(__file__).parent / "data" / "failures"
GO_REASON = "assemble failed: main.go:24:7: undefined: fmt.NopeFprintln"
CREATED = datetime(2026, 11, 30, 12, 0, 0)
STARTED = datetime(2026, 11, 30, 12, 0, 2)
FINISHED = datetime(2026, 11, 30, 12, 0, 14)


def build(
    state: BuildState, *, reason: str = "", context: str = "", digest: str | None = None,
    size: int | None = None,
) -> Build:  # fmt: skip
    source = SourceSpec(git_url="http://forge/acme/app.git", sha=SHA, ref="refs/heads/main",
                        context_dir=context)  # fmt: skip
    spec = BuildSpec(
        name="web", repo="acme/app", forge="github", source=source, template="go",
        builder_image="s2i-bot/go", image="registry/acme/app", tags=("main",),
    )  # fmt: skip
    finished = FINISHED if state.finished else None
    started = STARTED if state is not BuildState.QUEUED else None
    return Build(
        7, "d1", "web", "github", "acme/app", SHA, spec, state, reason, digest, size,
        key=KEY, created_at=CREATED, started_at=started, finished_at=finished,
    )  # fmt: skip


def test_a_waiting_build_is_queued_and_a_running_one_in_progress_linking_its_page() -> None:
    queued = check_run_for(build(BuildState.QUEUED), "http://bot")
    assert (queued.name, queued.head_sha, queued.status, queued.title) == (
        "s2i/web", SHA, "queued", "Queued",
    )  # fmt: skip
    assert (queued.details_url, queued.external_id) == (f"http://bot/builds/{KEY}", KEY)
    assert queued.conclusion is None and queued.started_at is None
    running = check_run_for(build(BuildState.RUNNING), "http://bot")
    assert (running.status, running.started_at) == ("in_progress", STARTED)
    assert f"[build page](http://bot/builds/{KEY})" in running.summary
    assert "`registry/acme/app:main`" in running.summary


SUCCESS_LOG = """\
==> fetch acme/app at c0ffee000000
<== fetch acme/app at c0ffee000000: done in 1.2s
==> s2i build --as-dockerfile
<== s2i build --as-dockerfile: done in 0.4s
==> build registry/acme/app:main with docker
<== build registry/acme/app:main with docker: done in 9.8s
==> push registry/acme/app:main
<== push registry/acme/app:main: done in 0.7s
"""


def test_a_succeeded_build_shows_its_image_digest_size_pull_line_and_timings() -> None:
    done = build(BuildState.SUCCEEDED, digest=DIGEST, size=12_345_678)
    run = check_run_for(done, "http://bot", SUCCESS_LOG)
    assert (run.status, run.conclusion, run.completed_at) == (
        "completed", CheckConclusion.SUCCESS, FINISHED,
    )  # fmt: skip
    assert run.title == f"{DIGEST} (12.3 MB)" and run.annotations == ()
    summary = run.summary
    assert "| image | `registry/acme/app:main` |" in summary
    assert f"| digest | `{DIGEST}` |" in summary and "| size | 12.3 MB |" in summary
    assert f"```\ndocker pull registry/acme/app@{DIGEST}\n```" in summary
    assert "| queued | 2.0 s |" in summary and "| **total** | 12.0 s |" in summary
    assert "| `fetch acme/app at c0ffee000000` | 1.2 s |" in summary
    assert "| `push registry/acme/app:main` | 0.7 s |" in summary
    assert "The last" not in summary  # no log tail for a success
    assert [s for s, _, _ in step_timings(SUCCESS_LOG)] == [
        "fetch acme/app at c0ffee000000", "s2i build --as-dockerfile",
        "build registry/acme/app:main with docker", "push registry/acme/app:main",
    ]  # fmt: skip


def go_log() -> str:
    return (FAILURES / "go-compile-docker.log").read_text() + f"BUILD FAILED: {GO_REASON}\n"


def test_a_failed_build_gives_its_reason_the_log_tail_and_annotations_under_the_context_dir() -> (
    None
):
    run = check_run_for(build(BuildState.FAILED, reason=GO_REASON, context="services/api"),
                        "http://bot", go_log())  # fmt: skip
    assert (run.conclusion, run.title) == (CheckConclusion.FAILURE, GO_REASON)
    assert run.annotations == (
        Annotation(
            "services/api/main.go", 24, 24, "undefined: fmt.NopeFprintln",
            "services/api/main.go:24", 7,
        ),
    )  # fmt: skip
    assert f"**Why:** `{GO_REASON}`" in run.summary
    assert "The last 30 lines of the log:\n\n```text\n" in run.summary
    assert run.summary.endswith(f"BUILD FAILED: {GO_REASON}\n```\n")
    assert "| `build 127.0.0.1:5000/failures/go-compile:main with docker` | 3.0 s (failed) |" in (
        run.summary
    )


def test_a_log_line_cannot_close_the_fence_of_the_tail() -> None:
    log = "Step 1/2 : RUN /usr/libexec/s2i/assemble\n```\n[evil](http://x) ````` @someone\n"
    run = check_run_for(build(BuildState.FAILED, reason="boom"), "http://bot", log)
    fenced = "``````text\nStep 1/2 : RUN /usr/libexec/s2i/assemble\n```\n[evil](http://x) ````` "
    assert fenced + "@someone\n``````\n" in run.summary


def test_cancelled_timed_out_and_errored_builds_conclude_so() -> None:
    cancelled = check_run_for(build(BuildState.CANCELLED, reason="superseded by abc1234"), "u")
    assert (cancelled.conclusion, cancelled.title) == (
        CheckConclusion.CANCELLED, "superseded by abc1234",
    )  # fmt: skip
    late = check_run_for(build(BuildState.FAILED, reason="timed out after 60 s"), "u", "x\n")
    assert late.conclusion is CheckConclusion.TIMED_OUT
    error = check_run_for(build(BuildState.ERROR, reason="registry down"), "u", "x\n")
    assert (error.conclusion, error.title) == (CheckConclusion.FAILURE, "error: registry down")
    assert error.annotations == ()  # the user's code is not at fault


def test_paths_outside_the_repository_get_no_annotation() -> None:
    assert repository_path("main.go", "") == "main.go"
    assert repository_path("cmd/x.go", "services/api/") == "services/api/cmd/x.go"
    assert repository_path("../api/x.go", "services/web") == "services/api/x.go"
    assert repository_path("../../../etc/passwd", "services/web") is None
    assert repository_path("/usr/lib/python3.11/json/decoder.py", "") is None
    assert repository_path("", "services") is None


def test_a_python_traceback_is_annotated_at_the_scripts_frame() -> None:
    log = (FAILURES / "python-traceback.log").read_text()
    (annotation,) = annotations_from(log, "backend")
    assert (annotation.path, annotation.start_line, annotation.start_column) == (
        "backend/manage.py", 4, None,
    )  # fmt: skip
    assert annotation.message.startswith("FileNotFoundError: [Errno 2]")


def test_maven_errors_said_twice_are_annotated_once() -> None:
    annotations = annotations_from((FAILURES / "java-compile-docker.log").read_text())
    assert [(a.path, a.start_line) for a in annotations] == [("src/main/java/hello/Main.java", 26)]


def test_annotations_are_bounded_and_go_fifty_a_request() -> None:
    log = "\n".join(f"./f{i}.go:{i + 1}:1: undefined: x{i}" for i in range(MAX_ANNOTATIONS + 30))
    annotations = annotations_from(log)
    assert len(annotations) == MAX_ANNOTATIONS
    assert [len(c) for c in chunks(annotations)] == [50, 50, 50, 50]
    assert [len(c) for c in chunks(annotations[:120])] == [50, 50, 20]


def test_the_tail_cuts_very_long_lines_so_the_summary_stays_within_githubs_limit() -> None:
    log = "\n".join("x" * 5000 + str(i) for i in range(400))
    run = check_run_for(build(BuildState.FAILED, reason="boom"), "http://bot", log)
    assert len(run.summary) <= SUMMARY_MAX
    tail = run.summary.split("```text\n")[1].removesuffix("\n```\n").split("\n")
    assert len(tail) == 30 and all(len(line) == 400 and line.endswith("…") for line in tail)


def test_javac_and_tsc_errors_are_annotated_with_their_lines_and_columns() -> None:
    log = (
        "STEP 5/6: RUN /usr/libexec/s2i/assemble\n"
        "src/main/java/hello/Main.java:26: error: cannot find symbol\n"
        "src/index.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.\n"
        "/opt/app-root/src/web/app.js:4:10: 'x' is not defined  no-undef\n"
    )
    found = [(a.path, a.start_line, a.start_column) for a in annotations_from(log, "ui")]
    assert found == [
        ("ui/src/main/java/hello/Main.java", 26, None), ("ui/src/index.ts", 3, 7),
        ("ui/web/app.js", 4, 10),
    ]  # fmt: skip
