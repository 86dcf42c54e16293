"""Build logs: one plain-text file per build, readable while the build still writes it."""

from __future__ import annotations

from pathlib import Path


class LogStore:
    def __init__(self, directory: Path) -> None:
        self._directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def path(self, build_id: int) -> Path:
        return self._directory / f"{build_id}.log"

    def write(self, build_id: int, text: str) -> None:
        self.path(build_id).write_text(text)

    def append(self, build_id: int, text: str) -> None:
        with self.path(build_id).open("a") as f:
            f.write(text)

    def read(self, build_id: int) -> str | None:
        path = self.path(build_id)
        return path.read_text(errors="replace") if path.exists() else None
