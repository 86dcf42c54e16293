"""`python -m bot.runner`: run one build from files, as the local executor and a Job pod do.

    python -m bot.runner --spec spec.json --secrets DIR --workdir DIR --result result.json

The log goes to stdout; the BuildResult is written as JSON to --result (in a Job pod, the
container's termination message path). Exit status: 0 succeeded, 1 failed, 2 error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.build_result import EXIT_CODES, BuildResult
from bot.build_spec import BuildSpec
from bot.runner.pipeline import RunnerOptions, run_build
from bot.runner.process import BuildLog


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.runner")
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--secrets", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--engine", choices=["docker", "buildah"], default="docker")
    parser.add_argument("--s2i", default="s2i")
    parser.add_argument("--insecure-registry", action="append", default=[])
    args = parser.parse_args(argv)

    spec = BuildSpec.model_validate_json(args.spec.read_text())
    options = RunnerOptions(args.engine, args.s2i, tuple(args.insecure_registry))
    log = BuildLog(sys.stdout)
    args.workdir.mkdir(parents=True, exist_ok=True)
    try:
        result = run_build(spec, args.secrets, args.workdir, log, options)
    except Exception as exc:  # a bug in the runner must still end the build with a reason
        log.line(f"BUILD ERROR: runner crashed: {exc!r}")
        result = BuildResult(state="error", reason=f"runner crashed: {exc!r}")
    args.result.write_text(result.model_dump_json())
    return EXIT_CODES[result.state]


if __name__ == "__main__":
    sys.exit(main())
