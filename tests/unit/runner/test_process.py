import io

from bot.runner.process import BuildLog, run_step


def test_the_log_masks_secrets_and_strips_ansi_colours() -> None:
    out = io.StringIO()
    log = BuildLog(out, secrets=["hunter2"])
    log.line("\x1b[91m./main.go:21:22: undefined: greet.Helo\x1b[0m password=hunter2")
    assert out.getvalue() == "./main.go:21:22: undefined: greet.Helo password=***\n"


def test_a_step_streams_its_output_and_keeps_the_tail() -> None:
    out = io.StringIO()
    log = BuildLog(out, secrets=["s3cret"])
    result = run_step(["sh", "-c", "echo one; echo s3cret >&2; exit 3"], log, echo=False)
    assert not result.ok and result.returncode == 3
    assert result.tail == ("one", "***")
    assert out.getvalue() == "one\n***\n"
