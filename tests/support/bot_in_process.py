"""The bot in the test's own process: the Bot that bot.wiring builds from the same settings file
`s2i-bot serve` reads, its Starlette app (bot.web.app) served by uvicorn in a thread, talking
to the fake forges over HTTP with the real PyGithub and python-gitlab clients, as the process
does. It starts in a fraction of the process's time (no interpreter, imports or engine to ask),
so tests of what the bot does with webhooks use it; what only a process shows (exit codes,
start-up messages on stderr, signals, a restart after a kill, memory) stays with
tests/support/bot_process.py.

One part differs: the executor. These bots build nothing (a build needs the real s2i and
engine: tests/e2e), so theirs is tests/fakes/executor.NoBuilds, which fails any build and makes
:meth:`InProcessBot.stop` fail the test if one was asked for; a test about what the bot builds
and reports passes one of the other fakes there (QuickBuilds: each build ends with the result
the test chose). The local executor would ask the engine at every start for the images old builds
left (bot/executors/local_images.py), seconds on a host whose engine holds hundreds of them.

A bot stopped can be started again on the same data directory, as `s2i-bot serve` restarted
is: :meth:`InProcessBot.start` wires a new Bot from the settings file each time (its store,
recovery and duties), keeping the port and the executor."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.executors.base import Executor
from bot.orchestrator import Bot
from bot.settings import load_settings
from bot.web.app import create_app
from bot.wiring import build_bot
from tests.fakes.executor import NoBuilds
from tests.fakes.server import ThreadedServer
from tests.support.bot_process import BotSettings, user_environment

STOP_TIMEOUT = 60.0  # the bot's shutdown: workers, dispatcher, outbox (Bot.stop)


class InProcessBot(BotSettings):
    def __init__(
        self, workdir: Path, settings: dict[str, Any], executor: Executor | None = None
    ) -> None:
        """`executor`: one whose builds the test drives (tests/fakes/executor.py), instead
        of NoBuilds."""
        super().__init__(workdir, settings)
        self.executor: Executor = executor or NoBuilds()
        self.bot: Bot | None = None
        self._server: ThreadedServer | None = None

    def start(self) -> InProcessBot:
        """Wire the bot as `s2i-bot serve` does (bot.cli) and serve it; returns once its
        recovery ran and it answers. After stop(), a restart on the same data."""
        assert self._server is None, "the bot is running already"
        settings = load_settings(self.config_file, user_environment())
        self.bot = build_bot(settings, executor=self.executor)
        self._server = ThreadedServer(create_app(self.bot), port=self.port)
        self._server.start(timeout=30)
        return self

    def stop(self) -> None:
        """Stop serving (the bot's own shutdown runs); fail if a build was asked for."""
        if self._server is not None:
            self._server.stop(timeout=STOP_TIMEOUT)
        self._server = None
        if isinstance(self.executor, NoBuilds):
            asked = self.executor.asked
            assert asked == [], f"this bot builds nothing, yet ran {asked}"


# What the `start_bot_in_process` fixture (tests/conftest.py) gives a test: start the bot in
# the test's process against the fake GitHub, keyword arguments overriding settings.
InProcessBotFactory = Callable[..., InProcessBot]
