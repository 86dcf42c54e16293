"""Benchmark: a clean build against an incremental rebuild after a one-line change, for the
Go, Python and Node samples; and the final image against the builder image for Go and Java.

Each round builds a sample into a new image (so there is no previous build: clean), changes
one line, and builds again (incremental: save-artifacts of the first build restored). The
same runner as the bot's, through `s2i-bot build`'s code, with the docker engine.

    .venv/bin/python -m bench.incremental [--rounds 3] [--apps go,python,nodejs]

Prints the median of each, the speed-up (goal: at least 2x), and the sizes (goal: the
runtime image at most a quarter of the builder image).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from bot.local_build import build_locally, local_specs
from bot.runner.build import RunnerOptions
from bot.runner.credentials import Credentials
from bot.templates import load_templates
from tests.support.apps import APPS
from tests.support.bot_process import REPO_ROOT
from tests.support.testenv import ProvisionedEnv

SAMPLES = {
    "go": ("go-hello", "main.go", "//"),
    "python": ("python-hello", "app.py", "#"),
    "nodejs": ("node-hello", "server.js", "//"),
    "java": ("java-hello", "pom.xml", "<!-- -->"),
}


def build_once(env: ProvisionedEnv, tree: Path, work: Path) -> tuple[float, str]:
    templates = load_templates(REPO_ROOT / "config" / "templates")
    specs = local_specs(tree, templates, builder_registry=env.builder_registry)
    credentials = Credentials(None, json.loads(env.auth_file(work).read_text()))
    options = RunnerOptions("docker", env.s2i)
    start = time.monotonic()
    with contextlib.redirect_stdout(io.StringIO()) as out:
        (result,) = build_locally(specs, credentials, work / secrets.token_hex(4), options)
    elapsed = time.monotonic() - start
    if result.state != "succeeded":
        raise SystemExit(f"{tree.name}: {result.reason}\n{out.getvalue()[-3000:]}")
    return elapsed, out.getvalue()


def sample_tree(work: Path, template: str, image: str) -> Path:
    app, _, _ = SAMPLES[template]
    root = work / f"{app}-{secrets.token_hex(3)}"
    shutil.copytree(APPS / app, root)
    build = {"name": "web", "template": template, "image": image, "incremental": True,
             "triggers": {"branches": ["main"]}}  # fmt: skip
    (root / ".s2i.yaml").write_text(yaml.safe_dump({"builds": [build]}))
    return root


def image_size(ref: str) -> int:
    """The uncompressed size of an image the docker engine built or provisioning tagged."""
    out = subprocess.run(["docker", "image", "inspect", "--format", "{{.Size}}", ref],
                         check=True, capture_output=True, text=True)  # fmt: skip
    return int(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--apps", default="go,python,nodejs")
    args = parser.parse_args()
    env = ProvisionedEnv.load()
    work = Path(tempfile.mkdtemp(prefix="s2i-bot-bench-incr-"))
    try:
        for template in args.apps.split(","):
            _, changed, comment = SAMPLES[template]
            clean, incremental = [], []
            for _ in range(args.rounds):
                image = f"{env.registry}/bench/incr-{template}-{secrets.token_hex(3)}"
                tree = sample_tree(work, template, image)
                first, _ = build_once(env, tree, work)
                target = tree / changed
                if changed.endswith(".xml"):
                    target.write_text(target.read_text() + "\n<!-- one more line -->\n")
                else:
                    target.write_text(target.read_text() + f"\n{comment} one more line\n")
                second, log = build_once(env, tree, work)
                assert "incremental build" in log, log[-2000:]
                clean.append(first)
                incremental.append(second)
                print(f"[{template}] clean {first:.2f}s  incremental {second:.2f}s", flush=True)
            c, i = statistics.median(clean), statistics.median(incremental)
            print(f"[{template}] median clean {c:.2f}s, incremental {i:.2f}s: "
                  f"{c / i:.2f}x faster (goal >= 2x)", flush=True)  # fmt: skip
        for template in ("go", "java"):
            image = f"{env.registry}/bench/size-{template}-{secrets.token_hex(3)}"
            tree = sample_tree(work, template, image)
            build_once(env, tree, work)
            final, builder = image_size(f"{image}:local"), image_size(env.images[template])
            share = final / builder
            print(f"[{template}] final image {final / 1e6:.1f} MB, builder image "
                  f"{builder / 1e6:.1f} MB: {share:.2f} of it (goal <= 0.25)")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
