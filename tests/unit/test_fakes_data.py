"""tests/fakes/data/github/: the stored copies are the npm files their README names, unchanged."""

from __future__ import annotations

import hashlib
import lzma
import re
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "fakes" / "data" / "github"
_ROW = re.compile(r"^\| `(?P<file>[^`]+\.xz)` \| `[^`]+` \| .* \| `(?P<sha>[0-9a-f]{64})` \|$")


def readme_rows() -> dict[str, str]:
    rows = {}
    for line in (DATA / "README.md").read_text().splitlines():
        match = _ROW.match(line)
        if match:
            rows[match["file"]] = match["sha"]
    return rows


def test_the_readme_names_every_stored_file() -> None:
    assert sorted(readme_rows()) == sorted(p.name for p in DATA.glob("*.xz"))


@pytest.mark.parametrize("name", sorted(readme_rows()))
def test_each_stored_file_uncompresses_to_the_npm_file_the_readme_names(name: str) -> None:
    assert (
        hashlib.sha256(lzma.decompress((DATA / name).read_bytes())).hexdigest()
        == (readme_rows()[name])
    )
