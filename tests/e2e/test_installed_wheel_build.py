"""`s2i-bot build` from the installed wheel (tests/support/installed_wheel.py), in an
application's repository outside the checkout: the bundled template, the real s2i and docker,
the image pushed to the provisioned registry with its credentials, its digest printed."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.support.apps import APPS
from tests.support.images import skopeo_inspect
from tests.support.installed_wheel import InstalledWheel, application_repository, installed_wheel
from tests.support.names import unique
from tests.support.testenv import ProvisionedEnv

pytestmark = pytest.mark.e2e
_BUILT = re.compile(r"^web: (?P<image>\S+)@(?P<digest>sha256:[0-9a-f]{64}) \((?P<outputs>[^)]*)\)$")


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> InstalledWheel:
    return installed_wheel(tmp_path_factory.getbasetemp() / "installed-wheel")


def test_build_from_the_installed_wheel_pushes_the_image_whose_digest_it_prints(
    installed: InstalledWheel, testenv: ProvisionedEnv, tmp_path: Path
) -> None:
    image = f"{testenv.registry}/{unique('installed-wheel')}/static-hello"
    app = tmp_path / "static-hello"
    shutil.copytree(APPS / "static-hello", app)
    build: dict[str, object] = {"name": "web", "template": "static", "image": image,
             "triggers": {"branches": ["main"]}}  # fmt: skip
    application_repository(app, [build])
    # The settings a user would export; templates_dir unset: the wheel's own templates.
    settings = {
        "S2I_BOT_BUILDER_REGISTRY": testenv.builder_registry,
        "S2I_BOT_REGISTRY_AUTH_FILE": str(testenv.auth_file(tmp_path)),
        "S2I_BOT_S2I": testenv.s2i,
    }
    result = installed.s2i_bot("build", cwd=app, env=settings, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    match = _BUILT.match(result.stdout.splitlines()[-1])
    assert match, result.stdout[-3000:]
    assert match["image"] == image
    outputs = match["outputs"].split(", ")
    assert f"{image}:main" in outputs
    for output in outputs:
        assert skopeo_inspect(testenv, output)["Digest"] == match["digest"]
