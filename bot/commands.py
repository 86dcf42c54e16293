"""`/s2i` commands in pull/merge request comments. Parsing is pure.

/s2i rebuild [name]   build the PR's head again (every build, or the one named)
/s2i cancel [name]    stop the PR's running builds
/s2i ok-to-test       let an outside contributor's PR build, for its current head commit
/s2i help             show this
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "/s2i"
KNOWN = ("rebuild", "cancel", "ok-to-test", "help")

HELP = """\
**s2i-bot commands** (for users with write access to the repository):

| command | what it does |
|---|---|
| `/s2i rebuild [name]` | build the pull request's head commit again, every build or the one named |
| `/s2i cancel [name]` | stop the pull request's running builds |
| `/s2i ok-to-test` | let a pull request from a fork or an outside contributor build \
its current head commit; a later push needs a new approval |
| `/s2i help` | show this help |
"""


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # one of KNOWN, or the unknown word
    argument: str | None = None

    @property
    def known(self) -> bool:
        return self.name in KNOWN


def parse_commands(body: str) -> list[Command]:
    """Every line that starts with `/s2i` is a command; quoted lines (`> /s2i ...`) and code
    blocks are not, so quoting someone's command does not run it again."""
    commands = []
    in_code = False
    for raw in body.splitlines():
        line = raw.strip()
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code or not (line == PREFIX or line.startswith(PREFIX + " ")):
            continue
        words = line.split()[1:]
        if not words:
            commands.append(Command("help"))
            continue
        commands.append(Command(words[0].lower(), words[1] if len(words) > 1 else None))
    return commands
