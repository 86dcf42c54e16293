"""Build logs: one plain-text file per build, readable while the build still writes it.

A build decides how much it prints, so a log file grows to at most `max_log_bytes`
(docs/security.md, "Bounded builds"). Past its head budget one line says the log was
truncated; the build goes on, its further output is dropped except for the last few KiB,
which are written at the end: the end of a long log (why it failed, the digest) still shows.
The budget keeps room for that tail and for the bot's own closing lines, and nothing is ever
written past the cap.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
TAIL_BYTES = 16 * 1024


def truncation_line(max_bytes: int) -> str:
    return (
        f"--- log truncated at {max_bytes} bytes (max_log_bytes): the build goes on, its "
        "output is dropped; its last lines follow at the end ---\n"
    )


def _budget(max_bytes: int) -> tuple[int, int]:
    """(head, tail): bytes of output kept from the start and from the end. The rest of the
    cap is room for the truncation line, the tail's header and the bot's closing lines."""
    tail = min(TAIL_BYTES, max_bytes // 8)
    slack = min(4096, max_bytes // 16) + len(truncation_line(max_bytes)) + 80
    return max(0, max_bytes - tail - slack), tail


def _size(file: BinaryIO) -> int:
    # Others append to the same file (the dispatcher, the executor): ask, don't count.
    return os.fstat(file.fileno()).st_size


class CappedLog:
    """Appends a build's output to its log file, keeping the file within `max_bytes`."""

    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._file = path.open("ab")
        self._max = max_bytes
        self._head, self._tail_max = _budget(max_bytes)
        self._truncated = False
        self._tail = bytearray()

    @property
    def truncated(self) -> bool:
        return self._truncated

    def write(self, data: bytes) -> None:
        if not self._truncated:
            room = self._head - _size(self._file)
            if len(data) <= room:
                self._file.write(data)
                self._file.flush()
                return
            kept = data[: max(room, 0)]
            if b"\n" in kept:  # end the kept part on a whole line
                kept = kept[: kept.rindex(b"\n") + 1]
            self._file.write(kept + truncation_line(self._max).encode())
            self._file.flush()
            self._truncated = True
            data = data[len(kept) :]
        self._tail += data
        del self._tail[: max(0, len(self._tail) - self._tail_max)]

    def close(self) -> None:
        if self._truncated and self._tail:
            tail = bytes(self._tail)
            if b"\n" in tail[:-1]:  # start on a whole line
                tail = tail[tail.index(b"\n") + 1 :]
            header = f"--- the last {len(tail)} bytes of the output ---\n".encode()
            room = self._max - _size(self._file)
            self._file.write((header + tail)[: max(room, 0)])
        self._file.close()

    def __enter__(self) -> CappedLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def append_capped(path: Path, text: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Append one of the bot's own lines, as much of it as the cap leaves room for."""
    with path.open("ab") as f:
        room = max_bytes - _size(f)
        if room > 0:
            f.write(text.encode()[:room])


class LogStore:
    def __init__(self, directory: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._directory = directory
        self.max_bytes = max_bytes
        directory.mkdir(parents=True, exist_ok=True)

    def path(self, build_id: int) -> Path:
        return self._directory / f"{build_id}.log"

    def write(self, build_id: int, text: str) -> None:
        self.path(build_id).write_bytes(text.encode()[: self.max_bytes])

    def append(self, build_id: int, text: str) -> None:
        append_capped(self.path(build_id), text, self.max_bytes)

    def read(self, build_id: int) -> str | None:
        path = self.path(build_id)
        return path.read_text(errors="replace") if path.exists() else None

    def delete(self, build_ids: Iterable[int]) -> None:
        for build_id in build_ids:
            self.path(build_id).unlink(missing_ok=True)

    def written_before(self, cutoff: datetime) -> list[int]:
        """Builds whose log was last written before `cutoff`."""
        before = cutoff.timestamp()
        ids = []
        for path in self._directory.glob("*.log"):
            try:
                if path.stem.isdigit() and path.stat().st_mtime < before:
                    ids.append(int(path.stem))
            except FileNotFoundError:
                continue
        return sorted(ids)
