"""Build secrets: files the operator lends to the builds of chosen repositories (an `.npmrc`
with a registry token, a `pip.conf` with an index URL and password, a Maven `settings.xml`),
mounted only while `assemble` runs. Pure: no I/O.

    build_secrets:                    # settings (bot/settings.py BuildSecretSettings)
      npmrc:
        file: /etc/s2i-bot/npmrc      # local executor; kubernetes_secret: name[/key] for Jobs
        repositories: ["acme/*"]      # fnmatch globs on owner/repo, case-insensitive
        env: NPM_CONFIG_USERCONFIG    # set to the mounted file's path, for assemble only

    builds:                           # .s2i.yaml
      - name: web
        secrets: [npmrc]

A build names the secrets it needs; the operator says which repositories may use each. The
BuildSpec carries only names and variable names (SecretUse), never a value: the files travel
like the build's other credentials (bot/runner/credentials.py) and the runner mounts them with
`RUN --mount=type=secret` on s2i's assemble step alone (bot/runner/dockerfile.py), so no
layer, cache image or environment of the image holds them. Builds of code the repository's
writers did not write (pull requests from forks or from authors without write access, even
approved with `/s2i ok-to-test`) never get them (bot/intake.py, docs/security.md).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from pydantic import BaseModel, ConfigDict

# Where a secret is mounted while assemble runs: /run/secrets/<name>, as BuildKit's default.
MOUNT_DIR = "/run/secrets"
# A name goes into a mount option (id=NAME), a file name and a Kubernetes key path.
NAME = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?")
ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")
# Variables assemble must keep as the image set them (the loader's and the shell's own).
RESERVED_ENV = frozenset({"PATH", "HOME", "SHELL", "USER", "IFS", "ENV", "BASH_ENV"})


class SecretUse(BaseModel):
    """One secret a build mounts: its name and the variable set to its path (or "")."""

    model_config = ConfigDict(frozen=True)
    name: str
    env: str = ""

    @property
    def target(self) -> str:
        return f"{MOUNT_DIR}/{self.name}"


@dataclass(frozen=True, slots=True)
class SecretGrant:
    """What the operator set for one secret: which repositories may use it, and the variable
    assemble finds its path in."""

    name: str
    repositories: tuple[str, ...]
    env: str = ""

    def allows(self, repo: str) -> bool:
        return any(fnmatchcase(repo.lower(), glob.lower()) for glob in self.repositories)


def name_problem(name: str) -> str | None:
    if NAME.fullmatch(name):
        return None
    return (
        f"build secret name '{name[:64]}' must be lower-case letters, digits, '-' and '_' "
        "(at most 63, starting and ending with a letter or digit)"
    )


def env_problem(env: str) -> str | None:
    if not env:
        return None
    if not ENV_NAME.fullmatch(env):
        return f"env '{env[:64]}' must be an upper-case variable name like NPM_CONFIG_USERCONFIG"
    if env in RESERVED_ENV or env.startswith("LD_"):
        return f"env '{env}' is a variable assemble needs as the image sets it; choose another"
    return None


class SecretPolicy:
    """The operator's build secrets, and which repository may use which."""

    def __init__(self, grants: Collection[SecretGrant] = ()) -> None:
        self._grants: Mapping[str, SecretGrant] = {g.name: g for g in grants}

    @property
    def names(self) -> list[str]:
        return sorted(self._grants)

    def problem(self, name: str, repo: str) -> str | None:
        """Why `repo` may not use secret `name`, or None."""
        grant = self._grants.get(name)
        if grant is None:
            known = ", ".join(self.names) or "none: the bot's settings define no build_secrets"
            return f"unknown build secret '{name[:64]}'; known: {known}"
        if not grant.allows(repo):
            return (
                f"repository {repo} may not use build secret '{name}' (the operator lets "
                f"{', '.join(grant.repositories)} use it: build_secrets.{name}.repositories)"
            )
        return None

    def uses(self, names: Collection[str], repo: str) -> tuple[SecretUse, ...]:
        """The mounts of a build that asks for `names`; ValueError naming the first refused."""
        for name in names:
            if problem := self.problem(name, repo):
                raise ValueError(problem)
        return tuple(SecretUse(name=n, env=self._grants[n].env) for n in names)


def untrusted_reason(name: str, secret: str, origin: str) -> str:
    """The failed status of a build that asks for a secret it may not get: the code is
    `origin`'s (a fork, an author without write access)."""
    return (
        f"build '{name}' needs build secret '{secret}', and builds of pull requests from "
        f"{origin} never get build secrets, even after /s2i ok-to-test: the code that would "
        "read it is not this repository's writers'; push the branch to this repository to "
        "build it with its secrets"
    )
