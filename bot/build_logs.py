"""Build logs: kept in the store, so every replica serves every log link (GET
/builds/{key}/log), while the build runs and after.

A build running on this replica writes its output (the runner's, the executor's lines) to a
local spool file, `<logs dir>/<build id>.log`, as executors always did; `LogStore` ships what
the file gained to the store every SHIP_INTERVAL while the build runs, at once before a read
on this replica, and the rest when it ends; then the file goes. The bot's own lines (a config
error, a cancellation) go to the store directly. A replica that dies mid-build leaves what it
shipped; the replica that takes the build over appends its own run after it.

A build decides how much it prints, so a log file grows to at most `max_log_bytes`
(docs/security.md, "Bounded builds"). Past its head budget one line says the log was
truncated; the build goes on, its further output is dropped except for the last few KiB,
which are written at the end: the end of a long log (why it failed, the digest) still shows.
The budget keeps room for that tail and for the bot's own closing lines, and nothing is ever
written past the cap.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from bot.store import Store

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
TAIL_BYTES = 16 * 1024
SHIP_INTERVAL = 1.0  # seconds: how far behind a live log read on another replica may be


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
    def __init__(self, store: Store, directory: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._store = store
        self._directory = directory
        self.max_bytes = max_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._shipped: dict[int, int] = {}  # spooling builds: bytes of the file shipped

    def path(self, build_id: int) -> Path:
        """The spool file a build running here writes to (between start() and end())."""
        return self._directory / f"{build_id}.log"

    def start(self, build_id: int) -> None:
        """The build starts running here: a fresh spool file, shipped from its start."""
        with self._lock:
            self.path(build_id).unlink(missing_ok=True)
            self._shipped[build_id] = 0

    def ship(self, build_id: int) -> None:
        """What the spool file gained since the last ship, to the store."""
        with self._lock:
            self._ship(build_id)

    def _ship(self, build_id: int) -> None:
        offset = self._shipped.get(build_id)
        if offset is None:
            return
        try:
            with self.path(build_id).open("rb") as f:
                f.seek(offset)
                data = f.read()
        except FileNotFoundError:
            return
        if data:
            self._store.log_append(build_id, data, self.max_bytes)
            self._shipped[build_id] = offset + len(data)

    def end(self, build_id: int) -> None:
        """The build stopped running here: the rest shipped, the spool file gone."""
        with self._lock:
            self._ship(build_id)
            self._shipped.pop(build_id, None)
            self.path(build_id).unlink(missing_ok=True)

    def write(self, build_id: int, text: str) -> None:
        self.append(build_id, text)

    def append(self, build_id: int, text: str) -> None:
        """One of the bot's own lines, after what the build wrote so far."""
        with self._lock:
            self._ship(build_id)
            self._store.log_append(build_id, text.encode(), self.max_bytes)

    def read(self, build_id: int) -> str | None:
        with self._lock:
            self._ship(build_id)
        return self._store.log_text(build_id)

    def chunks_after(self, build_id: int, chunk_id: int) -> list[tuple[int, bytes]]:
        """What the log gained after chunk `chunk_id` (0: from the start), with each chunk's
        id, shipped first when the build runs here: a live reader's next read."""
        with self._lock:
            self._ship(build_id)
        return self._store.log_chunks_after(build_id, chunk_id)

    def delete(self, build_ids: Iterable[int]) -> None:
        """Spool files (a build's log in the store goes with the build)."""
        for build_id in build_ids:
            self.path(build_id).unlink(missing_ok=True)

    def written_before(self, cutoff: datetime) -> list[int]:
        """Builds whose spool file was last written before `cutoff` (left by a crash)."""
        before = cutoff.timestamp()
        ids = []
        for path in self._directory.glob("*.log"):
            try:
                if path.stem.isdigit() and path.stat().st_mtime < before:
                    ids.append(int(path.stem))
            except FileNotFoundError:
                continue
        return sorted(ids)
