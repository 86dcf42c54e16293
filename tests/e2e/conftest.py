from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.executors.local_images import prune_images
from tests.support.bot_process import BotFactory, BotProcess
from tests.support.forges import Harness, forge
from tests.support.testenv import ProvisionedEnv

__all__ = ["forge"]  # the fixture (tests/support/forges.py): each test once per forge


@pytest.fixture(scope="session", autouse=True)
def images_built_here_are_removed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """When the session ends, remove from both engines the images its builds made (s2i labels
    each with its source directory, all under this session's temporary root): left behind,
    they fill the disk run after run, and every local executor's start inspects each of them
    (bot/executors/local_images.py)."""
    yield
    root = f"{tmp_path_factory.getbasetemp()}/"
    for engine in ("docker", "buildah"):
        prune_images(engine, lambda source: source.startswith(root))


@pytest.fixture
def start_builder_bot(
    start_bot: BotFactory, testenv: ProvisionedEnv, tmp_path: Path
) -> Callable[..., BotProcess]:
    """A bot wired to the real engine, registry and s2i that scripts/provision.sh set up."""

    def start(*, registry_password: str | None = None, **settings: Any) -> BotProcess:
        auth = testenv.auth_file(tmp_path, registry_password)
        return start_bot(
            builder_registry=testenv.builder_registry,
            registry_auth_file=str(auth),
            s2i=testenv.s2i,
            **settings,
        )

    return start


@pytest.fixture
def forge_bot(forge: Harness, testenv: ProvisionedEnv, tmp_path: Path) -> Iterator[BotProcess]:
    """`s2i-bot serve` wired to the forge's fake and the real engine, registry and s2i."""
    settings: dict[str, Any] = {
        "forge_write_interval": 0,
        "builder_registry": testenv.builder_registry,
        "registry_auth_file": str(testenv.auth_file(tmp_path)),
        "s2i": testenv.s2i,
    }
    workdir = tmp_path / "bot"
    workdir.mkdir()
    bot = BotProcess(workdir, settings | forge.bot_settings()).start()
    yield bot
    bot.stop()
