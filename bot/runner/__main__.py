"""`python -m bot.runner`: run one build from files, as the local executor and a Job pod do.

    python -m bot.runner --spec spec.json --secrets DIR --workdir DIR --result result.json
        [--private-dir DIR] [--artifact-allowed-host HOST]... [--allow-private-artifact-hosts]
        [--max-artifact-bytes N] [--step build|prepare|export --builder REF [--destination DIR]]

The log goes to stdout; the BuildResult is written as JSON to --result (in a Job pod, the
container's termination message path). Exit status: 0 succeeded, 1 failed, 2 error.
The runner first narrows its own environment to bot/runner/environment.py's allow-list, with
HOME in the workdir, so neither it nor a tool it starts holds anything else of its parent's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path

from bot.build_result import EXIT_CODES, BuildResult
from bot.build_spec import BuildSpec
from bot.runner import handover
from bot.runner.app_layer import BUILDER_LABELS_ENV, IO_DIR
from bot.runner.artifact import DEFAULT_MAX_BYTES, ArtifactPolicy
from bot.runner.environment import minimal_env
from bot.runner.export import run_export
from bot.runner.loopback_relay import relays
from bot.runner.pipeline import RunnerOptions, run_build
from bot.runner.prepare import run_prepare
from bot.runner.process import BuildLog
from bot.runner.supply_chain import SupplyChainTools


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.runner")
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--secrets", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--engine", choices=["docker", "buildah"], default="docker")
    parser.add_argument("--s2i", default="s2i")
    parser.add_argument("--insecure-registry", action="append", default=[])
    parser.add_argument("--private-dir", type=Path, default=None)
    parser.add_argument("--artifact-allowed-host", action="append", default=[])
    parser.add_argument("--allow-private-artifact-hosts", action="store_true")
    parser.add_argument("--max-artifact-bytes", type=int, default=DEFAULT_MAX_BYTES)
    # The unprivileged Job layout's steps (bot/runner/app_layer.py); `build` does it all.
    parser.add_argument("--step", choices=["build", "prepare", "export"], default="build")
    parser.add_argument("--builder", default="", help="the builder's digest reference")
    parser.add_argument("--destination", default="/tmp", help="the builder's s2i destination")
    # LISTEN=TARGET: a loopback address of the build served from another (loopback_relay.py)
    parser.add_argument("--relay", action="append", default=[])
    # Signing (bot/runner/supply_chain.py), when the credentials hold a cosign key.
    parser.add_argument("--syft", default="syft")
    parser.add_argument("--cosign", default="cosign")
    parser.add_argument("--builder-id", default="", help="the bot's public URL")
    args = parser.parse_args(argv)
    # The steps of the unprivileged pod run together (bot/runner/handover.py): prepare says
    # at once that it runs, the export first waits for it.
    together = args.step != "build" and os.environ.get(handover.TOGETHER_ENV) == "1"
    if together and args.step == "prepare":
        handover.announce(Path(IO_DIR), handover.PREPARE)  # held open until this process ends

    spec = BuildSpec.model_validate_json(args.spec.read_text())
    policy = ArtifactPolicy(
        tuple(args.artifact_allowed_host), args.allow_private_artifact_hosts,
        args.max_artifact_bytes,
    )  # fmt: skip
    options = RunnerOptions(
        args.engine, args.s2i, tuple(args.insecure_registry), policy, args.private_dir,
        SupplyChainTools(args.syft, args.cosign), args.builder_id,
    )  # fmt: skip
    log = BuildLog(sys.stdout)
    # Read before the environment is narrowed to the allow-list below.
    labels = os.environ.get(BUILDER_LABELS_ENV)
    args.builder_labels = json.loads(labels) if labels and args.step == "prepare" else None
    args.await_assemble = together
    args.workdir.mkdir(parents=True, exist_ok=True)
    home = args.workdir / "home"
    home.mkdir(mode=0o700, exist_ok=True)
    narrowed = minimal_env(os.environ, home=home)
    os.environ.clear()
    os.environ.update(narrowed)
    if together and args.step == "export" and not _prepared(log):
        return 0  # prepare's termination message is the result
    try:
        # Beside prepare's, the export's relays bind once prepare has closed them.
        with relays(args.relay, wait_seconds=10 if together else 0):
            result = _run_step(args, spec, log, options)
        if result is None:  # assemble failed: the bot reads why from its log
            return 0
    except Exception as exc:  # a bug in the runner must still end the build with a reason
        for line in traceback.format_exc().splitlines():
            log.line(line)
        log.line(f"BUILD ERROR: runner crashed: {exc!r}")
        result = BuildResult(state="error", reason=f"runner crashed: {exc!r}")
    if args.step == "prepare" and result.state == "succeeded":
        code = 0  # the build goes on in the next container: its result is the export's
    else:
        args.result.write_text(result.model_dump_json())
        code = EXIT_CODES[result.state]
    if together and args.step == "prepare":
        # Last, with the relays closed and the message written: assemble and the export
        # go on from here.
        handover.finish(Path(IO_DIR), handover.PREPARE, code)
    return code


def _prepared(log: BuildLog) -> bool:
    """Wait for prepare, which runs beside the export; whether it succeeded. A prepare gone
    without its status gets one written for it: assemble's wrapper waits for it too."""
    io = Path(IO_DIR)
    ended = handover.wait_for(io, handover.PREPARE)
    if ended.status is None:
        handover.finish(io, handover.PREPARE, 1)
    if not ended.succeeded:
        log.line(f"{ended.how}: nothing to export")
    return ended.succeeded


def _run_step(
    args: argparse.Namespace, spec: BuildSpec, log: BuildLog, options: RunnerOptions
) -> BuildResult | None:
    if args.step == "prepare":
        return run_prepare(
            spec, args.secrets, args.workdir, log, options,
            builder=args.builder, destination=args.destination, builder_labels=args.builder_labels,
        )  # fmt: skip
    if args.step == "export":
        return run_export(
            spec, args.secrets, args.workdir, log, options,
            builder=args.builder, await_assemble=args.await_assemble,
        )  # fmt: skip
    return run_build(spec, args.secrets, args.workdir, log, options)


if __name__ == "__main__":
    sys.exit(main())
