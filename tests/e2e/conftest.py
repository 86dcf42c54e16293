from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BotFactory
from tests.support.bot_process import BotProcess
from tests.support.testenv import ProvisionedEnv

APPS = Path(__file__).resolve().parents[1] / "apps"


def app_files(name: str) -> dict[str, str | bytes | None]:
    root = APPS / name
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


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
