"""docs/architecture.md's module map names every module under bot/, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAP_START, MAP_END = "<!-- module-map:start -->", "<!-- module-map:end -->"


def mapped_modules() -> list[str]:
    text = (ROOT / "docs" / "architecture.md").read_text()
    table = text[text.index(MAP_START) : text.index(MAP_END)]
    return re.findall(r"^\| `(bot/[^`]+\.py)` \| \S", table, flags=re.M)


def package_modules() -> set[str]:
    modules = set()
    for path in (ROOT / "bot").rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        # An empty __init__.py only marks a package: it has no responsibility to describe.
        if path.name == "__init__.py" and not path.read_text().strip():
            continue
        modules.add(relative)
    return modules


def test_every_module_under_bot_is_in_the_map_with_a_responsibility() -> None:
    missing = sorted(package_modules() - set(mapped_modules()))
    assert not missing, f"add these modules to the map in docs/architecture.md: {missing}"


def test_every_module_in_the_map_exists_and_is_listed_once() -> None:
    listed = mapped_modules()
    gone = sorted(set(listed) - package_modules())
    assert not gone, f"the map in docs/architecture.md lists modules that do not exist: {gone}"
    twice = sorted({m for m in listed if listed.count(m) > 1})
    assert not twice, f"listed twice in docs/architecture.md: {twice}"
