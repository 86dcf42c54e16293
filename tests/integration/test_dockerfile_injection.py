"""No `.s2i.yaml` value yields a Dockerfile instruction the runner did not write.

Hypothesis writes `.s2i.yaml` files whose runtime image, runtime artifacts, env names and
env values are arbitrary text (newlines, quotes, backslashes, `$`, any Unicode). Each file
is read as the bot reads it; a file it accepts is planned, and its Dockerfile made as the
runner makes it: the real `s2i build --as-dockerfile` (which writes the env into ENV) and
the runner's own runtime stage. That Dockerfile is then parsed the way Docker's parser reads
one (lines end at "\\n", `\\` continues a line, `#` lines are comments), and its instructions
must be exactly the ones the runner meant: the same keywords in the same order, FROM the
planned images, ENV holding exactly the planned env, COPY exactly the planned artifacts.
A file the bot accepts must also be one the runner renders (no value refused only later).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.events import Event, EventKind, Repo
from bot.planner import plan
from bot.repo_config import RepoConfigError, parse_repo_config
from bot.runner import dockerfile, s2i
from bot.templates import load_templates
from tests.support.testenv import ProvisionedEnv

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = load_templates(REPO_ROOT / "config" / "templates")
# A registry nobody answers on: s2i only warns that it cannot read the labels itself.
BUILDER_REGISTRY = "127.0.0.1:1"
LABELS = {s2i.SCRIPTS_URL: s2i.DEFAULT_SCRIPTS_URL, s2i.ASSEMBLE_USER: "1001"}
EVENT = Event(
    EventKind.PUSH, Repo("github", "acme/web", "https://github.example/acme/web.git"),
    "refs/heads/main", "a" * 40, "mallory", "delivery",
)  # fmt: skip

# Text a repository writer would try: what ends or escapes an instruction, and anything else.
ATTACK = st.sampled_from(
    ["\n", "\r", "\r\n", "\\", "\\\n", '"', "'", "$", "${HOME}", " ", "\t", "#", "\x00", "\x85",
     "\u2028", "USER root", "RUN id", "[", "]", ",", ":", "/", "FROM scratch", "\\\\"]
)  # fmt: skip
TEXT = st.lists(st.one_of(ATTACK, st.text(max_size=6)), max_size=6).map("".join)
ENV_NAME = st.one_of(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True), TEXT)
PATH = st.one_of(st.from_regex(r"/[a-z0-9/._-]{0,12}", fullmatch=True), TEXT)
IMAGE = st.one_of(
    st.sampled_from(["s2i-bot/static:latest", "registry.example.com/a/run:1.0", "run"]), TEXT
)


@st.composite
def s2i_yamls(draw: st.DrawFn) -> str:
    build: dict[str, object] = {
        "name": "web", "template": "static", "image": "registry.example.com/acme/web",
        "triggers": {"branches": ["main"]},
        "env": draw(st.dictionaries(ENV_NAME, st.one_of(TEXT, st.integers()), max_size=3)),
    }  # fmt: skip
    if draw(st.booleans()):
        artifacts = draw(st.lists(st.tuples(PATH, PATH), min_size=1, max_size=3))
        build["runtime"] = {
            "image": draw(IMAGE),
            "artifacts": [f"{source}:{destination}" for source, destination in artifacts],
        }
    return yaml.safe_dump({"builds": [build]}, allow_unicode=True)


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) as Docker's parser reads them (moby/buildkit
    frontend/dockerfile/parser: ScanLines, `\\` line continuation, `#` comment lines)."""
    found: list[tuple[str, str]] = []
    pending = ""
    for raw in text.split("\n"):
        line = raw.removesuffix("\r")
        stripped = line.strip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1]
            continue
        logical = (pending + stripped).strip()
        pending = ""
        keyword, _, arguments = logical.partition(" ")
        found.append((keyword.upper(), arguments.strip()))
    if pending.strip():
        keyword, _, arguments = pending.strip().partition(" ")
        found.append((keyword.upper(), arguments.strip()))
    return found


_ENV_PAIR = re.compile(r'([^\s=]+)="((?:[^"\\]|\\.)*)"')


def env_pairs(arguments: str) -> dict[str, str]:
    """ENV NAME="VALUE" ... as s2i writes it (escaping $, " and \\), decoded as Docker does."""
    pairs = {}
    rest = arguments
    while rest:
        match = _ENV_PAIR.match(rest)
        assert match, f'not a NAME="VALUE" pair: {rest!r}'
        pairs[match.group(1)] = re.sub(r"\\(.)", r"\1", match.group(2))
        rest = rest[match.end() :].strip()
    return pairs


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("source")
    (src / "index.html").write_text("<h1>hi</h1>\n")
    return src


@pytest.mark.e2e  # the real s2i of scripts/provision.sh (testenv)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(text=s2i_yamls())
def test_no_s2i_yaml_value_yields_an_instruction_the_runner_did_not_write(
    text: str, testenv: ProvisionedEnv, source: Path, tmp_path: Path
) -> None:
    try:
        config = parse_repo_config(text, templates=TEMPLATES.keys())
    except RepoConfigError:
        event("refused when read")
        return  # refused with a failed s2i/config status: nothing is built
    (spec,) = plan(EVENT, config, TEMPLATES, builder_registry=BUILDER_REGISTRY)
    event(f"accepted: {len(spec.env)} env, {'a' if spec.runtime else 'no'} runtime stage")

    # The runner's steps, as bot/runner/pipeline.py takes them.
    generated = tmp_path / f"out-{abs(hash(text))}" / "Dockerfile"
    argv = s2i.s2i_argv(
        testenv.s2i, source=source, builder_image=spec.builder_image, dockerfile=generated,
        labels=LABELS, env=spec.env,
    )  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    text_out = dockerfile.name_builder_stage(generated.read_text(), spec.builder_image)
    if spec.runtime is not None:
        stage = dockerfile.runtime_stage(
            text_out, spec.runtime, scripts_dir="/usr/libexec/s2i", user="1001"
        )
        text_out = text_out.rstrip("\n") + "\n\n" + stage

    found = instructions(text_out)
    expected = ["FROM", "LABEL", *(["ENV"] if spec.env else []), "COPY", "USER", "RUN", "CMD"]
    if spec.runtime is not None:
        expected += ["FROM", "LABEL", *["COPY"] * len(spec.runtime.artifacts), "USER", "CMD"]
    assert [keyword for keyword, _ in found] == expected, text_out

    assert found[0][1] == f"{spec.builder_image} AS {dockerfile.BUILDER_STAGE}"
    if spec.env:
        (env,) = [arguments for keyword, arguments in found if keyword == "ENV"]
        # s2i trims the whitespace around names and values (EnvironmentList.Set,
        # source-to-image pkg/api/types.go); nothing else of a value changes.
        assert env_pairs(env) == {k.strip(): v.strip() for k, v in spec.env.items()}
    if spec.runtime is not None:
        runtime_from = found[len(expected) - len(spec.runtime.artifacts) - 4]
        assert runtime_from == ("FROM", spec.runtime.image)
        copies = [arguments for keyword, arguments in found if keyword == "COPY"][1:]
        for copy, artifact in zip(copies, spec.runtime.artifacts, strict=True):
            flags, _, paths = copy.rpartition(" [")
            assert flags == f"--from={dockerfile.BUILDER_STAGE} --chown=1001:0"
            destination = artifact.destination.rstrip("/") + "/"
            assert json.loads("[" + paths) == [artifact.source, destination]
        assert found[-2:] == [("USER", "1001"), ("CMD", '["/usr/libexec/s2i/run"]')]
