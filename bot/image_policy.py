"""The image policy: which image repositories a build may push to and pull from. Pure.

The registry credentials are the operator's and serve every repository, so the bot decides
where each build may write (docs/security.md, "Registry policy"):

- **push**: a build of forge repository `owner/repo` pushes only under its grants. A grant
  covers an image repository and everything below it. By default each configured registry
  grants `<registry>/<owner>/<repo>` (lower case); `image_policy.push` adds grants per
  repository glob, which may end in `{repo}` (the forge repository, lower case).
- **protected**: never pushed, whatever the grants say: the templates' builder and runtime
  images, the runner image and everything builds may pull from. What builds start from is
  never written by a build.
- **pull**: builder and runtime images (and any other `FROM`) come only from under
  `image_policy.pull` (default `<builder_registry>/s2i-bot`); a build may also start from its
  own previous image (incremental builds).

The bot checks a build's images after planning (bot/planner.py), before anything runs; the
grants travel in the BuildSpec (`images`), and the runner checks them again against what it
is about to pull and push (`before_build`), so a bug or an injection between the two still
cannot write elsewhere.

Image names follow the distribution reference grammar (distribution/reference's
`reference.go`): `[host[:port]/]path[:tag][@digest]`, path components of lower-case letters
and digits joined by `.`, `_`, `__` or `-`; a name without a host is on Docker Hub
(`docker.io`, single names under `library/`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from bot.image_ref import registry_of

if TYPE_CHECKING:
    from bot.build_spec import BuildSpec

DOCKER_HUB = "docker.io"
DEFAULT_RULE = "default <registry>/<owner>/<repo>"
PULL_RULE = "image_policy.pull"
REPO_PLACEHOLDER = "{repo}"
_HUB_ALIASES = {"index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_HOST = re.compile(r"^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::[0-9]+)?$")


class ImagePolicyError(ValueError):
    """A build's images are outside its policy; one message per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def repository(image: str) -> str:
    """The repository an image reference names, host included, tag and digest dropped:
    `127.0.0.1:5000/s2i-bot/go:latest` -> `127.0.0.1:5000/s2i-bot/go`, `debian` ->
    `docker.io/library/debian`. Lower case (hosts are case-insensitive; paths must be lower
    case, so an upper-case one can only fail to push). ValueError for what is not a reference."""
    name = image.strip().split("@", 1)[0]
    if name.rfind(":") > name.rfind("/"):
        name = name[: name.rfind(":")]
    name = name.lower()
    host = registry_of(name)
    path = name[len(host) + 1 :] if host else name
    if host is None or host in _HUB_ALIASES:
        host = DOCKER_HUB
        if "/" not in path:
            path = f"library/{path}"
    if not _HOST.match(host) or not _PATH.match(path):
        raise ValueError(f"'{image}' is not an image reference like registry.example.com/team/app")
    return f"{host}/{path}"


def covers(grant: str, repo: str) -> bool:
    """A grant covers its repository and everything below it, never a sibling:
    `r/acme/web` covers `r/acme/web` and `r/acme/web/api`, not `r/acme/webapp`."""
    return repo == grant or repo.startswith(grant + "/")


class Grant(BaseModel):
    """An image repository (with everything below it) and the rule it comes from, as a
    refusal names it."""

    model_config = ConfigDict(frozen=True)
    image: str
    rule: str


class ImageGrants(BaseModel):
    """What one build may do with images: it travels in its BuildSpec to the runner."""

    model_config = ConfigDict(frozen=True)
    repo: str  # the forge repository the grants are for
    push: tuple[Grant, ...] = ()
    pull: tuple[Grant, ...] = ()
    protected: tuple[Grant, ...] = ()

    def push_problems(self, images: Iterable[str]) -> list[str]:
        problems = []
        for image in dict.fromkeys(images):
            try:
                repo = repository(image)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            guard = next((g for g in self.protected if covers(g.image, repo)), None)
            if guard is not None:
                problems.append(f"{repo} is protected ({guard.rule})")
            elif not any(covers(g.image, repo) for g in self.push):
                problems.append(
                    f"{repo} is not in the push grants of {self.repo} "
                    f"(image_policy: {self._described(self.push) or 'none: set registries'})"
                )
        return problems

    def pull_problems(self, images: Mapping[str, str], own: Collection[str] = ()) -> list[str]:
        """`images`: role -> image (`builder`, `runtime`, `FROM`); `own`: images of this build
        it may start from (its previous image, for an incremental build)."""
        problems = []
        own_repos = {_repository_or_none(i) for i in own} - {None}
        for role, image in images.items():
            try:
                repo = repository(image)
            except ValueError as exc:
                problems.append(f"{role} image: {exc}")
                continue
            if repo in own_repos or any(covers(g.image, repo) for g in self.pull):
                continue
            allowed = ", ".join(g.image for g in self.pull) or "nothing"
            problems.append(f"{role} image {repo} is not in {PULL_RULE} ({allowed})")
        return problems

    @staticmethod
    def _described(grants: tuple[Grant, ...]) -> str:
        rules: dict[str, list[str]] = {}
        for grant in grants:
            rules.setdefault(grant.rule, []).append(grant.image)
        return "; ".join(f"{rule}: {', '.join(images)}" for rule, images in rules.items())


def _repository_or_none(image: str) -> str | None:
    try:
        return repository(image)
    except ValueError:
        return None


@dataclass(frozen=True)
class ImagePolicy:
    """The operator's policy, resolved once at start (bot/wiring.py)."""

    registries: tuple[str, ...]  # the default grant's registries
    default_push: bool = True
    push: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (forge repository glob, images)
    pull: tuple[str, ...] = ()
    protected: tuple[Grant, ...] = ()  # besides `pull`

    @classmethod
    def build(
        cls,
        *,
        registries: Iterable[str],
        default_push: bool = True,
        push: Mapping[str, Iterable[str]] | None = None,
        pull: Iterable[str] = (),
        builder_registry: str | None = None,
        protected: Mapping[str, str] | None = None,
    ) -> ImagePolicy:
        """`pull` empty: `<builder_registry>/s2i-bot`. `protected`: image -> why (the
        templates' images, the runner image). ValueError naming a setting that is not an
        image repository."""
        hosts = tuple(dict.fromkeys(_registry(r) for r in registries if r.strip()))
        grants = tuple(
            (glob, tuple(_push_grant(i, f"image_policy.push['{glob}']") for i in images))
            for glob, images in (push or {}).items()
        )
        pulls = [_setting_repository(i, PULL_RULE) for i in pull]
        if not pulls:  # the bot's own images: s2i-bot/ where template images resolve to
            hub = f"{DOCKER_HUB}/s2i-bot"
            pulls = [repository(f"{builder_registry}/s2i-bot") if builder_registry else hub]
        guarded = tuple(
            Grant(image=_setting_repository(image, why), rule=why)
            for image, why in (protected or {}).items()
        )
        return cls(hosts, default_push, grants, tuple(dict.fromkeys(pulls)), guarded)

    def grants_for(self, repo: str) -> ImageGrants:
        """The grants of a build of forge repository `repo` (`owner/name`, GitLab groups
        included: `group/sub/name`)."""
        name = repo.lower().strip("/")
        push = []
        if self.default_push and _PATH.match(name):
            push += [Grant(image=f"{host}/{name}", rule=DEFAULT_RULE) for host in self.registries]
        for glob, images in self.push:
            if fnmatchcase(name, glob.lower()):
                push += [
                    Grant(
                        image=i.replace(REPO_PLACEHOLDER, name), rule=f"image_policy.push['{glob}']"
                    )
                    for i in images
                    if REPO_PLACEHOLDER not in i or _PATH.match(name)
                ]
        pull = tuple(Grant(image=p, rule=PULL_RULE) for p in self.pull)
        protected = self.protected + tuple(
            Grant(image=p, rule=f"{PULL_RULE}: builds start from it") for p in self.pull
        )
        return ImageGrants(repo=repo, push=tuple(push), pull=pull, protected=protected)

    def check(self, spec: BuildSpec) -> BuildSpec:
        """The spec with its grants, or ImagePolicyError naming each rule it breaks."""
        grants = self.grants_for(spec.repo)
        problems = grants.push_problems([*spec.outputs, spec.cache_image])
        problems += grants.pull_problems(_spec_pulls(spec))
        if problems:
            raise ImagePolicyError(problems)
        return spec.model_copy(update={"images": grants})


def _spec_pulls(spec: BuildSpec) -> dict[str, str]:
    pulls = {"builder": spec.builder_image}
    if spec.runtime is not None:
        pulls["runtime"] = spec.runtime.image
    return pulls


def before_build(spec: BuildSpec, dockerfile: str) -> list[str]:
    """The runner's second check, on the Dockerfile it is about to build: every image it
    pushes, and every image a `FROM` or `COPY --from` pulls. No grants in the spec (a build
    by hand, `s2i-bot build`): nothing to check."""
    grants = spec.images
    if grants is None:
        return []
    problems = grants.push_problems([*spec.outputs, spec.cache_image])
    pulls = {f"FROM {image}": image for image in pulled_images(dockerfile)}
    return problems + grants.pull_problems(pulls, own=[spec.cache_image])


def pulled_images(dockerfile: str) -> list[str]:
    """The images a Dockerfile pulls: each `FROM` and `COPY --from` that does not name an
    earlier stage (by its name or index)."""
    stages: set[str] = set()
    images: list[str] = []
    for line in _logical_lines(dockerfile):
        words = line.split()
        if not words:
            continue
        instruction = words[0].upper()
        if instruction == "FROM":
            args = [w for w in words[1:] if not w.startswith("--")]
            if args and args[0].lower() not in stages:
                images.append(args[0])
            if len(args) >= 3 and args[1].upper() == "AS":
                stages.add(args[2].lower())
            stages.add(str(len(stages)))
        elif instruction in ("COPY", "ADD"):
            for word in words[1:]:
                if word.lower().startswith("--from="):
                    source = word.split("=", 1)[1]
                    if source.lower() not in stages and not source.isdigit():
                        images.append(source)
    return list(dict.fromkeys(images))


def _logical_lines(dockerfile: str) -> list[str]:
    """Instructions with backslash continuations joined (comments and blank lines dropped)."""
    lines, current = [], ""
    for raw in dockerfile.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    if current:
        lines.append(current)
    return lines


def _registry(host: str) -> str:
    """A registry host as an auth file or a setting writes it: `https://r.example.com/v1/`
    -> `r.example.com`; Docker Hub's aliases -> `docker.io`."""
    host = host.strip().lower().removeprefix("https://").removeprefix("http://")
    host = host.split("/", 1)[0]
    if host in _HUB_ALIASES:
        return DOCKER_HUB
    if not _HOST.match(host):
        raise ValueError(f"image_policy.registries: '{host}' is not a registry host")
    return host


def _push_grant(image: str, setting: str) -> str:
    """A grant as the settings give it, normalised; `{repo}` may end it."""
    prefix, placeholder, rest = image.partition(REPO_PLACEHOLDER)
    if not placeholder:
        return _setting_repository(image, setting)
    if rest:
        raise ValueError(f"{setting}: '{image}': {REPO_PLACEHOLDER} may only end a grant")
    example = _setting_repository(f"{prefix}owner/repo", setting)
    return example.removesuffix("owner/repo") + REPO_PLACEHOLDER


def _setting_repository(image: str, setting: str) -> str:
    try:
        return repository(image)
    except ValueError as exc:
        raise ValueError(f"{setting}: {exc}") from None
