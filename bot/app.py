"""The HTTP face of the bot (Starlette): forge webhooks in, build logs out.

POST /webhooks/github, /webhooks/gitlab   verify, persist, answer 202; the rest in the background
GET  /builds/{id}/log     the build log as plain text, while it runs and after
GET  /builds/{id}         the build as JSON
GET  /deliveries/{id}     whether a delivery was processed, its outcome and builds
GET  /healthz             liveness
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.build import Build, BuildState
from bot.dispatcher import Dispatcher, Executor
from bot.events import Event, EventKind
from bot.executors.local import LocalExecutor
from bot.forges import make_forges
from bot.forges.base import Forge, Ignored, PayloadError, Ping, SignatureError
from bot.intake import Actions, Intake
from bot.logs import LogStore
from bot.outbox import Outbox
from bot.pulls import Pulls
from bot.reporter import Reporter
from bot.runner.credentials import Credentials
from bot.settings import Settings
from bot.store import Delivery, Store
from bot.templates import load_templates

log = logging.getLogger(__name__)


@dataclass
class Bot:
    """Everything one running bot holds, wired once by build_bot."""

    settings: Settings
    store: Store
    forges: dict[str, Forge]
    logs: LogStore
    intake: Intake
    pulls: Pulls
    dispatcher: Dispatcher
    outbox: Outbox
    in_flight: set[str] = field(default_factory=set)  # deliveries being processed now

    def _handle(self, delivery: Delivery, event: Event) -> Actions:
        if event.kind in (EventKind.PULL_REQUEST, EventKind.COMMENT):
            return self.pulls.handle(delivery, event)
        return self.intake.builds_for(delivery, event)

    async def process(self, delivery: Delivery) -> None:
        """Delivery -> actions -> carried out. Failing before the actions are recorded leaves
        the delivery unprocessed, so the next start tries it again: nothing is lost."""
        try:
            webhook = self.forges[delivery.forge].parse(delivery.headers, delivery.body)
            if not isinstance(webhook, Event):
                await asyncio.to_thread(self.store.finish_delivery, delivery.id, "ignored")
                return
            actions = await asyncio.to_thread(self._handle, delivery, webhook)
        except Exception:
            log.exception("delivery %s could not be processed; it will be retried", delivery.id)
            return
        await self.carry_out(actions)
        await asyncio.to_thread(self.store.finish_delivery, delivery.id, actions.outcome or "done")

    async def carry_out(self, actions: Actions) -> None:
        for build, reason in actions.cancel:
            await self.dispatcher.cancel(build, reason)
        for build in actions.report:
            await self.outbox.status(build)
        for build in actions.dispatch:
            self.dispatcher.submit(build)
        for forge, repo, pr, body in actions.replies:
            await self.outbox.reply(forge, repo, pr, body)
        for forge, repo, pr in actions.pull_comments:
            await self.outbox.pull_comment(forge, repo, pr)

    async def recover(self) -> None:
        """On start: builds the last run left queued or running start again, deliveries it
        stored but never processed are processed, and the outbox sends what it still holds,
        so no status stays pending."""
        self.outbox.start()
        for build in await asyncio.to_thread(
            self.store.builds_in, BuildState.QUEUED, BuildState.RUNNING
        ):
            build = await asyncio.to_thread(self.store.requeue, build.id)
            self.dispatcher.submit(build)
        await self.retry_deliveries()

    async def retry_deliveries(self) -> None:
        """Process what was stored but not processed (the forge was down, the bot crashed)."""
        for delivery in await asyncio.to_thread(self.store.unprocessed_deliveries):
            await self.process(delivery)

    async def keep_retrying(self) -> None:
        while True:
            await asyncio.sleep(self.settings.delivery_retry_interval)
            try:
                await self.retry_deliveries()
            except Exception:  # the store itself failing: try again next round
                log.exception("retrying unprocessed deliveries failed")


def build_credentials(settings: Settings, forges: dict[str, Forge], build: Build) -> Credentials:
    """What one build's runner may use: the forge's clone token and the registry auth."""
    config_file = settings.registry_auth_file
    config = json.loads(config_file.read_text()) if config_file else {"auths": {}}
    return Credentials(forges[build.forge].clone_token(build.repo), config)


def make_executor(settings: Settings) -> Executor:
    """Where builds run: `local` (this host) or `kubernetes` (a Job per build)."""
    if settings.executor == "kubernetes":
        from bot.executors.kubernetes import KubernetesExecutor

        return KubernetesExecutor(
            settings.kubernetes, insecure_registries=tuple(settings.insecure_registries)
        )
    return LocalExecutor(
        settings.data_dir / "work",
        engine=settings.engine,
        s2i=settings.s2i,
        insecure_registries=tuple(settings.insecure_registries),
    )


def build_bot(
    settings: Settings, *, forges: dict[str, Forge] | None = None, executor: Executor | None = None
) -> Bot:
    templates = load_templates(settings.templates_dir)
    store = Store(settings.database_url)
    logs = LogStore(settings.data_dir / "logs")
    if forges is None:
        forges = make_forges(settings)
    reporter = Reporter(store, forges, settings.public_url)
    outbox = Outbox(store, reporter, min_interval=settings.forge_write_interval)
    if executor is None:
        executor = make_executor(settings)
    intake = Intake(store, forges, templates, logs, settings.builder_registry, settings.autodetect)
    pulls = Pulls(store, forges, intake, build_drafts=settings.build_draft_pull_requests)
    dispatcher = Dispatcher(
        store,
        executor,
        outbox,
        logs,
        functools.partial(build_credentials, settings, forges),
        settings.max_concurrent_builds,
    )
    return Bot(settings, store, forges, logs, intake, pulls, dispatcher, outbox)


def create_app(bot: Bot) -> Starlette:
    background: set[asyncio.Task[None]] = set()

    async def webhook(request: Request) -> Response:
        forge_name = request.path_params["forge"]
        forge = bot.forges.get(forge_name)
        if forge is None:
            return JSONResponse({"error": f"no forge '{forge_name}' configured"}, 404)
        body = await request.body()
        headers = dict(request.headers)
        try:
            webhook = forge.parse(headers, body)
        except SignatureError as exc:
            return JSONResponse({"error": str(exc)}, 401)
        except PayloadError as exc:
            return JSONResponse({"error": str(exc)}, 400)
        if isinstance(webhook, Ping):
            return JSONResponse({"pong": True, "zen": webhook.zen})
        if isinstance(webhook, Ignored):
            return JSONResponse({"ignored": webhook.reason}, 202)
        delivery = Delivery(
            id=forge.delivery_id(headers) or hashlib.sha256(body).hexdigest(),
            forge=forge_name,
            event=forge.event_name(headers),
            headers=headers,
            body=body,
        )
        # Persist before acknowledging: once we answer 202, a crash must not lose the event.
        if not await asyncio.to_thread(bot.store.add_delivery, delivery):
            return JSONResponse({"duplicate": delivery.id}, 202)
        task = asyncio.create_task(bot.process(delivery))
        background.add(task)
        task.add_done_callback(background.discard)
        return JSONResponse({"accepted": delivery.id}, 202)

    def _build_id(request: Request) -> int | None:
        try:
            return int(request.path_params["build_id"])
        except ValueError:
            return None

    async def build_log(request: Request) -> Response:
        build_id = _build_id(request)
        text = bot.logs.read(build_id) if build_id is not None else None
        if text is None:
            return PlainTextResponse("no such build\n", 404)
        return PlainTextResponse(text)

    async def build_info(request: Request) -> Response:
        build_id = _build_id(request)
        build = await asyncio.to_thread(bot.store.find_build, build_id) if build_id else None
        if build is None:
            return JSONResponse({"error": "no such build"}, 404)
        return JSONResponse(
            {
                "id": build.id, "name": build.name, "repo": build.repo, "sha": build.sha,
                "state": build.state.value, "reason": build.reason, "digest": build.digest,
                "size": build.size, "image": build.spec.output if build.spec else None,
                "log_url": f"{bot.settings.public_url}/builds/{build.id}/log",
            }
        )  # fmt: skip

    async def delivery_info(request: Request) -> Response:
        delivery_id = request.path_params["delivery_id"]
        outcome = await asyncio.to_thread(bot.store.delivery_outcome, delivery_id)
        if outcome is None:
            found = await asyncio.to_thread(bot.store.has_delivery, delivery_id)
            if not found:
                return JSONResponse({"error": "no such delivery"}, 404)
        builds = await asyncio.to_thread(bot.store.builds_of_delivery, delivery_id)
        return JSONResponse(
            {
                "id": delivery_id,
                "processed": outcome is not None,
                "outcome": outcome,
                "builds": [b.id for b in builds],
            }
        )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True, "active_builds": bot.dispatcher.active})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await bot.recover()
        retrying = asyncio.create_task(bot.keep_retrying(), name="delivery-retry")
        yield
        retrying.cancel()
        for task in list(background):
            await task
        await bot.dispatcher.shutdown()
        await bot.outbox.close()  # what it still holds is sent after the next start
        bot.store.close()

    return Starlette(
        routes=[
            Route("/webhooks/{forge}", webhook, methods=["POST"]),
            Route("/builds/{build_id}/log", build_log),
            Route("/builds/{build_id}", build_info),
            Route("/deliveries/{delivery_id}", delivery_info),
            Route("/healthz", healthz),
        ],
        lifespan=lifespan,
    )
