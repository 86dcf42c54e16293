from pathlib import Path

import pytest

from bot.build_secrets import SecretUse
from bot.runner.dockerfile import (
    UnsafeValue,
    copy_artifacts_dir,
    label_instructions,
    mount_secrets,
    name_builder_stage,
    runtime_stage,
    scripts_dir_from_url,
    unpack_artifacts_in_cached_stage,
)
from bot.runner.engine import from_images
from bot.runner.s2i import s2i_argv
from bot.templates import Artifact, RuntimeStage

S2I_DOCKERFILE = """\
FROM 127.0.0.1:5000/s2i-bot/go:latest
LABEL "io.openshift.s2i.build.image"="127.0.0.1:5000/s2i-bot/go:latest" \\
      "io.openshift.s2i.build.commit.id"="abc"

ENV CGO_ENABLED="0"
USER root
COPY upload/src /tmp/src
RUN chown -R 1001:0 /tmp/src
USER 1001
RUN /usr/libexec/s2i/assemble
CMD /usr/libexec/s2i/run
"""
RUNTIME = RuntimeStage(
    image="127.0.0.1:5000/s2i-bot/go-runtime:latest",
    artifacts=(Artifact("/opt/app-root/app", "/opt/app-root"),),
)


def test_the_runtime_stage_copies_artifacts_from_stage_zero_and_runs_the_runtime_run() -> None:
    stage = runtime_stage(S2I_DOCKERFILE, RUNTIME, scripts_dir="/usr/libexec/s2i", user="1001")
    assert stage.splitlines() == [
        "FROM 127.0.0.1:5000/s2i-bot/go-runtime:latest",
        'LABEL "io.openshift.s2i.build.image"="127.0.0.1:5000/s2i-bot/go:latest"'
        ' "io.openshift.s2i.build.commit.id"="abc"',
        'COPY --from=s2i-build --chown=1001:0 ["/opt/app-root/app", "/opt/app-root/"]',
        "USER 1001",
        'CMD ["/usr/libexec/s2i/run"]',
    ]


def test_labels_span_continuation_lines() -> None:
    assert len(label_instructions(S2I_DOCKERFILE)) == 1


def test_scripts_dir_from_an_image_url() -> None:
    assert scripts_dir_from_url("image:///usr/local/s2i") == "/usr/local/s2i"
    assert scripts_dir_from_url("https://example.com/s2i") == "/usr/libexec/s2i"


def test_from_images_skips_stage_references() -> None:
    text = S2I_DOCKERFILE + "FROM runtime:1\nCOPY --from=0 /a /b\nFROM 0\n"
    assert from_images(text) == ["127.0.0.1:5000/s2i-bot/go:latest", "runtime:1"]


def test_the_builder_stage_is_named_even_after_the_incremental_cached_stage() -> None:
    text = "FROM reg/prev:main as cached\nRUN save\nFROM reg/go:latest\nRUN assemble\n"
    named = name_builder_stage(text, "reg/go:latest")
    assert named.splitlines()[2] == "FROM reg/go:latest AS s2i-build"
    assert name_builder_stage(S2I_DOCKERFILE, "127.0.0.1:5000/s2i-bot/go:latest").startswith(
        "FROM 127.0.0.1:5000/s2i-bot/go:latest AS s2i-build\n"
    )


def test_an_incremental_build_names_the_previous_image_as_s2is_tag() -> None:
    argv = s2i_argv(
        "s2i", source=Path("/src"), builder_image="b", dockerfile=Path("/ctx/Dockerfile"),
        labels={"io.openshift.s2i.assemble-user": "1001"}, env={"A": "1"},
        previous_image="reg/app:main-s2i-cache",
    )  # fmt: skip
    assert argv[:6] == ["s2i", "build", "/src", "b", "reg/app:main-s2i-cache", "--incremental"]
    assert argv[-4:] == ["--assemble-user", "1001", "-e", "A=1"]


def test_incremental_artifacts_are_unpacked_in_the_cached_stage_and_copied_once() -> None:
    # What s2i v1.6.3 generates for `--incremental --as-dockerfile` (python builder).
    generated = (Path(__file__).parent / "data" / "s2i-incremental.Dockerfile").read_text()
    lines = unpack_artifacts_in_cached_stage(generated).splitlines()
    assert lines[3] == (
        'RUN ["/bin/sh", "-c", "mkdir /tmp/s2i-bot-artifacts && if [ -s '
        "/usr/libexec/s2i/save-artifacts ]; then /usr/libexec/s2i/save-artifacts | tar -xf - "
        '-C /tmp/s2i-bot-artifacts; fi"]'
    )
    assert 'COPY --chown=1001:0 --from=cached ["/tmp/s2i-bot-artifacts", "/tmp/artifacts"]' in lines
    assert not [line for line in lines if "artifacts.tar" in line]
    assert "RUN /usr/libexec/s2i/assemble" in lines
    assert unpack_artifacts_in_cached_stage(S2I_DOCKERFILE) == S2I_DOCKERFILE


@pytest.mark.parametrize(
    ("runtime", "user", "scripts_dir"),
    [
        (RuntimeStage(image="reg/run:1\nUSER root", artifacts=RUNTIME.artifacts), "1001",
         "/usr/libexec/s2i"),
        (RuntimeStage(image=RUNTIME.image, artifacts=(Artifact("/app\nRUN id", "/opt"),)),
         "1001", "/usr/libexec/s2i"),
        (RuntimeStage(image=RUNTIME.image, artifacts=(Artifact("/app", '/opt" "/etc'),)),
         "1001", "/usr/libexec/s2i"),
        (RUNTIME, "root\nRUN id", "/usr/libexec/s2i"),
        (RUNTIME, "1001", "/usr/libexec/s2i\nRUN id"),
    ],
)  # fmt: skip
def test_the_runtime_stage_refuses_a_value_that_could_add_an_instruction(
    runtime: RuntimeStage, user: str, scripts_dir: str
) -> None:
    with pytest.raises(UnsafeValue):
        runtime_stage(S2I_DOCKERFILE, runtime, scripts_dir=scripts_dir, user=user)


def test_a_label_of_s2is_that_is_not_quoted_pairs_is_refused() -> None:
    broken = S2I_DOCKERFILE.replace('"abc"', '"abc"\nUSER root\nLABEL x=y')
    with pytest.raises(UnsafeValue, match="LABEL of s2i's Dockerfile is not quoted pairs"):
        runtime_stage(broken, RUNTIME, scripts_dir="/usr/libexec/s2i", user="1001")


def test_go_quoted_label_values_are_copied_as_they_are() -> None:
    # s2i writes labels with Go's %q: a commit message's newline is the two characters \n.
    text = 'FROM b\nLABEL "io.openshift.build.commit.message"="fix\\nUSER root \\"x\\""\n'
    assert label_instructions(text) == [
        'LABEL "io.openshift.build.commit.message"="fix\\nUSER root \\"x\\""'
    ]


def test_a_builder_image_that_is_no_image_reference_is_refused() -> None:
    with pytest.raises(UnsafeValue):
        name_builder_stage("FROM reg/go:1\n", "reg/go:1 AS x\nUSER root")


NODE_DOCKERFILE = """FROM 127.0.0.1:5000/s2i-bot/nodejs:latest AS s2i-build
LABEL "io.openshift.s2i.build.commit.message"="RUN /usr/libexec/s2i/assemble"

# Copying in source code
COPY --chown=1001:0 upload/src /tmp/src
USER 1001
# Assemble script sourced from builder image based on user input or image metadata.
RUN /usr/libexec/s2i/assemble
CMD /usr/libexec/s2i/run
"""


def test_build_secrets_are_mounted_on_the_assemble_step_alone_with_their_variable() -> None:
    uses = (SecretUse(name="npmrc", env="NPM_CONFIG_USERCONFIG"), SecretUse(name="netrc"))
    text = mount_secrets(NODE_DOCKERFILE, uses, "1001")
    changed = [line for line in text.splitlines() if line not in NODE_DOCKERFILE.splitlines()]
    assert changed == [
        "RUN --mount=type=secret,id=npmrc,target=/run/secrets/npmrc,uid=1001,mode=0400 "
        "--mount=type=secret,id=netrc,target=/run/secrets/netrc,uid=1001,mode=0400 "
        "NPM_CONFIG_USERCONFIG=/run/secrets/npmrc /usr/libexec/s2i/assemble"
    ]
    assert "ENV" not in text and mount_secrets(NODE_DOCKERFILE, (), "1001") == NODE_DOCKERFILE


def test_a_repositorys_own_assemble_script_gets_the_mounts_too() -> None:
    text = NODE_DOCKERFILE.replace("RUN /usr/libexec/s2i/assemble", "RUN /tmp/scripts/assemble")
    mounted = mount_secrets(text, (SecretUse(name="npmrc"),), "1001:0")
    assert "uid=1001,mode=0400 /tmp/scripts/assemble" in mounted


@pytest.mark.parametrize(
    ("dockerfile", "user", "message"),
    [
        (NODE_DOCKERFILE, "default", "not a numeric uid"),
        (NODE_DOCKERFILE.replace("RUN /usr", "RUN true && /usr"), "1001", "found 0"),
        (NODE_DOCKERFILE + "RUN /usr/libexec/s2i/assemble\n", "1001", "found 2"),
    ],
)
def test_secrets_are_mounted_only_where_the_assemble_step_is_certain(
    dockerfile: str, user: str, message: str
) -> None:
    with pytest.raises(UnsafeValue, match=message):
        mount_secrets(dockerfile, (SecretUse(name="npmrc"),), user)


def test_a_secret_name_or_variable_that_could_change_the_instruction_is_refused() -> None:
    for use in (SecretUse(name="npmrc,target=/x"), SecretUse(name="npmrc", env="A B")):
        with pytest.raises(UnsafeValue):
            mount_secrets(NODE_DOCKERFILE, (use,), "1001")


def test_artifacts_a_builder_keeps_in_a_directory_are_copied_without_running_save_artifacts() -> (
    None
):
    generated = (Path(__file__).parent / "data" / "s2i-incremental.Dockerfile").read_text()
    lines = copy_artifacts_dir(generated, "/opt/app-root/.s2i-artifacts").splitlines()
    assert (
        'COPY --chown=1001:0 --from=cached ["/opt/app-root/.s2i-artifacts", "/tmp/artifacts"]'
        in lines
    )
    assert not [line for line in lines if "save-artifacts" in line or "artifacts.tar" in line]
    assert lines[:3] == ["FROM 127.0.0.1:5000/x/prev:tag as cached", lines[1], "USER 1001"]
    assert "RUN /usr/libexec/s2i/assemble" in lines
    assert copy_artifacts_dir(S2I_DOCKERFILE, "/opt/a") == S2I_DOCKERFILE
    with pytest.raises(UnsafeValue):
        copy_artifacts_dir(generated, '/opt/a" "/etc')
