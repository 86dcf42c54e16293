"""Benchmark: a clean build against an incremental rebuild after a one-line change, for
realistic Go, Python and Node applications; and the final image against the builder image
for Go and Java (their committed samples).

The applications are generated in a temporary directory, sized like real ones where the
time goes: Go with a heavy vendored dependency (four generated packages the compiler works
on for seconds), Python with Django, gunicorn and compiled wheels (PyYAML, Pillow) from PyPI,
Node with express and a few more from the npm registry (its package-lock.json made once per
run with the host's npm). Each round builds one into a new image (so there is no previous
build: clean), changes one line of the application's own code, and builds again
(incremental: save-artifacts of the first build restored, and the dependency layer of the
python and nodejs builders reused). Each round's application is a new one (its dependency
files name it), so its first build reuses nothing of an earlier round's. The same runner as
the bot's, through `s2i-bot build`'s code, with the docker engine. The images it built are
removed from the docker engine at the end.

    .venv/bin/python -m bench.incremental [--rounds 3] [--apps go,python,nodejs]
        [--builder-registry 127.0.0.1:5000/staging]   # builder images pushed elsewhere

Prints the median of each, the speed-up (goal: at least 2x), and the sizes, all measured in
this run: the application image built on the template's runtime image, the runtime image and
the builder image, and the application image as a share of the builder image (goals: Go at
most 0.05, a static binary on a scratch runtime; Java at most 0.25, a jlinked JRE).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import yaml

from bot.runner.credentials import Credentials
from bot.runner.pipeline import RunnerOptions
from bot.templates import load_templates
from bot.working_tree_build import build_locally, local_specs
from tests.support.apps import APPS, generated_go
from tests.support.bot_process import REPO_ROOT
from tests.support.testenv import ProvisionedEnv

SAMPLES = {
    "go": ("go-hello", "main.go", "//"),
    "python": ("python-hello", "app.py", "#"),
    "nodejs": ("node-hello", "server.js", "//"),
    "java": ("java-hello", "pom.xml", "<!-- -->"),
}

# The application image as a share of the builder image, at most (--sizes).
SIZE_GOALS = {"go": 0.05, "java": 0.25}

# The realistic applications: files by path. The file changed between the two builds is the
# one SAMPLES names.
HEAVY_PACKAGES, HEAVY_FILES = 4, 10  # vendor/example.com/heavy/p0..p3, 10 generated files each

GO_MAIN = """// A web service whose time goes into compiling a heavy vendored dependency.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"

{imports}
)

func main() {{
	port := os.Getenv("PORT")
	if port == "" {{
		port = "8080"
	}}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {{
		fmt.Fprintln(w, "Hello from a heavy Go service:", {calls})
	}})
	log.Fatal(http.ListenAndServe(":"+port, nil))
}}
"""

PYTHON_REQUIREMENTS = """\
Django==4.2.16
gunicorn==23.0.0
PyYAML==6.0.2
pillow==10.4.0
"""

PYTHON_APP = """\
\"\"\"A Django project in one file, served by gunicorn (APP_MODULE=app:application).\"\"\"
import os

import yaml
from PIL import Image
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpResponse
from django.urls import path

settings.configure(DEBUG=False, ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__,
                   SECRET_KEY=os.environ.get("SECRET_KEY", "bench"))


def index(request):
    size = Image.new("RGB", (4, 4)).size
    return HttpResponse(yaml.safe_dump({"hello": "from Django", "image": list(size)}))


urlpatterns = [path("", index)]
application = get_wsgi_application()
"""

NODE_PACKAGE = {
    "name": "node-bench", "version": "1.0.0", "private": True, "main": "server.js",
    "scripts": {"start": "node server.js"},
    "dependencies": {"express": "^4.21.0", "body-parser": "^1.20.0", "lodash": "^4.17.21",
                     "dayjs": "^1.11.0", "uuid": "^9.0.0", "axios": "^1.7.0",
                     "pino": "^9.0.0", "helmet": "^7.1.0"},
}  # fmt: skip

NODE_SERVER = """\
// An express service with a few real dependencies.
const express = require("express");
const helmet = require("helmet");
const dayjs = require("dayjs");
const _ = require("lodash");
const { v4: uuid } = require("uuid");
const logger = require("pino")();

const app = express();
app.use(helmet());
const greeting = () => `${_.upperFirst("express")} ${dayjs().year()} ${uuid()}`;
app.get("/", (req, res) => res.send(`Hello from Node.js ${greeting()}\\n`));
app.listen(process.env.PORT || 8080, () => logger.info("listening"));
"""


def go_app() -> dict[str, str]:
    files = {"go.mod": "module example.com/bench\n\ngo 1.19\n\nrequire example.com/heavy v0.1.0\n"}
    modules = "# example.com/heavy v0.1.0\n## explicit\n"
    imports, calls = [], []
    for p in range(HEAVY_PACKAGES):
        modules += f"example.com/heavy/p{p}\n"
        for f in range(HEAVY_FILES):
            code = generated_go(p * HEAVY_FILES + f).replace("package main", f"package p{p}", 1)
            files[f"vendor/example.com/heavy/p{p}/gen{f}.go"] = code
        name_func = f'func Name() string {{ return "p{p}" }}\n'
        files[f"vendor/example.com/heavy/p{p}/api.go"] = (
            f"package p{p}\n\n// Name names the package.\n{name_func}"
        )
        imports.append(f'\t"example.com/heavy/p{p}"')
        calls.append(f"p{p}.Name()")
    files["vendor/modules.txt"] = modules
    files["main.go"] = GO_MAIN.format(imports="\n".join(imports), calls=", ".join(calls))
    return files


def python_app() -> dict[str, str]:
    return {"requirements.txt": PYTHON_REQUIREMENTS, "app.py": PYTHON_APP,
            ".s2i/environment": "APP_MODULE=app:application\n"}  # fmt: skip


def node_app(work: Path) -> dict[str, str]:
    """The package and its package-lock.json, resolved once (npm, no install)."""
    lock_dir = work / "node-lock"
    lock_dir.mkdir(exist_ok=True)
    if not (lock_dir / "package-lock.json").exists():
        (lock_dir / "package.json").write_text(json.dumps(NODE_PACKAGE, indent=2) + "\n")
        subprocess.run(["npm", "install", "--package-lock-only", "--ignore-scripts", "--no-audit",
                        "--no-fund"], cwd=lock_dir, check=True, capture_output=True)  # fmt: skip
    return {"package.json": (lock_dir / "package.json").read_text(),
            "package-lock.json": (lock_dir / "package-lock.json").read_text(),
            "server.js": NODE_SERVER}  # fmt: skip


@contextlib.contextmanager
def stdout_captured() -> Iterator[io.StringIO]:
    """What is written to file descriptor 1 meanwhile, the runner's included: it is a child
    process that inherits the descriptor, which contextlib.redirect_stdout does not replace."""
    out = io.StringIO()
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 1)
        try:
            yield out
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
            capture.seek(0)
            out.write(capture.read().decode(errors="replace"))


def build_once(env: ProvisionedEnv, tree: Path, work: Path, registry: str) -> tuple[float, str]:
    templates = load_templates(REPO_ROOT / "config" / "templates")
    specs = local_specs(tree, templates, builder_registry=registry)
    credentials = Credentials(None, json.loads(env.auth_file(work).read_text()))
    options = RunnerOptions("docker", env.s2i)
    build_dir = work / secrets.token_hex(4)
    build_dir.mkdir()  # build_locally writes into it, as `s2i-bot build` gives it a temporary one
    start = time.monotonic()
    with stdout_captured() as out:
        (result,) = build_locally(specs, credentials, build_dir, options)
    elapsed = time.monotonic() - start
    if result.state != "succeeded":
        raise SystemExit(f"{tree.name}: {result.reason}\n{out.getvalue()[-3000:]}")
    return elapsed, out.getvalue()


def sample_tree(work: Path, template: str, image: str, realistic: bool = True) -> Path:
    app, _, _ = SAMPLES[template]
    root = work / f"{app}-{secrets.token_hex(3)}"
    if realistic and template in ("go", "python", "nodejs"):
        makers: dict[str, Callable[[], dict[str, str]]] = {
            "go": go_app, "python": python_app, "nodejs": lambda: node_app(work),
        }  # fmt: skip
        files = makers[template]()
        # A new application each round: its dependency files differ from every earlier
        # round's, so its first build finds no dependency layer of theirs in the engine's
        # cache (bot/runner/dependency_layer.py) and is as clean as a new application's.
        mark = f"application {root.name}"
        if template == "python":
            files["requirements.txt"] = f"# {mark}\n" + files["requirements.txt"]
        elif template == "nodejs":
            package = json.loads(files["package.json"]) | {"description": mark}
            files["package.json"] = json.dumps(package, indent=2) + "\n"
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
    else:
        shutil.copytree(APPS / app, root)
    build = {"name": "web", "template": template, "image": image, "incremental": True,
             "triggers": {"branches": ["main"]}}  # fmt: skip
    (root / ".s2i.yaml").write_text(yaml.safe_dump({"builds": [build]}))
    return root


def image_ids(image: str) -> list[str]:
    """The ids of the image (and cache image) just built: a second build takes their tags."""
    refs = [f"{image}:{tag}" for tag in ("local", "local-s2i-cache")]
    out = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", *refs],
                         capture_output=True, text=True, check=False)  # fmt: skip
    return out.stdout.split()


def remove_images(ids: list[str]) -> None:
    """The images this run built (tagged or not any more), from the docker engine."""
    if ids:
        subprocess.run(["docker", "image", "rm", "-f", *dict.fromkeys(ids)],
                       capture_output=True, check=False)  # fmt: skip


def image_size(ref: str) -> int:
    """The uncompressed size of an image the docker engine built or provisioning tagged."""
    out = subprocess.run(["docker", "image", "inspect", "--format", "{{.Size}}", ref],
                         check=True, capture_output=True, text=True)  # fmt: skip
    return int(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--apps", default="go,python,nodejs")
    parser.add_argument("--builder-registry", help="where the builder images are "
                        "(default: the provisioned registry)")  # fmt: skip
    parser.add_argument("--sizes", default="go,java", help="templates whose final image is "
                        "compared with the builder image ('' for none)")  # fmt: skip
    args = parser.parse_args()
    env = ProvisionedEnv.load()
    registry = args.builder_registry or env.builder_registry
    work = Path(tempfile.mkdtemp(prefix="s2i-bot-bench-incr-"))
    built: list[str] = []
    try:
        for template in filter(None, args.apps.split(",")):
            _, changed, comment = SAMPLES[template]
            clean, incremental = [], []
            for _ in range(args.rounds):
                image = f"{env.registry}/bench/incr-{template}-{secrets.token_hex(3)}"
                tree = sample_tree(work, template, image)
                first, _ = build_once(env, tree, work, registry)
                built += image_ids(image)
                target = tree / changed
                if changed.endswith(".xml"):
                    target.write_text(target.read_text() + "\n<!-- one more line -->\n")
                else:
                    target.write_text(target.read_text() + f"\n{comment} one more line\n")
                second, log = build_once(env, tree, work, registry)
                built += image_ids(image)
                assert "incremental build" in log, log[-2000:]
                clean.append(first)
                incremental.append(second)
                print(f"[{template}] clean {first:.2f}s  incremental {second:.2f}s", flush=True)
            c, i = statistics.median(clean), statistics.median(incremental)
            print(f"[{template}] median clean {c:.2f}s, incremental {i:.2f}s: "
                  f"{c / i:.2f}x faster (goal >= 2x)", flush=True)  # fmt: skip
        for template in filter(None, args.sizes.split(",")):
            image = f"{env.registry}/bench/size-{template}-{secrets.token_hex(3)}"
            tree = sample_tree(work, template, image, realistic=False)
            build_once(env, tree, work, registry)
            built += image_ids(image)
            spec = load_templates(REPO_ROOT / "config" / "templates")[template]
            final = image_size(f"{image}:local")
            builder = image_size(f"{registry}/{spec.builder}")
            on = ""
            if spec.runtime is not None:
                runtime = image_size(f"{registry}/{spec.runtime.image}")
                on = f" (runtime image {runtime / 1e6:.1f} MB + {(final - runtime) / 1e6:.1f} MB)"
            share, goal = final / builder, SIZE_GOALS.get(template, 0.25)
            print(f"[{template}] final image {final / 1e6:.1f} MB{on}, builder image "
                  f"{builder / 1e6:.1f} MB: {share:.3f} of it (goal <= {goal}: "
                  f"{'met' if share <= goal else 'MISSED'})", flush=True)  # fmt: skip
    finally:
        remove_images(built)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
