"""Credentials reach only the step that needs them: per-step copies, gone with the step."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bot.runner.credentials import Credentials, PrivateFiles, docker_config
from bot.runner.errors import BuildError

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


def test_build_secrets_travel_as_files_are_removed_once_read_and_copied_for_their_step(
    tmp_path: Path,
) -> None:
    npmrc = b"//127.0.0.1:4873/:_authToken=npm_TOKEN_abcdef\n"
    Credentials("ghs_token", CONFIG, {"npmrc": npmrc}).write_dir(tmp_path / "given")
    assert stat.S_IMODE((tmp_path / "given/build-secrets/npmrc").stat().st_mode) == 0o600
    credentials = Credentials.from_dir(tmp_path / "given")
    Credentials.remove_dir_files(tmp_path / "given")
    assert credentials.build_secrets == {"npmrc": npmrc}
    assert list((tmp_path / "given").iterdir()) == []
    assert "npm_TOKEN_abcdef" in credentials.secrets()  # masked in the log
    private = PrivateFiles(credentials, tmp_path / "private")
    with private.build_secrets(["npmrc"]) as files:
        assert files["npmrc"].read_bytes() == npmrc
        assert stat.S_IMODE(files["npmrc"].stat().st_mode) == 0o600
    assert not files["npmrc"].exists()


def test_a_build_secret_that_did_not_come_is_an_error_naming_it(tmp_path: Path) -> None:
    private = PrivateFiles(Credentials(None, CONFIG), tmp_path / "private")
    missing = pytest.raises(BuildError, match="build secret 'npmrc' did not reach the runner")
    with missing, private.build_secrets(["npmrc"]):
        pass


def test_a_projected_volumes_own_entries_are_no_build_secrets(tmp_path: Path) -> None:
    # Kubernetes writes a projected volume's files through ..data symlinks and timestamped
    # directories: only the keys are secrets.
    mount = tmp_path / "mount" / "build-secrets"
    (mount / "..2026_11_30").mkdir(parents=True)
    (mount / "..2026_11_30" / "npmrc").write_text("x")
    (mount / "..data").symlink_to("..2026_11_30")
    (mount / "npmrc").symlink_to("..data/npmrc")
    assert Credentials.from_dir(tmp_path / "mount").build_secrets == {"npmrc": b"x"}
