"""Why a build failed, in the words of the tool that failed: the failing step and the first
error line of its output (compiler, pip, npm, Maven, a traceback), not the engine's wrapper
("The command '/bin/sh -c /usr/libexec/s2i/assemble' returned a non-zero code: 2").

A FailureSpotter reads the engine's output line by line as the build runs (bounded memory:
only the step being run and the first few errors are kept). Engines announce each Dockerfile
instruction ("Step 5/11 : RUN …" from docker's classic builder, "STEP 5/6: RUN …" from
buildah), so the spotter knows which s2i script (`assemble`, `save-artifacts`) was running
when the output was written. Errors with a position (`file:line:col: message` and the forms
javac, Maven and tsc print) are also kept as Diagnostics, with paths relative to the source
tree, for annotations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.quoting import plain

# The most a reason quotes of a tool's line (a commit status description holds 140 characters
# in all: GitHub's "Create a commit status", `description`).
MAX_MESSAGE = 200
MAX_DIAGNOSTICS = 50  # what one GitHub check run update takes ("annotations", at most 50)

# "Step 5/11 : RUN /usr/libexec/s2i/assemble" (docker), "[1/2] STEP 5/6: RUN …" (buildah).
_STEP = re.compile(r"^(?:\[\d+/\d+\] )?(?:Step|STEP) \d+/\d+ ?: ?(?P<instruction>.*)$")
# `assemble-dependencies`: the dependency layer's step (bot/runner/dependency_layer.py),
# before `assemble`, which `\b` alone would also match in it.
_S2I_SCRIPT = re.compile(
    r"^RUN .*?/(?P<script>assemble-dependencies|assemble-runtime|assemble|save-artifacts)\b"
)

# What the engines and our builders say around a failing step, never the reason itself.
_NOISE = re.compile(
    r"^(?:The command '.*' returned a non-zero code: \d+"
    r"|subprocess exited with status \d+"
    r"|Error: building at STEP .*"
    r"|error building at STEP .*"
    r"|---> .*|\s*\^+\s*|\s*)$"
)

# Where s2i builders keep the application's source: /tmp/src (s2i's destination, the
# `io.openshift.s2i.destination` label) and /opt/app-root/src (the sclorg images' and ours).
_SOURCE_ROOTS = ("/tmp/src/", "/opt/app-root/src/", "./")

# Positioned errors, each as (pattern, path, line, column, message) groups.
_POSITIONED = [
    # Go, gcc/clang, eslint's unix formatter, tsc --pretty: path:line:col: message
    re.compile(r"^(?P<path>[\w./@+-]+\.\w+):(?P<line>\d+):(?P<col>\d+):? -? ?(?P<msg>.+)$"),
    # javac: Main.java:26: error: cannot find symbol
    re.compile(r"^(?P<path>[\w./@+-]+\.\w+):(?P<line>\d+): (?P<msg>error: .+)$"),
    # Maven's compiler plugin: [ERROR] /tmp/src/src/Main.java:[26,15] cannot find symbol
    re.compile(
        r"^\[ERROR\] (?P<path>/?[\w./@+-]+\.\w+):\[(?P<line>\d+),(?P<col>\d+)\] (?P<msg>.+)$"
    ),
    # tsc without --pretty: src/index.ts(3,7): error TS2322: …
    re.compile(r"^(?P<path>[\w./@+-]+\.\w+)\((?P<line>\d+),(?P<col>\d+)\): (?P<msg>.+)$"),
]

# A tool's own error line, the prefix dropped.
_TOOL_ERROR = [
    re.compile(r"^ERROR: (?P<msg>.+)$"),  # pip
    re.compile(r"^npm (?:ERR!|error) (?P<msg>.+)$"),  # npm 6-9, npm 10
    re.compile(r"^\[ERROR\] (?P<msg>.+)$"),  # Maven
    re.compile(r"^(?:error|fatal)(?:\[\w+\])?: (?P<msg>.+)$"),  # git, rustc, cc
]
# npm's and Maven's lines around the error that say nothing about it.
_TOOL_CHATTER = re.compile(
    r"^(?:code \w+|errno -?\w+|syscall \w+|\d{3}\s*|A complete log of this run.*|\s+/.*\.log"
    r"|COMPILATION ERROR :?|-> \[Help \d+\]|To see the full stack trace.*|Re-run Maven.*"
    r"|For more information about the errors.*|\[Help \d+\] http.*|\s*)$"
)
# An exception's own line: "Error: Cannot find module …", "ModuleNotFoundError: No module …".
_EXCEPTION = re.compile(r"^(?P<msg>(?:[A-Z]\w*(?:Error|Exception)|Error)(?::\s.*)?)$")
_TRACEBACK = "Traceback (most recent call last):"
_TRACEBACK_FRAME = re.compile(r'^\s+File "(?P<path>[^"]+)", line (?P<line>\d+)')


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """An error at a place in the source: path relative to the source tree's root."""

    path: str
    line: int
    column: int | None
    message: str


def source_path(path: str) -> str:
    """A path as the tool printed it, relative to the repository's root."""
    for root in _SOURCE_ROOTS:
        if path.startswith(root):
            return path[len(root) :]
    return path


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def positioned(line: str) -> Diagnostic | None:
    """The Diagnostic a line states, if it names a file and a line."""
    for pattern in _POSITIONED:
        if match := pattern.match(line):
            column = match.groupdict().get("col")
            return Diagnostic(
                source_path(match["path"]), int(match["line"]),
                int(column) if column else None, _clip(match["msg"]),
            )  # fmt: skip
    return None


class FailureSpotter:
    """Fed the engine's output line by line; says what failed once the build has."""

    def __init__(self, max_diagnostics: int = MAX_DIAGNOSTICS) -> None:
        self._max_diagnostics = max_diagnostics  # the most kept (check runs take more)
        self._start("")

    def _start(self, step: str) -> None:
        self.step = step  # the instruction being run, e.g. "RUN /usr/libexec/s2i/assemble"
        self._first_positioned: str | None = None
        self._first_other: str | None = None
        self._traceback: str | None = None  # the frame position of a traceback being read
        self.diagnostics: list[Diagnostic] = []

    def feed(self, line: str) -> None:
        line = plain(line)  # a stored log keeps its colours (bot/runner/process.py)
        if match := _STEP.match(line):
            self._start(match["instruction"].strip())  # what the last step said is moot now
            return
        if _NOISE.match(line):
            return
        if self._traceback is not None or line == _TRACEBACK:
            self._read_traceback(line)
            return
        if (diagnostic := positioned(line)) is not None:
            self._diagnose(diagnostic, line)
            return
        for pattern in _TOOL_ERROR:
            if (match := pattern.match(line)) and not _TOOL_CHATTER.match(match["msg"]):
                self._first_other = self._first_other or _clip(match["msg"])
                return
        if match := _EXCEPTION.match(line):
            self._first_other = self._first_other or _clip(match["msg"])

    def _diagnose(self, diagnostic: Diagnostic, line: str) -> None:
        if len(self.diagnostics) < self._max_diagnostics:
            self.diagnostics.append(diagnostic)
        if self._first_positioned is None:
            where = f"{diagnostic.path}:{diagnostic.line}"
            where += f":{diagnostic.column}" if diagnostic.column is not None else ""
            self._first_positioned = f"{where}: {diagnostic.message}"

    def _read_traceback(self, line: str) -> None:
        # Python: frames are indented, the exception is the first line that is not.
        if line == _TRACEBACK:
            self._traceback = ""
            return
        if frame := _TRACEBACK_FRAME.match(line):
            self._traceback = f"{source_path(frame['path'])}:{frame['line']}"
            return
        if line.startswith((" ", "\t")):
            return
        message, where = _clip(line), self._traceback
        self._traceback = None
        if where:
            path, _, number = where.rpartition(":")
            self._diagnose(Diagnostic(path, int(number), None, message), line)
        else:
            self._first_other = self._first_other or message

    @property
    def script(self) -> str | None:
        """The s2i script the failing step ran (`assemble`, `save-artifacts`,
        `assemble-dependencies`), if it was one."""
        match = _S2I_SCRIPT.match(self.step)
        return match["script"] if match else None

    def reason(self) -> str | None:
        """ "assemble failed: main.go:24:7: undefined: fmt.Nope" — or None when the output
        named no error (the caller keeps the engine's own words then)."""
        message = self._first_positioned or self._first_other
        if message is None:
            return None
        return f"{self.script or self.step or 'the build'} failed: {message}"
