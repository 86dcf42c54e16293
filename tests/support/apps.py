"""Sample application sources for tests and benchmarks (tests/apps, plus generated code), and
repositories on a forge that hold one with its .s2i.yaml."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tests.support.forges import Harness
from tests.support.names import unique

APPS = Path(__file__).resolve().parents[1] / "apps"
Files = Mapping[str, str | bytes | None]
MAIN_ONLY = "{branches: [main]}"


def app_files(name: str) -> dict[str, str | bytes | None]:
    root = APPS / name
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def generated_go(index: int, types: int = 150) -> str:
    """Go code the compiler has to work on: small types with a loop-and-switch method each.
    Forty such files take the Go builder some seconds: a build long enough to watch."""
    parts = ["package main\n"]
    for i in range(types):
        n = index * 1000 + i
        parts.append(
            f"type T{n} struct {{ A, B, C int; S string; M map[string]int }}\n"
            f"func (t *T{n}) Work(x int) int {{\n\ts := 0\n\tfor i := 0; i < x; i++ {{\n"
            "\t\tswitch i % 4 {\n\t\tcase 0: s += t.A * i\n\t\tcase 1: s -= t.B + i\n"
            "\t\tcase 2: s ^= t.C << 1\n\t\tdefault: t.M[t.S] = s\n\t\t}\n\t}\n\treturn s\n}\n"
            f"var _ = (&T{n}{{M: map[string]int{{}}}}).Work\n"
        )
    return "".join(parts)


def slow_go_app(files: int = 40) -> dict[str, str | bytes | None]:
    """The Go sample plus generated code: a build of several seconds."""
    generated: dict[str, str | bytes | None] = {
        f"generated{i}.go": generated_go(i) for i in range(files)
    }
    return app_files("go-hello") | generated


def s2i_yaml(image: str, triggers: str = MAIN_ONLY, *, template: str = "go") -> str:
    """A .s2i.yaml with one build, `web`, of `template` into `image`."""
    return (
        f"builds:\n  - name: web\n    template: {template}\n    image: {image}\n"
        f"    triggers: {triggers}\n"
    )


def app_repo(
    forge: Harness, registry: str, name: str, files: Files, triggers: str = MAIN_ONLY,
    *, template: str = "go",
) -> tuple[str, str, str]:  # fmt: skip
    """A new repository (a unique name from `name`) holding `files` and a .s2i.yaml whose image
    (built with `template`) is named after the repository in `registry`, so no two tests push
    to one registry repository. Returns the repository, the image and the commit."""
    repo = forge.create_repo(unique(f"acme/{name}"))
    image = f"{registry}/{repo}".lower()  # registry repository names are lower case
    config = s2i_yaml(image, triggers, template=template)
    sha = forge.commit(repo, {**files, ".s2i.yaml": config})
    return repo, image, sha
