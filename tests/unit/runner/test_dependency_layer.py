import io
from pathlib import Path

import pytest

from bot.build_secrets import SecretUse
from bot.runner.dependency_layer import (
    CONTEXT_DIR,
    add_dependency_layer,
    copy_dependency_files,
    dependency_files,
    uses_image_assemble,
    with_dependency_layer,
)
from bot.runner.dockerfile import (
    UnsafeValue,
    mount_secrets,
    name_builder_stage,
    unpack_artifacts_in_cached_stage,
)
from bot.runner.process import BuildLog

BUILDER = "127.0.0.1:5000/s2i-bot/python:latest"
# What s2i v1.6.3 generates for `--incremental --as-dockerfile` (python builder), as the
# runner rewrites it before the dependency layer.
INCREMENTAL = unpack_artifacts_in_cached_stage(
    name_builder_stage(
        (Path(__file__).parent / "data" / "s2i-incremental.Dockerfile").read_text(), BUILDER
    )
)
LABELS = {
    "io.s2i-bot.dependency-files": "requirements.txt pyproject.toml",
    "io.openshift.s2i.scripts-url": "image:///usr/libexec/s2i",
    "io.openshift.s2i.destination": "/tmp",
}


def layered(text: str = INCREMENTAL) -> list[str]:
    return with_dependency_layer(
        text, scripts_dir="/usr/libexec/s2i", destination="/tmp", user="1001"
    ).splitlines()


def test_the_dependency_steps_follow_the_builders_from_and_env_and_precede_the_labels() -> None:
    lines = layered()
    start = lines.index(f"FROM {BUILDER} AS s2i-build")
    assert lines[start + 1 : start + 5] == [
        'ENV APP_MODULE="app:app"',
        f'COPY --chown=1001:0 ["{CONTEXT_DIR}/", "/tmp/src/"]',
        "USER 1001",
        "RUN /usr/libexec/s2i/assemble-dependencies",
    ]
    # s2i's labels name the commit: after the steps, so that a new commit keeps their cache.
    assert lines[start + 5].startswith('LABEL "io.k8s.display-name"=')
    assert lines[start + 6:] == [
        'COPY --chown=1001:0 --from=cached ["/tmp/s2i-bot-artifacts", "/tmp/artifacts"]',
        "# Copying in source code",
        "COPY --chown=1001:0 upload/src /tmp/src",
        "USER 1001",
        "# Extract artifact content",
        "# Assemble script sourced from builder image based on user input or image metadata.",
        "# If this file does not exist in the image, the build will fail.",
        "RUN /usr/libexec/s2i/assemble",
        "# Run script sourced from builder image based on user input or image metadata.",
        "# If this file does not exist in the image, the build will fail.",
        "CMD /usr/libexec/s2i/run",
    ]  # fmt: skip
    # The cached stage (the previous image's save-artifacts) is left as it was.
    assert lines[:start] == INCREMENTAL.splitlines()[:start]


def test_two_commits_with_the_same_dependency_files_get_the_same_steps_up_to_the_labels() -> None:
    other = INCREMENTAL.replace('"/src"', '"/elsewhere"').replace("x/prev:tag", "y/prev:tag")
    first, second = layered(), layered(other)
    end = first.index("RUN /usr/libexec/s2i/assemble-dependencies")
    start = first.index(f"FROM {BUILDER} AS s2i-build")
    assert first[start : end + 1] == second[start : end + 1]
    assert first != second


def test_an_assemble_user_with_a_group_is_chowned_to_it() -> None:
    text = with_dependency_layer(
        INCREMENTAL, scripts_dir="/usr/libexec/s2i", destination="/opt/dest", user="1001:1001"
    )
    assert f'COPY --chown=1001:1001 ["{CONTEXT_DIR}/", "/opt/dest/src/"]' in text


@pytest.mark.parametrize(
    ("scripts_dir", "destination", "user"),
    [
        ("/usr/libexec/s2i\nRUN id", "/tmp", "1001"),
        ("/usr/libexec/s2i", '/tmp" "/etc', "1001"),
        ("/usr/libexec/s2i", "/tmp", "1001\nUSER root"),
    ],
)
def test_a_value_that_could_add_an_instruction_is_refused(
    scripts_dir: str, destination: str, user: str
) -> None:
    with pytest.raises(UnsafeValue):
        with_dependency_layer(INCREMENTAL, scripts_dir=scripts_dir, destination=destination,
                              user=user)  # fmt: skip


@pytest.mark.parametrize("label", ["../etc/passwd", "/etc/passwd", "a/./b", "a;id", "a b/.."])
def test_a_label_naming_a_path_outside_the_source_is_refused(label: str) -> None:
    with pytest.raises(UnsafeValue, match=r"io\.s2i-bot\.dependency-files"):
        dependency_files(label)


def test_only_the_image_assemble_gets_a_dependency_layer() -> None:
    assert uses_image_assemble(INCREMENTAL, "/usr/libexec/s2i")
    own = INCREMENTAL.replace("RUN /usr/libexec/s2i/assemble", "RUN /tmp/scripts/assemble")
    assert not uses_image_assemble(own, "/usr/libexec/s2i")


def context_with(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "upload" / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_the_dependency_files_the_source_has_are_copied_symlinks_left_out(tmp_path: Path) -> None:
    context = context_with(tmp_path, {"requirements.txt": "django\n", "app.py": ""})
    (tmp_path / "outside").write_text("secret")
    (context / "upload" / "src" / "setup.cfg").symlink_to(tmp_path / "outside")
    names = ["requirements.txt", "pyproject.toml", "setup.cfg"]
    assert copy_dependency_files(context, names) == ["requirements.txt"]
    assert sorted(p.name for p in (context / CONTEXT_DIR).iterdir()) == ["requirements.txt"]
    assert (context / CONTEXT_DIR / "requirements.txt").read_text() == "django\n"


def test_a_source_without_dependency_files_builds_as_s2i_says(tmp_path: Path) -> None:
    out = io.StringIO()
    context = context_with(tmp_path, {"app.py": ""})
    text, used = add_dependency_layer(INCREMENTAL, LABELS, context, "1001", BuildLog(out))
    assert (text, used) == (INCREMENTAL, False)
    assert "not used, the source has none of requirements.txt pyproject.toml" in out.getvalue()
    text, used = add_dependency_layer(INCREMENTAL, {}, context, "1001", BuildLog(out))
    assert (text, used) == (INCREMENTAL, False)


def test_a_builder_that_opts_in_gets_the_layer(tmp_path: Path) -> None:
    out = io.StringIO()
    context = context_with(tmp_path, {"requirements.txt": "django\n"})
    text, used = add_dependency_layer(INCREMENTAL, LABELS, context, "1001", BuildLog(out))
    assert used and "RUN /usr/libexec/s2i/assemble-dependencies" in text.splitlines()
    assert "installs from requirements.txt in a layer of its own" in out.getvalue()


def test_build_secrets_are_mounted_on_the_dependency_step_too() -> None:
    text = mount_secrets("\n".join(layered()), (SecretUse(name="pipconf", env="PIP_CONFIG_FILE"),),
                         "1001")  # fmt: skip
    mounted = [line for line in text.splitlines() if "--mount=type=secret" in line]
    assert [line.rsplit(" ", 1)[1] for line in mounted] == [
        "/usr/libexec/s2i/assemble-dependencies",
        "/usr/libexec/s2i/assemble",
    ]
    assert all("PIP_CONFIG_FILE=/run/secrets/pipconf" in line for line in mounted)
