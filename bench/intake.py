"""Benchmark: how fast the bot acknowledges signed pushes, against a bare endpoint (issue 10).

In one run, the same load generator (wrk from Debian's packages, 16 connections) posts:

  bare: to a Starlette app under uvicorn that reads the body and answers 202 (nothing else)
  bot:  the same signed GitHub push to `s2i-bot serve`, each with a delivery id of its own

The bot's forge is the fake GitHub answering every API call after an injected delay (100 ms,
the real API's order of magnitude), so each delivery's processing (confirming the repository,
reading `.s2i.yaml`) takes forge round trips while intake goes on. The repository has no
`.s2i.yaml`, so nothing but intake and processing is measured (no build, no status).

It prints the throughput of both (2xx answers per second), their ratio (goal >= 0.5), the
bot's p99 latency (goal <= 25 ms); then it waits until the bot processed everything it
stored and checks, in the store and in the fake's request log, that every stored delivery was
processed exactly once.

    .venv/bin/python -m bench.intake [--seconds 10] [--database-url postgresql://...]

A version of the bot without the intake settings (delivery_workers, forge_threads,
max_backlog) runs with its defaults: the same file measures the code before the change.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.settings import Settings
from bot.store import deliveries
from tests.fakes.github import FakeGitHub
from tests.fakes.webhooks import ZERO_SHA, github_headers, push_payload
from tests.support.bot_process import REPO_ROOT, BotProcess, free_port
from tests.support.forges import GITHUB_TOKEN, WEBHOOK_SECRET
from tests.support.names import unique
from tests.support.wait import wait_until

CONNECTIONS = 16
THREADS = 2
FORGE_DELAY = 0.1  # seconds before the fake GitHub answers any API call
# The bot as shipped (delivery_workers, forge_threads: their defaults), but storing all the
# run sends (none refused: a 503 is quicker than a 202). More workers drain the backlog sooner
# and slow intake down: they take the interpreter from the event loop (--set to try).
TUNING = {"max_backlog": 1_000_000}
GOAL_RATIO, GOAL_P99_MS = 0.5, 25.0

# wrk: every request the same signed body, each its own X-GitHub-Delivery (the signature
# covers only the body); done() prints one JSON line the benchmark reads.
WRK_SCRIPT = """
local body_file, headers_file, run = "%(body)s", "%(headers)s", "%(run)s"
local counter, id = 0, 0
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
function init(args)
  id = wrk.thread:get("id")
  local f = io.open(body_file, "rb"); wrk.body = f:read("*a"); f:close()
  for line in io.lines(headers_file) do
    local name, value = line:match("^([^:]+): (.*)$")
    wrk.headers[name] = value
  end
  wrk.method = "POST"
end
function request()
  counter = counter + 1
  wrk.headers["X-GitHub-Delivery"] = run .. "-" .. id .. "-" .. counter
  return wrk.format()
end
function done(summary, latency, requests)
  io.write(string.format(
    '{"requests": %%d, "seconds": %%f, "non2xx": %%d, "socket_errors": %%d, ' ..
    '"p50_us": %%d, "p99_us": %%d}\\n',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


async def bare(request: Request) -> Response:
    await request.body()
    return Response(status_code=202)


bare_app = Starlette(routes=[Route("/webhooks/github", bare, methods=["POST"])])


def serve_bare(port: int) -> None:
    # As `s2i-bot serve` runs uvicorn (bot/cli.py): the same logging, no access lines (the
    # bot's default, access_log: false).
    uvicorn.run(bare_app, host="127.0.0.1", port=port, log_level="info", access_log=False)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process used so far, all its threads (proc(5): stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, work: Path, body: bytes, headers: dict[str, str], seconds: int) -> dict[str, Any]:
    run = uuid.uuid4().hex[:12]
    (work / "body.json").write_bytes(body)
    lines = [f"{k}: {v}" for k, v in headers.items() if k.lower() != "x-github-delivery"]
    (work / "headers.txt").write_text("\n".join(lines) + "\n")
    script = work / f"{run}.lua"
    script.write_text(
        WRK_SCRIPT % {"body": work / "body.json", "headers": work / "headers.txt", "run": run}
    )
    out = subprocess.run(
        ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", str(script), url],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["run"] = run
    result["rate"] = (result["requests"] - result["non2xx"]) / result["seconds"]
    return result


def bot_tuning() -> dict[str, Any]:
    """The intake settings this version of the bot has (none before issue 10's change)."""
    return {k: v for k, v in TUNING.items() if k in Settings.model_fields}


def exactly_once(
    database_url: str, run: str, github: FakeGitHub, repo: str
) -> tuple[int, int, int]:
    """(stored, processed, config reads) of this run's deliveries."""
    engine = sa.create_engine(_sqlalchemy_url(database_url))
    with engine.connect() as conn:
        mine = deliveries.c.id.like(f"{run}-%")
        stored = conn.execute(sa.select(sa.func.count()).where(mine)).scalar() or 0
        processed = (
            conn.execute(
                sa.select(sa.func.count()).where(mine, deliveries.c.processed_at.is_not(None))
            ).scalar()
            or 0
        )
    engine.dispose()
    reads = sum(1 for r in github.requests if r.path.endswith(f"/repos/{repo}/contents/.s2i.yaml"))
    return int(stored), int(processed), reads


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--database-url", default="", help="default: SQLite in the bot's data_dir")
    parser.add_argument(
        "--profile", default="", metavar="FILE",
        help="py-spy's collapsed stacks of the bot during its run (py-spy in the venv)",
    )  # fmt: skip
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="a bot setting for this run (YAML value), e.g. --set delivery_workers=8",
    )  # fmt: skip
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk (scripts/provision.sh installs it)")
    work = Path(tempfile.mkdtemp(prefix="s2i-bot-bench-intake-"))
    bare_port = free_port()
    bare_log = (work / "bare.log").open("wb")
    bare_proc = subprocess.Popen(
        [sys.executable, "-c", f"import bench.intake as b; b.serve_bare({bare_port})"],
        cwd=REPO_ROOT, stdout=bare_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        with FakeGitHub(GITHUB_TOKEN) as github:
            repo = github.create_repo(unique("bench/intake"))
            # No .s2i.yaml (and autodetect off): each delivery reads it once, and that is all.
            sha = repo.commit({"README.md": "nothing to build\n"}, "nothing to build")
            settings: dict[str, Any] = {
                "github": {"api_url": github.api_url, "token": GITHUB_TOKEN,
                           "webhook_secret": WEBHOOK_SECRET},
                "forge_write_interval": 0,
            } | bot_tuning()  # fmt: skip
            for pair in args.set:
                key, _, value = pair.partition("=")
                settings[key] = yaml.safe_load(value)
            if args.database_url:
                settings["database_url"] = args.database_url
            bot = BotProcess(work, settings).start()
            database_url = args.database_url or f"sqlite:///{bot.data_dir / 's2i-bot.db'}"
            try:
                wait_until(
                    lambda: _answers(f"http://127.0.0.1:{bare_port}/webhooks/github"),
                    timeout=30, what="the bare endpoint to answer",
                )  # fmt: skip
                github.api_delay = FORGE_DELAY
                payload = push_payload(repo, ref="refs/heads/main", before=ZERO_SHA, after=sha)
                body = json.dumps(payload).encode()
                headers = github_headers("push", body, WEBHOOK_SECRET)
                url_bare = f"http://127.0.0.1:{bare_port}/webhooks/github"
                before = cpu_seconds(bare_proc.pid)
                bare_result = wrk(url_bare, work, body, headers, args.seconds)
                bare_result["cpu"] = cpu_seconds(bare_proc.pid) - before
                spy = _profile(bot, args.profile, args.seconds) if args.profile else None
                assert bot.pid is not None
                before, forge_before = cpu_seconds(bot.pid), time.process_time()
                bot_result = wrk(f"{bot.url}/webhooks/github", work, body, headers, args.seconds)
                bot_result["cpu"] = cpu_seconds(bot.pid) - before
                # This process's threads: the fake GitHub answering the bot's API calls.
                forge_cpu = time.process_time() - forge_before
                if spy is not None:
                    spy.wait(timeout=120)
                started = time.monotonic()
                wait_until(
                    lambda: _unprocessed(database_url, bot_result["run"]) == 0,
                    timeout=1800, what="the bot to process what it stored",
                )  # fmt: skip
                drain = time.monotonic() - started
                commit = commit_latency(database_url)
                stored, processed, reads = exactly_once(
                    database_url, bot_result["run"], github, repo.full_name
                )
            finally:
                bot.stop()
    finally:
        bare_proc.terminate()
        bare_proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    ratio = bot_result["rate"] / bare_result["rate"]
    store = args.database_url.split(":", 1)[0] if args.database_url else "sqlite"
    tuning = bot_tuning() | dict(pair.partition("=")[::2] for pair in args.set)
    print(f"store: {store}; {CONNECTIONS} connections, {args.seconds}s each, forge delay "
          f"{FORGE_DELAY * 1000:.0f} ms; bot settings {tuning or 'defaults'}")  # fmt: skip
    for name, r in (("bare", bare_result), ("bot", bot_result)):
        print(
            f"{name:4}: {r['rate']:8.1f} 2xx/s  p50 {r['p50_us'] / 1000:6.1f} ms  "
            f"p99 {r['p99_us'] / 1000:6.1f} ms  non-2xx {r['non2xx']}  "
            f"socket errors {r['socket_errors']}"
        )
    print(f"ratio bot / bare: {ratio:.2f} (goal >= {GOAL_RATIO})")
    # Where the difference goes: CPU per answer, of the server and (bot) the fake forge it
    # calls while it processes what it took in, on the same cores as the load generator.
    for name, r in (("bare", bare_result), ("bot", bot_result)):
        print(f"{name:4}: {r['cpu'] / max(r['requests'], 1) * 1000:.2f} ms CPU per request "
              f"({r['cpu']:.1f} s over {args.seconds} s)")  # fmt: skip
    print(f"fake forge: {forge_cpu:.1f} s CPU while the bot ran ({os.cpu_count()} cores in all)")
    # A 202 waits for its delivery's commit (group commits: all that arrived meanwhile), so
    # with 16 connections the bot answers at most about 16 per commit time.
    print(f"store commit after the run: p50 {commit[0]:.1f} ms  p99 {commit[1]:.1f} ms")
    print(f"bot p99: {bot_result['p99_us'] / 1000:.1f} ms (goal <= {GOAL_P99_MS:.0f} ms)")
    print(f"backlog drained {drain:.1f}s after the load; stored {stored}, processed {processed}, "
          f".s2i.yaml reads {reads}")  # fmt: skip
    once = stored == processed == reads and stored >= bot_result["requests"] - bot_result["non2xx"]
    print("every accepted delivery processed exactly once:", "yes" if once else "NO")
    if not once:
        raise SystemExit(1)


def _profile(bot: BotProcess, output: str, seconds: int) -> subprocess.Popen[bytes]:
    assert bot._proc is not None
    py_spy = Path(sys.executable).parent / "py-spy"
    return subprocess.Popen(
        [str(py_spy), "record", "--pid", str(bot._proc.pid), "--duration", str(seconds),
         "--rate", "200", "--threads", "--format", "raw", "--output", output, "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
    except httpx.TransportError:
        return False
    return True


def commit_latency(database_url: str, rounds: int = 200) -> tuple[float, float]:
    """p50 and p99 (ms) of committing one delivery-sized row, on this store as the intake
    writer commits (SQLite: WAL, synchronous=FULL): what a 202 waits for at least."""
    engine = sa.create_engine(_sqlalchemy_url(database_url))
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _synced(connection: Any, _record: Any) -> None:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")

    table = f"bench_commit_{uuid.uuid4().hex[:8]}"
    times = []
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE TABLE {table} (body TEXT)"))
        for _ in range(rounds):
            started = time.perf_counter()
            with engine.begin() as conn:
                conn.execute(sa.text(f"INSERT INTO {table} VALUES (:b)"), {"b": "x" * 7000})
            times.append((time.perf_counter() - started) * 1000)
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE {table}"))
    finally:
        engine.dispose()
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.99)]


def _sqlalchemy_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)  # psycopg 3, as the bot


def _unprocessed(database_url: str, run: str) -> int:
    engine = sa.create_engine(_sqlalchemy_url(database_url))
    try:
        with engine.connect() as conn:
            query = sa.select(sa.func.count()).where(
                deliveries.c.id.like(f"{run}-%"), deliveries.c.processed_at.is_(None)
            )
            return int(conn.execute(query).scalar() or 0)
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
