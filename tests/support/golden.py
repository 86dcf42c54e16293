"""Golden files: what a pure renderer must produce, reviewed once and kept in the repository.

A golden file is rewritten only on request (``UPDATE_GOLDEN=1``), and a test that rewrites
one fails: the run that writes a file can never be the run that passes against it. Review the
diff (``git diff tests/``), then run again without ``UPDATE_GOLDEN``.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

UPDATE_ENV = "UPDATE_GOLDEN"


def updating() -> bool:
    return os.environ.get(UPDATE_ENV, "") not in ("", "0")


def check_golden(path: Path, text: str, *, parse: Callable[[str], Any] = lambda text: text) -> None:
    """Assert that ``text`` is what ``path`` holds (equal once parsed by ``parse``, so layout
    alone is no difference). With ``UPDATE_GOLDEN=1`` a missing or different file is
    rewritten with ``text`` and the test fails, saying so."""
    current = path.read_text() if path.exists() else None
    if current is not None and parse(current) == parse(text):
        return
    if updating():
        path.write_text(text)
        pytest.fail(
            f"{path} was {'rewritten' if current is not None else 'written'}: review the diff, "
            f"then run again without {UPDATE_ENV} (this run cannot pass against it)"
        )
    if current is None:
        pytest.fail(f"no {path}: run once with {UPDATE_ENV}=1 to write it, then review it")
    diff = difflib.unified_diff(
        current.splitlines(keepends=True), text.splitlines(keepends=True), str(path), "rendered"
    )
    pytest.fail(
        f"differs from {path}; if the change is intended, run once with {UPDATE_ENV}=1 and "
        "review the diff:\n" + "".join(diff),
        pytrace=False,
    )
