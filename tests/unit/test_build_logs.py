"""Build logs are capped (bot/build_logs.py): a log never grows past max_log_bytes, says where
it was cut, and keeps the end of the output."""

from __future__ import annotations

from pathlib import Path

from bot.build_logs import CappedLog, LogStore, truncation_line
from bot.store import Store

CAP = 64 * 1024


def test_output_past_the_cap_is_cut_with_a_line_saying_so_and_its_end_is_kept(
    tmp_path: Path,
) -> None:
    path = tmp_path / "1.log"
    path.write_text("build web of acme/web queued\n")
    with CappedLog(path, CAP) as log:
        for i in range(20_000):  # about 600 KB of output, in pieces of every size
            log.write(f"line {i} of a build that prints too much\n".encode() * (1 + i % 3))
        log.write(b"BUILD FAILED: the last line\n")
        assert log.truncated
    text = path.read_text()
    assert path.stat().st_size <= CAP
    assert text.startswith("build web of acme/web queued\nline 0 of a build")
    assert text.count(truncation_line(CAP)) == 1
    head, tail = text.split(truncation_line(CAP))
    assert head.endswith("\n")  # cut on a whole line
    assert tail.startswith("--- the last ")
    assert tail.endswith(
        "line 19999 of a build that prints too much\nBUILD FAILED: the last line\n"
    )


def test_the_bots_own_lines_after_the_cut_still_fit_and_never_pass_the_cap(tmp_path: Path) -> None:
    logs = LogStore(Store(f"sqlite:///{tmp_path / 'db.sqlite'}"), tmp_path, max_bytes=CAP)
    logs.start(7)  # the build runs here: its output spooled, then shipped to the store
    with CappedLog(logs.path(7), CAP) as log:
        log.write(b"x" * (2 * CAP))
    logs.append(7, "CANCELLED: superseded by abc1234\n")
    assert str(logs.read(7)).endswith("CANCELLED: superseded by abc1234\n")

    # The bot's lines fill the room the cut left, to the byte, then find none. Each append is
    # a transaction of the store, a millisecond on a busy machine: the test appends until the
    # log is full and a hundred lines more, rather than a fixed ten thousand.
    def size() -> int:
        return len(str(logs.read(7)).encode())

    line = "more and more lines from the bot\n"
    for _ in range(CAP // len(line)):  # bounded: the whole cap's worth of lines
        if size() >= CAP:
            break
        logs.append(7, line)
    assert size() == CAP, "the bot's lines never filled the log to its cap"
    for _ in range(100):
        logs.append(7, line)
    logs.end(7)
    assert len(str(logs.read(7)).encode()) == CAP


def test_a_log_under_the_cap_is_written_as_it_comes(tmp_path: Path) -> None:
    path = tmp_path / "2.log"
    with CappedLog(path, CAP) as log:
        log.write(b"==> fetch\n")
        assert path.read_bytes() == b"==> fetch\n"  # readable while the build runs
        log.write(b"<== fetch: done\n")
    assert path.read_bytes() == b"==> fetch\n<== fetch: done\n"
