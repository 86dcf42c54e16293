"""Sample application sources for tests and benchmarks (tests/apps, plus generated code)."""

from __future__ import annotations

from pathlib import Path

APPS = Path(__file__).resolve().parents[1] / "apps"


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
