import io

from bot.runner.process import BuildLog, run_step


def test_the_log_keeps_colours_for_the_build_page_and_masks_secrets_escapes_would_split() -> None:
    out = io.StringIO()
    log = BuildLog(out, secrets=["hunter2"])
    log.line("\x1b[91m./main.go:21:22: undefined: greet.Helo\x1b[0m\x1b[2K")
    log.line("\x1b[91mpassword=hunter2\x1b[0m")
    log.line("\x1b[1mhun\x1b[0mter2 is split by an escape")
    assert out.getvalue().split("\n") == [
        "\x1b[91m./main.go:21:22: undefined: greet.Helo\x1b[0m",  # colours kept, the rest gone
        "password=***",
        "*** is split by an escape",
        "",
    ]
    assert log.mask("\x1b[91m./main.go:21:22: undefined\x1b[0m") == "./main.go:21:22: undefined"


def test_a_coloured_step_keeps_its_colours_in_the_log_and_gives_plain_lines_to_its_tail() -> None:
    out = io.StringIO()
    log, seen = BuildLog(out), list[str]()
    result = run_step(
        ["printf", "\\033[31merror: boom\\033[0m\\n"], log, echo=False, watch=seen.append
    )
    assert out.getvalue() == "\x1b[31merror: boom\x1b[0m\n"
    assert result.tail == ("error: boom",) and seen == ["error: boom"]


def test_a_step_streams_its_output_and_keeps_the_tail() -> None:
    out = io.StringIO()
    log = BuildLog(out, secrets=["s3cret"])
    result = run_step(["sh", "-c", "echo one; echo s3cret >&2; exit 3"], log, echo=False)
    assert not result.ok and result.returncode == 3
    assert result.tail == ("one", "***")
    assert out.getvalue() == "one\n***\n"


def test_a_sibling_log_masks_what_its_log_masks() -> None:
    log = BuildLog(io.StringIO(), secrets=["hunter2"])
    out = io.StringIO()
    log.sibling(out).line("login hunter2")
    assert out.getvalue() == "login ***\n"
