"""The HTTP face of the bot (Starlette): forge webhooks in, builds out.

POST /webhooks/github, /webhooks/gitlab   verify, persist, answer 202; the rest in the background
GET  /builds/{id}/log     the build log as plain text, while it runs and after
GET  /builds/{id}         the build as JSON
GET  /deliveries/{id}     whether a delivery was processed, its outcome and builds
                          (404 for a forge that is not configured, 413 over 25 MiB, 400 for
                          any body that is not the forge's JSON, 401 unsigned)
GET  /healthz             liveness
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.forges.base import Ignored, PayloadError, Ping, SignatureError
from bot.orchestrator import Bot
from bot.store import Delivery
from bot.web.request_body import MAX_WEBHOOK_BODY, BadContentLength, BodyTooLarge, read_capped

log = logging.getLogger(__name__)


def create_app(bot: Bot) -> Starlette:
    background: set[asyncio.Task[None]] = set()

    async def webhook(request: Request) -> Response:
        forge_name = request.path_params["forge"]
        forge = bot.webhooks.get(forge_name)
        if forge is None:
            return JSONResponse({"error": f"no forge '{forge_name}' configured"}, 404)
        try:
            body = await read_capped(request, MAX_WEBHOOK_BODY)
        except BodyTooLarge as exc:
            return JSONResponse({"error": str(exc)}, 413)
        except BadContentLength as exc:
            return JSONResponse({"error": str(exc)}, 400)
        headers = dict(request.headers)
        try:
            webhook = forge.parse(headers, body)  # the signature first, over the raw bytes
        except SignatureError as exc:
            return JSONResponse({"error": str(exc)}, 401)
        except PayloadError as exc:
            return JSONResponse({"error": str(exc)}, 400)
        except Exception:  # a body the parser did not foresee: still the sender's fault
            log.exception("a %s webhook's body could not be parsed", forge_name)
            return JSONResponse({"error": "the body could not be parsed"}, 400)
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
        await bot.stop()

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
