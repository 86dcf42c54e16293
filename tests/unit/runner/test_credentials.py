"""Credentials reach only the step that needs them: per-step copies, gone with the step."""

from __future__ import annotations

import stat
from pathlib import Path

from bot.runner.credentials import Credentials, PrivateFiles, docker_config

CONFIG = docker_config({"registry.example.com": ("s2ibot", "hunter2-registry")})


def test_the_runner_removes_the_copy_it_was_given(tmp_path: Path) -> None:
    Credentials("ghs_token", CONFIG).write_dir(tmp_path / "given")
    credentials = Credentials.from_dir(tmp_path / "given")
    Credentials.remove_dir_files(tmp_path / "given")
    assert credentials == Credentials("ghs_token", CONFIG)
    assert list((tmp_path / "given").iterdir()) == []


def test_a_read_only_mount_stays_as_it_is(tmp_path: Path) -> None:
    mount = tmp_path / "mount"
    Credentials("ghs_token", CONFIG).write_dir(mount)
    mount.chmod(0o500)
    try:
        Credentials.remove_dir_files(mount)  # no error: a Job's Secret cannot be removed
    finally:
        mount.chmod(0o700)


def test_each_step_copy_is_private_and_gone_after_its_step(tmp_path: Path) -> None:
    private = PrivateFiles(Credentials("ghs_token", CONFIG), tmp_path / "private")
    assert stat.S_IMODE((tmp_path / "private").stat().st_mode) == 0o700
    with private.git_token() as token_file:
        assert token_file is not None and token_file.read_text() == "ghs_token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert not token_file.exists()
    with private.registry_auth() as authfile:
        assert "hunter2" not in authfile.read_text()  # base64 in the auth field
        (authfile.parent / "docker-config").mkdir()  # what an engine keeps beside it
    assert list((tmp_path / "private").iterdir()) == []
    private.close()
    assert (tmp_path / "private").is_dir()  # the executor's directory; it removes it


def test_without_a_token_the_fetch_gets_none(tmp_path: Path) -> None:
    private = PrivateFiles(Credentials(None, CONFIG))
    with private.git_token() as token_file:
        assert token_file is None
    private.close()
    assert not private.root.exists()  # its own temporary directory is gone
