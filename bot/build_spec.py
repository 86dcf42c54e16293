"""BuildSpec: everything needed to build one image, as plain JSON-able data.

The same BuildSpec goes to the local executor and into a Kubernetes Job, so it holds no
secrets: credentials are mounted next to it, never written into it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from bot.build_secrets import SecretUse
from bot.image_policy import ImageGrants
from bot.image_ref import registry_of
from bot.templates import RuntimeStage


class SourceSpec(BaseModel):
    model_config = ConfigDict(frozen=True)
    git_url: str
    sha: str
    ref: str
    context_dir: str = ""
    # `s2i-bot build`: a working tree on this machine, used as it is instead of a fetch.
    local_dir: str = ""
    # B2I: the source is one downloaded artifact instead of the repository.
    binary_url: str = ""
    binary_name: str = ""
    binary_auth: bool = False  # send the forge token (a release asset of a private repo)
    binary_asset: str = ""  # a release asset glob the bot still has to resolve to a URL


class BuildSpec(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str  # the build's name in .s2i.yaml; the status context is s2i/<name>
    repo: str  # owner/name on the forge
    forge: str
    source: SourceSpec
    template: str
    note: str = ""  # shown with pending statuses, e.g. which template was detected
    # A rebuild of the same commit on a new builder or runtime image: `image@digest`, said in
    # its statuses (bot/base_images.py).
    rebuilt_on: str = ""
    # The ref commit statuses name when it is not source.ref: a pull request's head branch.
    status_ref: str = ""
    builder_image: str
    runtime: RuntimeStage | None = None
    env: dict[str, str] = {}
    incremental: bool = False
    image: str  # output repository, without tag
    tags: tuple[str, ...]  # the first is the one built; the others point at the same digest
    # Seconds the build may take (.s2i.yaml `timeout`); the executor caps it with
    # max_build_seconds, which is also the limit when this is unset.
    timeout: int | None = None
    # Where this build may push and pull (bot/image_policy.py), for the runner's own check;
    # None only for a build by hand (`s2i-bot build`).
    images: ImageGrants | None = None
    # Build secrets mounted while assemble runs: names and variables only, never a value
    # (bot/build_secrets.py); the files travel with the build's credentials.
    secrets: tuple[SecretUse, ...] = ()

    @property
    def output(self) -> str:
        return f"{self.image}:{self.tags[0]}"

    @property
    def cache_image(self) -> str:
        """Where the previous build is for an incremental one: the output image itself, or,
        with a runtime image, the builder stage kept beside it."""
        if self.runtime is None:
            return self.output
        return f"{self.image}:{self.tags[0][:115]}-s2i-cache"

    @property
    def outputs(self) -> list[str]:
        return [f"{self.image}:{tag}" for tag in self.tags]

    @property
    def registry(self) -> str:
        return registry_of(self.image) or "docker.io"
