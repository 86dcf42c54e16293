"""The unprivileged layout's runner side without a cluster: what prepare writes for assemble
(bot/runner/prepare.py), how export lays artifacts out and calls crane (bot/runner/export.py),
and the builder-side script (bot/runner/app_layer.py) run by this machine's sh, GNU tar and
find against a directory tree standing in for the builder's root."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from bot.build_secrets import SecretUse
from bot.build_spec import BuildSpec, SourceSpec
from bot.runner.app_layer import (
    AFTER,
    ARTIFACTS,
    ASSEMBLE_SCRIPT,
    BEFORE,
    HANDOVER_SCRIPT,
    IO_DIR,
    LAYER,
    MASKS,
    MASKS_DIR,
    assemble_env,
    complete_layer,
    deleted_paths,
    whiteout,
)
from bot.runner.errors import BuildError, BuildFailure
from bot.runner.export import (
    image_labels,
    mutate_args,
    own_copies,
    pushed_digest,
    runtime_layer_from,
)
from bot.runner.prepare import Paths, build_env, copy_source, mask_build_secrets
from bot.runner.process import BuildLog
from bot.runner.secret_masks import sed_script
from bot.templates import Artifact
from tests.support.image_files import secrets_in


def test_the_builds_env_wins_over_s2i_environment(tmp_path: Path) -> None:
    environment = tmp_path / "environment"
    environment.write_text("# comment\nA=from-file\nB=kept\n\n")
    assert build_env(environment, {"A": "from-yaml"}) == {"A": "from-yaml", "B": "kept"}
    assert build_env(tmp_path / "missing", {"X": "1"}) == {"X": "1"}


@pytest.mark.parametrize("line", ["NOEQUALS", "1BAD=x", "A=bell\x07"])
def test_a_bad_s2i_environment_line_fails_the_build_naming_it(tmp_path: Path, line: str) -> None:
    environment = tmp_path / "environment"
    environment.write_text(f"OK=1\n{line}\n")
    with pytest.raises(BuildFailure, match="line 2"):
        build_env(environment, {})


def test_the_source_is_copied_without_git_and_what_s2iignore_names(tmp_path: Path) -> None:
    context = tmp_path / "repo"
    for name in ("main.go", ".git/config", "docs/a.md", "secret.txt", "sub/.git"):
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        (context / name).write_text(name)
    (context / ".s2iignore").write_text("# not these\nsecret.txt\ndocs\n!kept\n")
    copy_source(context, tmp_path / "src")
    copied = sorted(
        p.relative_to(tmp_path / "src").as_posix() for p in (tmp_path / "src").rglob("*")
    )
    assert copied == [".s2iignore", "main.go", "sub", "sub/.git"]


def test_assemble_env_quotes_every_value_for_sh(tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text(assemble_env(
        destination="/tmp", assemble="/usr/libexec/s2i/assemble",
        save_artifacts="/usr/libexec/s2i/save-artifacts", app_dirs=["/opt/app-root"],
        artifacts=["/opt/app-root/app"], env={"GREETING": "it's $HOME `x`"},
    ))  # fmt: skip
    show = '. "$1"; printf "%s|%s|%s" "$GREETING" "$S2I_BOT_APP_DIRS" "$S2I_BOT_ARTIFACTS"'
    out = subprocess.run(
        ["sh", "-c", show, "sh", str(env_file)], capture_output=True, text=True, check=True
    ).stdout
    assert out == "it's $HOME `x`|opt/app-root|opt/app-root/app"


def test_the_builder_script_tars_only_what_assemble_wrote_with_its_parents(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "opt/app-root/src/.cache").mkdir(parents=True)
    (root / "opt/app-root/src/.cache/precompiled").write_text("from the image")
    (root / "elsewhere").mkdir()
    io_dir = tmp_path / "io"
    io_dir.mkdir()
    assemble = tmp_path / "assemble"
    # assemble writes a new file deep down, changes nothing else; the image's file stays out.
    assemble.write_text(f"#!/bin/sh\nset -e\nmkdir -p {root}/opt/app-root/src/.cache/new\n"
                        f"echo built >{root}/opt/app-root/app\n"
                        f"echo x >{root}/opt/app-root/src/.cache/new/entry\n")  # fmt: skip
    assemble.chmod(0o755)
    (io_dir / "assemble.env").write_text(assemble_env(
        destination=str(tmp_path / "dest"), assemble=str(assemble), save_artifacts="/bin/false",
        app_dirs=[f"{root}/opt/app-root", f"{root}/missing"], artifacts=[], env={},
    ))  # fmt: skip
    script = ASSEMBLE_SCRIPT.replace(IO_DIR, str(io_dir))
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "STEP 2/2: RUN " + str(assemble) in result.stdout
    with tarfile.open(io_dir / "layer.tar") as layer:
        names = {m.name for m in layer.getmembers()}
    base = str(root).strip("/")
    assert f"{base}/opt/app-root/app" in names
    assert f"{base}/opt/app-root/src/.cache/new/entry" in names
    assert f"{base}/opt/app-root/src/.cache" in names  # a parent, for its mode and owner
    assert f"{base}/opt/app-root/src/.cache/precompiled" not in names
    assert not any("elsewhere" in n for n in names)


def test_runtime_artifacts_are_laid_out_as_the_runtime_stages_copy(tmp_path: Path) -> None:
    source = tmp_path / "artifacts.tar"
    with tarfile.open(source, "w") as tar:
        for name, data in (
            ("opt/app-root/app", b"binary"),
            ("opt/app-root/html/index.html", b"hi"),
        ):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uid = len(data), 0o755, 0
            tar.addfile(info, io.BytesIO(data))
    target = tmp_path / "layer.tar"
    count = runtime_layer_from(
        source,
        [Artifact("/opt/app-root/app", "/opt/app-root"),
         Artifact("/opt/app-root/html", "/srv/www")],
        target, user="1001",
    )  # fmt: skip
    with tarfile.open(target) as layer:
        members = {m.name: m for m in layer.getmembers()}
    assert count == 2
    assert set(members) == {"opt/app-root", "opt/app-root/app", "srv/www", "srv/www/index.html"}
    assert members["opt/app-root/app"].uid == 1001 and members["opt/app-root/app"].gid == 0
    assert members["opt/app-root/app"].mode == 0o755


def test_crane_mutate_appends_the_layer_and_sets_the_config_and_the_digest_is_read_back() -> None:
    args = mutate_args(
        "r/go@sha256:1", layer=Path("/io/layer.tar"), run="/usr/libexec/s2i/run", user="1001",
        env={"A": "b c"}, labels={"k": "v"}, tag="r/app:main",
    )  # fmt: skip
    assert args == [
        "mutate", "r/go@sha256:1", "--append", "/io/layer.tar", "--cmd", "/usr/libexec/s2i/run",
        "--user", "1001", "--env", "A=b c", "--label", "k=v", "--tag", "r/app:main",
    ]  # fmt: skip
    out = ["2026/11/30 mounted blob: sha256:aa", "r/app@sha256:" + "f" * 64]
    assert pushed_digest(out, "r/app:main") == "sha256:" + "f" * 64
    with pytest.raises(BuildError, match="no digest"):
        pushed_digest(["pushed blob: sha256:aa"], "r/app:main")


def test_the_image_carries_s2is_labels_and_the_layout() -> None:
    spec = BuildSpec(
        name="web", repo="acme/x", forge="github", template="go",
        source=SourceSpec(git_url="https://example.com/acme/x.git", sha="a" * 40,
                          ref="refs/heads/main", context_dir="app"),
        builder_image="r/go:latest", image="r/acme/x", tags=("main",),
    )  # fmt: skip
    labels = image_labels(spec, "r/go@sha256:1", "/tmp")
    assert labels["io.openshift.s2i.build.commit.id"] == "a" * 40
    assert labels["io.openshift.s2i.build.commit.ref"] == "main"
    assert labels["io.openshift.s2i.build.source-context-dir"] == "app"
    assert labels["io.s2i-bot.layout"] == "unprivileged"


def test_what_assemble_deletes_of_the_image_becomes_a_whiteout_in_the_layer(
    tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    for name in ("opt/app-root/venv/bin/activate.csh", "opt/app-root/venv/bin/python",
                 "opt/app-root/old/a/b", "opt/app-root/old/c"):  # fmt: skip
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("from the image")
    io_dir = tmp_path / "io"
    io_dir.mkdir()
    assemble = tmp_path / "assemble"
    app = root / "opt/app-root"
    assemble.write_text(f"#!/bin/sh\nset -e\nrm {app}/venv/bin/activate.csh\n"
                        f"rm -r {app}/old\necho built >{app}/app\n")  # fmt: skip
    assemble.chmod(0o755)
    (io_dir / "assemble.env").write_text(assemble_env(
        destination=str(tmp_path / "dest"), assemble=str(assemble), save_artifacts="/bin/false",
        app_dirs=[f"{root}/opt/app-root"], artifacts=[], env={},
    ))  # fmt: skip
    script = ASSEMBLE_SCRIPT.replace(IO_DIR, str(io_dir))
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    base = str(root).strip("/")
    before = (io_dir / BEFORE).read_text().splitlines()
    after = (io_dir / AFTER).read_text().splitlines()
    # Only the topmost path of a deleted tree: one whiteout hides all below it.
    deleted = deleted_paths(before, after)
    assert deleted == [f"{base}/opt/app-root/old", f"{base}/opt/app-root/venv/bin/activate.csh"]
    complete_layer(io_dir / "layer.tar", deleted=deleted)
    with tarfile.open(io_dir / "layer.tar") as layer:
        members = {m.name: m for m in layer.getmembers()}
    assert f"{base}/opt/app-root/app" in members
    assert members[f"{base}/opt/app-root/.wh.old"].isfile()
    assert members[f"{base}/opt/app-root/venv/bin/.wh.activate.csh"].size == 0
    assert f"{base}/opt/app-root/venv/bin/python" not in members


def test_whiteouts_name_the_deleted_entry_in_its_own_directory() -> None:
    assert whiteout("opt/app-root/src/x.txt") == "opt/app-root/src/.wh.x.txt"
    assert whiteout("/opt") == ".wh.opt"
    assert deleted_paths(["a", "a/b", "a/b/c", "d"], ["a", "d"]) == ["a/b"]
    assert deleted_paths(["a"], ["a", "new"]) == []


def test_the_repositorys_s2i_scripts_go_into_the_layer_as_s2is_copy_puts_them(
    tmp_path: Path,
) -> None:
    layer = tmp_path / "layer.tar"
    with tarfile.open(layer, "w") as tar:
        tar.addfile(tarfile.TarInfo("opt/app-root/app"), io.BytesIO(b""))
    run = b"#!/bin/sh\nexec echo mine\n"
    complete_layer(layer, deleted=[], scripts_dir="/tmp/scripts", scripts={"run": run}, uid=185)
    with tarfile.open(layer) as tar:
        members = {m.name: m for m in tar.getmembers()}
        data = tar.extractfile(members["tmp/scripts/run"])
        assert data is not None and data.read() == run
    assert set(members) == {"opt/app-root/app", "tmp", "tmp/scripts", "tmp/scripts/run"}
    assert members["tmp/scripts"].isdir() and members["tmp/scripts"].uid == 185
    # /tmp as the image has it (FHS), not the engine's 0755 root for a parent left out.
    assert members["tmp"].isdir() and (members["tmp"].mode, members["tmp"].uid) == (0o1777, 0)
    assert members["tmp/scripts/run"].mode == 0o775 and members["tmp/scripts/run"].uid == 185


def test_the_builders_output_is_masked_with_its_exit_status_kept(tmp_path: Path) -> None:
    io_dir, masks = tmp_path / "io", tmp_path / "masks"
    io_dir.mkdir()
    masks.mkdir()
    token = "npm_s3cr.t*[x]^$/\\&tail"
    (masks / MASKS).write_bytes(sed_script([token]))
    encoded = base64.b64encode(f"user:{token}".encode()).decode()
    inner = f"echo 'got {token} here'; echo '{encoded}' >&2; echo plain; exit 3"
    script = HANDOVER_SCRIPT.replace(IO_DIR, str(io_dir)).replace(MASKS_DIR, str(masks))
    (io_dir / "prepare.running").write_text("")  # prepare has run (bot/runner/handover.py)
    (io_dir / "prepare.status").write_text("0\n")
    result = subprocess.run(
        ["sh", "-c", script, "sh", inner, "masked"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 3
    assert (io_dir / "assemble.status").read_text() == "3\n"  # what the export waits for
    lines = result.stdout.splitlines()
    assert lines[0] == "got *** here" and lines[2] == "plain"
    assert token not in result.stdout and "s3cr" not in result.stdout
    assert secrets_in({"out": result.stdout.encode()}, {"token": token}) == []


def test_s2iignore_exceptions_take_paths_back_as_s2i_reads_them(tmp_path: Path) -> None:
    context = tmp_path / "repo"
    for name in ("a.log", "b.log", "keep.log", "logs/x.log", "main.go"):
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        (context / name).write_text(name)
    # s2i (pkg/ignore/ignore.go): `!` takes back what the lines above named; a later line
    # names it again; a path inside an ignored directory stays ignored with it.
    (context / ".s2iignore").write_text("*.log\n!keep.log\n!b.log\nb.log\nlogs\n!logs/x.log\n")
    copy_source(context, tmp_path / "src")
    copied = sorted(
        p.relative_to(tmp_path / "src").as_posix() for p in (tmp_path / "src").rglob("*")
    )
    assert copied == [".s2iignore", "keep.log", "main.go"]


def _secret_spec() -> BuildSpec:
    return BuildSpec(
        name="web", repo="acme/x", forge="github", template="nodejs",
        source=SourceSpec(git_url="https://example.com/acme/x.git", sha="a" * 40,
                          ref="refs/heads/main"),
        builder_image="r/nodejs:latest", image="r/acme/x", tags=("main",),
        secrets=(SecretUse(name="npmrc", env="NPM_CONFIG_USERCONFIG"), SecretUse(name="netrc")),
    )  # fmt: skip


def test_prepare_writes_the_masks_of_each_build_secret_and_assembles_variables(
    tmp_path: Path,
) -> None:
    paths = Paths(destination=tmp_path / "dest", io=tmp_path / "io",
                  build_secrets=tmp_path / "secrets", masks=tmp_path / "masks")  # fmt: skip
    paths.build_secrets.mkdir()
    token = "npm_" + "b7" * 16
    (paths.build_secrets / "npmrc").write_text(f"//registry.example/:_authToken={token}\n")
    (paths.build_secrets / "netrc").write_text("machine h login u password hunter2-long\n")
    out = io.StringIO()
    env = mask_build_secrets(_secret_spec(), paths, ["/tmp", "/opt/app-root"], BuildLog(out))
    assert env == {"NPM_CONFIG_USERCONFIG": "/run/secrets/npmrc"}
    assert "build secret npmrc: mounted at /run/secrets/npmrc while assemble runs" in out.getvalue()
    masked = subprocess.run(
        ["sed", "-f", str(paths.masks / MASKS)], input=f"a {token} b hunter2-long c\n",
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert masked == "a *** b *** c\n"


@pytest.mark.parametrize("exported", ["/run", "/run/secrets/x", "/"])
def test_a_builder_exporting_where_build_secrets_are_mounted_is_refused(
    tmp_path: Path, exported: str
) -> None:
    paths = Paths(build_secrets=tmp_path / "secrets", masks=tmp_path / "masks")
    with pytest.raises(BuildFailure, match="where build secrets are mounted"):
        mask_build_secrets(_secret_spec(), paths, ["/tmp", exported], BuildLog(io.StringIO()))


def test_a_build_secret_that_did_not_reach_the_pod_fails_the_build(tmp_path: Path) -> None:
    paths = Paths(build_secrets=tmp_path / "secrets", masks=tmp_path / "masks")
    with pytest.raises(BuildError, match="build secret 'npmrc' did not reach the runner"):
        mask_build_secrets(_secret_spec(), paths, ["/tmp"], BuildLog(io.StringIO()))


def test_the_export_copies_what_assemble_left_following_no_symlink_it_planted(
    tmp_path: Path,
) -> None:
    io_dir, own = tmp_path / "io", tmp_path / "own"
    io_dir.mkdir()
    secret = tmp_path / "secrets" / ".dockerconfigjson"
    secret.parent.mkdir()
    secret.write_text('{"auths": {"r": {"auth": "dXNlcjpwYXNz"}}}\n')
    (io_dir / LAYER).write_bytes(b"layer")
    (io_dir / AFTER).write_text("opt/app-root\n")
    # The repository's code writes io: a link to what the export alone can read is refused,
    # whose lines would otherwise become whiteout names in the pushed layer.
    (io_dir / BEFORE).symlink_to(secret)
    with pytest.raises(BuildFailure, match=r"before\.list .* something other than a file"):
        own_copies(io_dir, own, (LAYER, BEFORE, AFTER, ARTIFACTS))
    (io_dir / BEFORE).unlink()
    os.mkfifo(io_dir / BEFORE)  # opened without blocking, then refused
    with pytest.raises(BuildFailure, match="something other than a file"):
        own_copies(io_dir, own, (LAYER, BEFORE, AFTER, ARTIFACTS))
    (io_dir / BEFORE).unlink()
    (io_dir / BEFORE).write_text("opt/app-root\nopt/app-root/old\n")
    copied = own_copies(io_dir, own, (LAYER, BEFORE, AFTER, ARTIFACTS))
    assert (copied / LAYER).read_bytes() == b"layer"
    assert (copied / BEFORE).read_text() == "opt/app-root\nopt/app-root/old\n"
    assert not (copied / ARTIFACTS).exists()  # none left: none copied
