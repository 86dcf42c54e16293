"""tests/support/golden.py: a golden file is never compared with what the same run wrote."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.golden import UPDATE_ENV, check_golden

Failed = pytest.fail.Exception


def test_an_equal_rendering_passes_and_layout_alone_is_no_difference(tmp_path: Path) -> None:
    golden = tmp_path / "g.yaml"
    golden.write_text("a: 1\nb: [x, y]\n")
    check_golden(golden, "b:\n- x\n- y\na: 1\n", parse=yaml.safe_load)


def test_a_difference_fails_with_the_diff_and_leaves_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(UPDATE_ENV, raising=False)
    golden = tmp_path / "g.yaml"
    golden.write_text("a: 1\n")
    with pytest.raises(Failed, match=r"(?s)differs from .*-a: 1\n\+a: 2"):
        check_golden(golden, "a: 2\n", parse=yaml.safe_load)
    assert golden.read_text() == "a: 1\n"


def test_a_missing_file_fails_without_writing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(UPDATE_ENV, raising=False)
    with pytest.raises(Failed, match=f"run once with {UPDATE_ENV}=1"):
        check_golden(tmp_path / "g.yaml", "a: 1\n")
    assert not (tmp_path / "g.yaml").exists()


def test_updating_rewrites_a_different_file_and_fails_the_same_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(UPDATE_ENV, "1")
    golden = tmp_path / "g.yaml"
    golden.write_text("a: 1\n")
    with pytest.raises(Failed, match="was rewritten: review the diff"):
        check_golden(golden, "a: 2\n", parse=yaml.safe_load)
    assert golden.read_text() == "a: 2\n"
    missing = tmp_path / "new.yaml"
    with pytest.raises(Failed, match="was written"):
        check_golden(missing, "b: 1\n")
    assert missing.read_text() == "b: 1\n"


def test_updating_leaves_an_equal_file_alone_and_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(UPDATE_ENV, "1")
    golden = tmp_path / "g.yaml"
    golden.write_text("a:   1\n")
    check_golden(golden, "a: 1\n", parse=yaml.safe_load)
    assert golden.read_text() == "a:   1\n"
