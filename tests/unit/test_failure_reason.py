"""The failure reason of real failing builds (tests/unit/data/failures/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.failure_reason import MAX_MESSAGE, Diagnostic, FailureSpotter, positioned

DATA = Path(__file__).parent / "data" / "failures"


def spotted(name: str) -> FailureSpotter:
    spotter = FailureSpotter()
    for line in (DATA / name).read_text().splitlines():
        spotter.feed(line)
    return spotter


@pytest.mark.parametrize(
    ("log", "reason"),
    [
        ("go-compile-docker.log", "assemble failed: main.go:24:7: undefined: fmt.NopeFprintln"),
        ("go-compile-buildah.log", "assemble failed: main.go:24:7: undefined: fmt.NopeFprintln"),
        (
            "python-pip-docker.log",
            "assemble failed: Could not find a version that satisfies the requirement "
            "nosuchpackage-s2ibot-zz==9.9.9 (from versions: none)",
        ),
        (
            "python-deps-docker.log",
            "assemble-dependencies failed: Could not find a version that satisfies the "
            "requirement nosuchpackage-s2ibot-zz==9.9.9 (from versions: none)",
        ),
        (
            "node-npm-docker.log",
            "assemble failed: 404 Not Found - GET https://registry.npmjs.org/nosuchpackage-s2ibot-zz",
        ),
        (
            "node-script-docker.log",
            "assemble failed: Error: Cannot find module '/opt/app-root/src/build.js'",
        ),
        (
            "java-compile-docker.log",
            "assemble failed: src/main/java/hello/Main.java:26:15: cannot find symbol",
        ),
    ],
)
def test_the_reason_names_the_script_and_the_tools_first_error(log: str, reason: str) -> None:
    assert spotted(log).reason() == reason


def test_errors_with_a_position_become_diagnostics_relative_to_the_source_tree() -> None:
    assert spotted("go-compile-docker.log").diagnostics == [
        Diagnostic("main.go", 24, 7, "undefined: fmt.NopeFprintln")
    ]
    java = spotted("java-compile-docker.log").diagnostics
    # Maven prints the compiler's error twice (the summary and the goal's failure).
    assert set(java) == {Diagnostic("src/main/java/hello/Main.java", 26, 15, "cannot find symbol")}


def test_a_python_traceback_gives_the_exception_at_the_innermost_frame() -> None:
    spotter = spotted("python-traceback.log")
    message = "FileNotFoundError: [Errno 2] No such file or directory: 'settings.json'"
    assert spotter.reason() == f"the build failed: manage.py:4: {message}"
    assert spotter.diagnostics == [Diagnostic("manage.py", 4, None, message)]


def test_a_failure_the_output_does_not_explain_has_no_reason() -> None:
    spotter = FailureSpotter()
    for line in [
        "Step 5/6 : RUN /usr/libexec/s2i/assemble",
        "---> Building",
        "The command '/bin/sh -c /usr/libexec/s2i/assemble' returned a non-zero code: 2",
    ]:
        spotter.feed(line)
    assert spotter.script == "assemble"
    assert spotter.reason() is None


def test_errors_of_earlier_steps_do_not_count_for_the_failing_one() -> None:
    spotter = FailureSpotter()
    for line in [
        "Step 5/7 : RUN /usr/libexec/s2i/assemble",
        "ERROR: a warning pip recovered from",
        "Step 6/7 : RUN /usr/libexec/s2i/save-artifacts",
        "error: tar: cannot open",
    ]:
        spotter.feed(line)
    assert spotter.reason() == "save-artifacts failed: tar: cannot open"


@pytest.mark.parametrize(
    ("line", "diagnostic"),
    [
        ("src/index.ts(3,7): error TS2322: Type 'string' is not assignable",
         Diagnostic("src/index.ts", 3, 7, "error TS2322: Type 'string' is not assignable")),
        ("src/index.ts:3:7 - error TS2322: Type 'string'",
         Diagnostic("src/index.ts", 3, 7, "error TS2322: Type 'string'")),
        ("/tmp/src/App.java:12: error: ';' expected",
         Diagnostic("App.java", 12, None, "error: ';' expected")),
        ("/opt/app-root/src/lib/a.js:1:5: Parsing error: Unexpected token",
         Diagnostic("lib/a.js", 1, 5, "Parsing error: Unexpected token")),
    ],
)  # fmt: skip
def test_the_positions_other_tools_print(line: str, diagnostic: Diagnostic) -> None:
    assert positioned(line) == diagnostic


@pytest.mark.parametrize(
    "line",
    [
        "node:internal/modules/cjs/loader:1143",
        "    at Module._load (node:internal/modules/cjs/loader:981:27)",
        "Sending build context to Docker daemon  82.94kB",
        "Step 5/11 : RUN /usr/libexec/s2i/assemble",
    ],
)
def test_lines_that_only_look_like_positions_are_not_diagnostics(line: str) -> None:
    assert positioned(line) is None


def test_a_long_error_line_is_clipped() -> None:
    spotter = FailureSpotter()
    spotter.feed("Step 5/6 : RUN /usr/libexec/s2i/assemble")
    spotter.feed("ERROR: " + "x" * 5000)
    reason = spotter.reason()
    assert reason is not None
    assert reason.startswith("assemble failed: xxx")
    assert len(reason) == len("assemble failed: ") + MAX_MESSAGE
