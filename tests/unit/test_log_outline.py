"""A build log's outline (bot/log_outline.py): the runner's steps and timings from its
`==>` / `<==` lines, and the line a failure is on."""

from __future__ import annotations

from bot.log_outline import log_lines, outline

LOG = [
    "build web of acme/app@0123 queued",
    "==> fetch acme/app at 0123456789ab",
    "<== fetch acme/app at 0123456789ab: done in 0.6s",
    "==> s2i build --as-dockerfile",
    "<== s2i build --as-dockerfile: done in 0.3s",
    "==> add runtime stage from go-runtime",
    "<== add runtime stage from go-runtime: done in 0.0s",
    "==> build 127.0.0.1:5000/acme/app:main with docker",
    "Step 5/11 : RUN /usr/libexec/s2i/assemble",
    "error: this is not the reason yet",
    "\x1b[31m./main.go:24:7: undefined: fmt.Nope\x1b[0m",
    "./main.go:25:1: a second error",
    "The command '/bin/sh -c /usr/libexec/s2i/assemble' returned a non-zero code: 1",
    "<== build 127.0.0.1:5000/acme/app:main with docker: failed in 3.2s",
    "BUILD FAILED: assemble failed: main.go:24:7: undefined: fmt.Nope",
]


def test_steps_have_their_lines_states_and_timings_summed_by_phase() -> None:
    found = outline(LOG, failed=True)
    assert [(s.kind, s.first_line, s.last_line, s.state) for s in found.steps] == [
        ("fetch", 2, 3, "done"), ("s2i", 4, 5, "done"), ("s2i", 6, 7, "done"),
        ("build", 8, 14, "failed"),
    ]  # fmt: skip
    assert found.seconds_by_kind() == {"fetch": 0.6, "s2i": 0.3, "build": 3.2}
    assert found.failed_step is not None and found.failed_step.kind == "build"


def test_the_failure_line_is_the_first_positioned_error_the_reason_quotes() -> None:
    assert outline(LOG, failed=True).failure_line == 11
    assert outline(LOG, failed=False).failure_line is None


def test_without_a_tools_error_the_failure_line_is_the_runners_verdict() -> None:
    log = [
        "==> push x",
        "<== push x: failed in 1.0s",
        "BUILD ERROR: the registry refused the login",
    ]
    assert outline(log, failed=True).failure_line == 3


def test_a_running_step_has_no_end_yet() -> None:
    (step,) = outline(["==> push registry/app:main", "pushing"], failed=False).steps
    assert (step.kind, step.state, step.last_line, step.seconds) == ("push", "running", None, None)


def test_a_live_reader_sees_only_whole_lines() -> None:
    assert log_lines("a\nb\npart", complete_only=True) == ["a", "b"]
    assert log_lines("a\nb\npart") == ["a", "b", "part"]
    assert log_lines("a\n") == ["a"] and log_lines("") == []


def test_a_step_that_never_ended_in_a_finished_build_is_unfinished() -> None:
    log = ["==> push registry/app:main", "CANCELLED: a newer push"]
    (step,) = outline(log, failed=False, finished=True).steps
    assert step.state == "unfinished"
