"""The HTTP face of the bot (Starlette): forge webhooks in, builds out.

POST /webhooks/github, /webhooks/gitlab   verify, persist, answer 202; the workers process it
                          (404 for a forge that is not configured, 413 over 25 MiB, 400 for
                          any body that is not the forge's JSON, 401 unsigned, 503 with
                          Retry-After while max_backlog deliveries wait)
POST /api/builds          a manual trigger (bot/manual_trigger.py): `Authorization: Bearer
                          <api_token>` and {"repo", "ref", "name", "forge"}; 202 with the
                          delivery's id and link (401 without the token, 404 when no
                          api_token is configured, 4xx naming what is unknown)
POST /webhooks/registry   a registry's notifications (Docker Distribution), with
                          `Authorization: Bearer <registry_webhook_token>`: the tags pushed
                          are checked against the builds' base images (bot/base_images.py);
                          202, 401 without the token, 404 when none is configured
GET  /builds/{key}/log    the build log as plain text, while it runs and after
GET  /builds/{key}/events the log and state as Server-Sent Events, while it runs
GET  /builds/{key}        the build page (HTML for browsers), or the build as JSON
GET  /builds?repo=o/n     a repository's newest builds (page or JSON; filters branch, pr,
                          state): with `Authorization: Bearer <api_token>`, or for a
                          repository in `public_repositories`
GET  /badges/{owner}/{repo}/{build}/{branch}.svg   a build's state on a branch, as a badge,
                          for `public_repositories` only
GET  /assets/...          the pages' CSS and JavaScript (package data, no CDN)
GET  /deliveries/{id}     whether a delivery was processed, its outcome, attempts and builds
GET  /healthz             liveness; what waits (deliveries, builds), from the store
GET  /readyz              readiness: 200 while the database answers, 503 when it does not
GET  /metrics             Prometheus metrics (bot/metrics.py): counts, no repository names

A build is reached only by its key, the random name every link the bot publishes uses: ids,
repository names or shas open nothing (404), so links cannot be guessed or enumerated.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot import log_context
from bot.build_record import Build
from bot.forges.base import ForgeError, Ignored, Ping, SignatureError
from bot.forges.fields import PayloadError
from bot.log_outline import log_lines
from bot.manual_trigger import MAX_BODY as MAX_TRIGGER_BODY
from bot.manual_trigger import TriggerError, parse_request
from bot.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from bot.orchestrator import Bot
from bot.pages.badge import badge_state, badge_svg
from bot.pages.build_page import build_page
from bot.pages.build_view import BuildView, build_view
from bot.pages.html_layout import CONTENT_SECURITY_POLICY
from bot.pages.repository_page import parse_filters, repository_page
from bot.registry_notifications import NotificationError, pushed_tags
from bot.store import Delivery
from bot.web.build_events import build_events, resume_after
from bot.web.content_negotiation import prefers_html
from bot.web.request_body import MAX_WEBHOOK_BODY, BadContentLength, BodyTooLarge, read_capped

LISTED_BUILDS = 100  # the most a listing shows, newest first
BADGE_CACHE = "max-age=60, must-revalidate"  # READMEs' image proxies (GitHub's camo) ask again
PAGE_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Vary": "Accept"}
BACKLOG_RETRY_AFTER = 60  # seconds, in a 503's Retry-After
log = logging.getLogger(__name__)


def create_app(bot: Bot) -> Starlette:
    async def webhook(request: Request) -> Response:
        forge_name = request.path_params["forge"]
        if forge_name not in bot.webhooks:
            return JSONResponse({"error": f"no forge '{forge_name}' configured"}, 404)
        received = time.perf_counter()
        response, event, outcome = await _webhook(request, forge_name)
        bot.metrics.delivery(forge_name, event, outcome)
        if response.status_code == 202:
            bot.metrics.intake_seconds.observe(time.perf_counter() - received)
        return response

    async def _webhook(request: Request, forge_name: str) -> tuple[Response, str | None, str]:
        """The answer, the event the forge verified (None before the signature is checked),
        and the outcome as /metrics counts it."""
        forge = bot.webhooks[forge_name]
        try:
            body = await read_capped(request, MAX_WEBHOOK_BODY)
        except BodyTooLarge as exc:
            return JSONResponse({"error": str(exc)}, 413), None, "too_large"
        except BadContentLength as exc:
            return JSONResponse({"error": str(exc)}, 400), None, "malformed"
        headers = dict(request.headers)
        try:
            webhook = forge.parse(headers, body)  # the signature first, over the raw bytes
        except SignatureError as exc:
            return JSONResponse({"error": str(exc)}, 401), None, "bad_signature"
        except PayloadError as exc:
            return JSONResponse({"error": str(exc)}, 400), None, "malformed"
        except Exception:  # a body the parser did not foresee: still the sender's fault
            log.exception("a %s webhook's body could not be parsed", forge_name)
            return JSONResponse({"error": "the body could not be parsed"}, 400), None, "malformed"
        event = forge.event_name(headers)  # signed: the forge's own word
        if isinstance(webhook, Ping):
            return JSONResponse({"pong": True, "zen": webhook.zen}), event, "ping"
        if isinstance(webhook, Ignored):
            return JSONResponse({"ignored": webhook.reason}, 202), event, "ignored"
        if bot.backlog >= bot.settings.max_backlog:
            # Backpressure: refused, not stored, so the forge records the delivery as failed
            # (and the operator can redeliver it) rather than the bot holding more than it
            # can work off.
            log.warning("webhook refused: %d deliveries wait (max_backlog)", bot.backlog)
            headers = {"Retry-After": str(BACKLOG_RETRY_AFTER)}
            refused = JSONResponse({"error": "too many deliveries wait; retry later"}, 503, headers)
            return refused, event, "backlog_full"
        delivery = Delivery(
            id=forge.delivery_id(headers) or hashlib.sha256(body).hexdigest(),
            forge=forge_name,
            event=event,
            # Stored sealed: the forge's proof replaced by the bot's own over the same bytes,
            # so no header in the database is the secret itself (GitLab sends it as is).
            headers=forge.vouch(headers, body),
            body=body,
        )
        log_context.delivery_id.set(delivery.id)
        # Persist before acknowledging: once we answer 202, a crash must not lose the event.
        # The intake writer's own thread, never behind forge calls (bot.delivery_writer).
        if not await bot.writer.add(delivery):
            return JSONResponse({"duplicate": delivery.id}, 202), event, "duplicate"
        bot.accept(delivery)
        return JSONResponse({"accepted": delivery.id}, 202), event, "accepted"

    async def _build(request: Request) -> Build | None:
        key = request.path_params["key"]
        return await asyncio.to_thread(bot.store.find_build_by_key, key)

    def _view(build: Build, lines: list[str], event: str | None) -> BuildView:
        return build_view(build, lines, event, bot.settings.public_url)

    def _read_view(build: Build) -> tuple[BuildView, list[str]]:
        """The build's view and log lines (whole lines only while it runs: a live page goes
        on from there), read from the store: call off the event loop."""
        text = bot.logs.read(build.id) or ""
        lines = log_lines(text, complete_only=not build.state.finished)
        return _view(build, lines, bot.store.delivery_event(build.delivery_id)), lines

    async def build_log(request: Request) -> Response:
        build = await _build(request)
        text = await asyncio.to_thread(bot.logs.read, build.id) if build is not None else None
        if text is None:
            return PlainTextResponse("no such build\n", 404)
        return PlainTextResponse(text)

    async def build_info(request: Request) -> Response:
        build = await _build(request)
        html = prefers_html(request.headers.get("accept"), request.query_params.get("format"))
        if build is None:
            if html:
                return HTMLResponse("<!doctype html><title>no such build</title>"
                                    "<p>no such build</p>", 404, PAGE_HEADERS)  # fmt: skip
            return JSONResponse({"error": "no such build"}, 404, {"Vary": "Accept"})
        view, lines = await asyncio.to_thread(_read_view, build)
        if html:
            return HTMLResponse(build_page(view, lines), headers=PAGE_HEADERS)
        return JSONResponse(view.as_json(), headers={"Vary": "Accept"})

    async def build_stream(request: Request) -> Response:
        build = await _build(request)
        if build is None:
            return PlainTextResponse("no such build\n", 404)
        after = resume_after(
            request.headers.get("last-event-id"), request.query_params.get("after")
        )
        event = await asyncio.to_thread(bot.store.delivery_event, build.delivery_id)
        stream = build_events(
            build, after, bot.logs, bot.store.find_build,
            lambda current, lines: _view(current, lines, event), bot.settings.event_stream_seconds,
        )  # fmt: skip
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream, media_type="text/event-stream", headers=headers)

    def _json(build: Build) -> dict[str, object]:
        return _view(build, [], None).as_json(with_log=False)

    def _bearer(request: Request, token: SecretStr | None = None) -> bool:
        """`Authorization: Bearer <token>` (by default the api_token), compared in constant
        time; never with no token configured."""
        token = token or bot.settings.api_token
        if token is None:
            return False
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        expected = token.get_secret_value().encode()
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected)

    def _may_list(request: Request, repo: str) -> bool:
        public = {name.lower() for name in bot.settings.public_repositories}
        return repo.lower() in public or _bearer(request)

    async def build_list(request: Request) -> Response:
        repo = request.query_params.get("repo", "")
        if not bot.settings.api_token and not bot.settings.public_repositories:
            return JSONResponse({"error": "not found"}, 404)  # no listing configured
        if not repo:
            return JSONResponse({"error": "name a repository: /builds?repo=owner/name"}, 400)
        if not _may_list(request, repo):
            if bot.settings.api_token is None:  # no token could list it: nothing to see here
                return JSONResponse({"error": "not found"}, 404)
            headers = {"WWW-Authenticate": 'Bearer realm="s2i-bot"'}
            return JSONResponse({"error": "a bearer token (api_token) is needed"}, 401, headers)
        try:
            filters = parse_filters(request.query_params)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, 400)
        builds = await asyncio.to_thread(
            bot.store.builds_of_repo, repo, LISTED_BUILDS, ref_key=filters.ref_key,
            pr=filters.pr, state=filters.state,
        )  # fmt: skip
        if prefers_html(request.headers.get("accept"), request.query_params.get("format")):
            public = repo.lower() in {r.lower() for r in bot.settings.public_repositories}
            badges = f"{bot.settings.public_url}/badges/{repo}" if public else None
            page = repository_page(repo, builds, filters, badges)
            return HTMLResponse(page, headers=PAGE_HEADERS)
        body = {"repo": repo, "builds": [_json(b) for b in builds]}
        return JSONResponse(body, headers={"Vary": "Accept"})

    async def badge(request: Request) -> Response:
        p = request.path_params
        repo, name, branch = f"{p['owner']}/{p['repo']}", p["build"], p["branch"]
        public = {r.lower() for r in bot.settings.public_repositories}
        if repo.lower() not in public:
            # The same answer for a private repository and one that does not exist: a badge
            # must not tell whether a private repository builds (or exists).
            return PlainTextResponse("no badge: the repository is not public\n", 404)
        builds = await asyncio.to_thread(
            bot.store.builds_of_repo, repo, 20, name=name, ref_key=f"refs/heads/{branch}", pr=None
        )
        svg = badge_svg(name, badge_state([b for b in builds if b.pr is None]))
        etag = '"' + hashlib.sha256(svg.encode()).hexdigest()[:32] + '"'
        headers = {"Cache-Control": BADGE_CACHE, "ETag": etag}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(svg, media_type="image/svg+xml", headers=headers)

    async def trigger(request: Request) -> Response:
        if bot.settings.api_token is None or bot.trigger is None:
            return JSONResponse({"error": "not found"}, 404)  # no api_token: no triggers
        if not _bearer(request):
            headers = {"WWW-Authenticate": 'Bearer realm="s2i-bot"'}
            return JSONResponse({"error": "a bearer token (api_token) is needed"}, 401, headers)
        try:
            body = await read_capped(request, MAX_TRIGGER_BODY)
            asked = parse_request(body)
        except (BodyTooLarge, BadContentLength) as exc:
            return JSONResponse({"error": str(exc)}, 413 if isinstance(exc, BodyTooLarge) else 400)
        except TriggerError as exc:
            return JSONResponse({"error": str(exc)}, exc.status)
        if bot.backlog >= bot.settings.max_backlog:
            headers = {"Retry-After": str(BACKLOG_RETRY_AFTER)}
            return JSONResponse({"error": "too many deliveries wait; retry later"}, 503, headers)
        loop = asyncio.get_running_loop()
        manual = bot.trigger
        try:
            # The forge's API and the store: in the forge pool, as a delivery's processing.
            done = await loop.run_in_executor(bot.forge_pool, manual.trigger, asked)
        except TriggerError as exc:
            return JSONResponse({"error": str(exc)}, exc.status)
        except ForgeError as exc:
            return JSONResponse({"error": f"the forge did not answer: {exc}"}, 502)
        bot.accept(done.delivery)
        answer = {
            "accepted": done.delivery.id,
            "delivery": f"{bot.settings.public_url}/deliveries/{done.delivery.id}",
            "forge": done.forge, "repo": done.repo, "ref": done.ref, "sha": done.sha,
            "builds": list(done.builds),
        }  # fmt: skip
        return JSONResponse(answer, 202)

    async def registry_webhook(request: Request) -> Response:
        token = bot.settings.registry_webhook_token
        if token is None:
            return JSONResponse({"error": "not found"}, 404)  # no token: no notifications
        if not _bearer(request, token):
            headers = {"WWW-Authenticate": 'Bearer realm="s2i-bot"'}
            return JSONResponse({"error": "a bearer token (registry_webhook_token) is needed"},
                                401, headers)  # fmt: skip
        try:
            body = await read_capped(request, MAX_WEBHOOK_BODY)
            tags = pushed_tags(body)
        except BodyTooLarge as exc:
            return JSONResponse({"error": str(exc)}, 413)
        except (BadContentLength, NotificationError) as exc:
            return JSONResponse({"error": str(exc)}, 400)
        bot.base_images_pushed(tags)
        return JSONResponse({"tags": [str(t) for t in tags]}, 202)

    async def delivery_info(request: Request) -> Response:
        delivery_id = request.path_params["delivery_id"]
        info = await asyncio.to_thread(bot.store.delivery_info, delivery_id)
        if info is None:
            return JSONResponse({"error": "no such delivery"}, 404)
        builds = await asyncio.to_thread(bot.store.builds_of_delivery, delivery_id)
        return JSONResponse(
            {
                "id": delivery_id,
                "processed": info.processed,
                "outcome": info.outcome,
                "attempts": info.attempts,
                "last_error": info.last_error,
                # A delivery id (the forge's random GUID) is as secret as the links it leads to.
                "builds": [b.key for b in builds],
            }
        )

    async def healthz(request: Request) -> Response:
        waiting = await asyncio.to_thread(bot.store.backlog)  # also: the store answers
        return JSONResponse(
            {"ok": True, "active_builds": bot.dispatcher.active, "delivery_backlog": bot.backlog}
            | waiting
        )

    async def metrics(request: Request) -> Response:
        # The store's gauges are read here (a few COUNTs): off the event loop.
        text = await asyncio.to_thread(bot.metrics.render)
        return Response(text, media_type=METRICS_CONTENT_TYPE)

    async def readyz(request: Request) -> Response:
        # A replica that cannot reach the database can store no webhook: a Service sends
        # webhooks to the replicas that can (manifests/: the Deployment's readinessProbe).
        try:
            await asyncio.to_thread(bot.store.ping)
        except Exception as exc:
            log.warning("not ready: the database does not answer: %s", exc)
            return JSONResponse({"ready": False, "error": "the database does not answer"}, 503)
        return JSONResponse({"ready": True, "replica": bot.store.replica.id})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await bot.recover()
        yield
        await bot.stop()

    return Starlette(
        routes=[
            Route("/webhooks/registry", registry_webhook, methods=["POST"]),
            Route("/webhooks/{forge}", webhook, methods=["POST"]),
            Route("/api/builds", trigger, methods=["POST"]),
            Route("/builds", build_list),
            Route("/builds/{key}/log", build_log),
            Route("/builds/{key}/events", build_stream),
            Route("/builds/{key}", build_info),
            # A branch may hold slashes (feature/x): the rest of the path, up to `.svg`.
            Route("/badges/{owner}/{repo}/{build}/{branch:path}.svg", badge),
            Mount("/assets", StaticFiles(packages=[("bot.web", "assets")]), name="assets"),
            Route("/deliveries/{delivery_id}", delivery_info),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
        ],
        lifespan=lifespan,
    )
