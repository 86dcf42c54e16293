"""`s2i-bot serve` as a process: what stops it before it listens."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_the_bot_does_not_start_with_a_broken_template(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("name: bad\nbuildr: typo\n")
    config = tmp_path / "bot.yaml"
    config.write_text(f"templates_dir: {tmp_path}\ndata_dir: {tmp_path / 'var'}\n")
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), "serve"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert f"{tmp_path / 'bad.yaml'}: invalid builder template" in result.stderr
