import pytest

from bot.repo_config import DEFAULT_TAGS, RepoConfigError, parse_repo_config

TEMPLATES = {"go", "python"}

GOOD = """\
builds:
  - name: web
    template: go
    image: 127.0.0.1:5000/acme/web
    triggers:
      branches: [main, "release/*"]
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(RepoConfigError) as info:
        parse_repo_config(text, templates=TEMPLATES)
    return [str(e) for e in info.value.errors]


def test_a_minimal_file_gets_the_defaults() -> None:
    (build,) = parse_repo_config(GOOD, templates=TEMPLATES).builds
    assert (build.name, build.template, build.image) == ("web", "go", "127.0.0.1:5000/acme/web")
    assert build.triggers.branches == ("main", "release/*")
    assert build.triggers.kinds() == {"branch"}
    assert build.tags == DEFAULT_TAGS
    assert (build.context, build.env, build.incremental, build.runtime) == ("", {}, None, None)
    assert build.line == 2


def test_a_full_file() -> None:
    text = """\
builds:
  - name: api
    template: go
    context: services/api/
    image: registry.example.com/acme/api
    tags:
      branch: ["{branch}-{short_sha}"]
      tag: ["{version}", latest]
    env: {GO_MAIN_PACKAGE: ./cmd/api, WORKERS: 4, DEBUG: false}
    incremental: true
    runtime:
      image: s2i-bot/go-runtime:latest
      artifacts: ["/opt/app-root/app:/opt/app-root"]
    triggers:
      branches: [main]
      tags: ["v*"]
      pull_requests: [main]
      paths: ["services/api/*"]
      paths_ignore: ["*.md"]
"""
    (build,) = parse_repo_config(text, templates=TEMPLATES).builds
    assert build.context == "services/api"
    assert build.tags["branch"] == ("{branch}-{short_sha}",)
    assert build.tags["tag"] == ("{version}", "latest")
    assert build.tags["pull_request"] == ("pr-{pr}",)
    assert build.env == {"GO_MAIN_PACKAGE": "./cmd/api", "WORKERS": "4", "DEBUG": "false"}
    assert build.incremental is True
    assert build.runtime is not None and build.runtime.artifacts[0].destination == "/opt/app-root"
    assert build.triggers.pull_requests == ("main",)
    assert build.triggers.kinds() == {"branch", "tag", "pull_request"}


def test_an_unknown_key_is_reported_with_its_line_column_and_the_allowed_keys() -> None:
    text = GOOD.replace("    image:", "    imag:")
    assert errors_of(text) == [
        "line 2, column 5: missing required key 'image'",
        "line 4, column 5: unknown key 'imag'; allowed: binary, context, env, image, "
        "incremental, name, runtime, secrets, tags, template, timeout, triggers",
    ]


def test_an_unknown_template_lists_the_known_ones() -> None:
    assert errors_of(GOOD.replace("template: go", "template: rust")) == [
        "line 3, column 15: unknown template 'rust'; known: go, python"
    ]


def test_invalid_yaml_is_reported_at_the_position_of_the_problem() -> None:
    (error,) = errors_of("builds:\n  - name: web\n   template: go\n")
    assert error.startswith("line 3, column 4: invalid YAML")


def test_every_error_is_reported_not_only_the_first() -> None:
    text = """\
builds:
  - name: Web_1
    template: go
    image: UPPER/case:v1
    triggers:
      branches: []
  - name: ok
    triggers: {tags: ["v*"]}
"""
    errors = errors_of(text)
    assert "line 2, column 11: name 'Web_1' must be lower-case letters, digits and '-'" in errors
    assert "line 6, column 17: 'branches' must not be empty" in errors
    assert "line 7, column 5: missing required key 'template'" in errors
    assert "line 7, column 5: missing required key 'image'" in errors


def test_tags_must_have_values_for_the_triggers_and_pull_request_tags_need_the_pr() -> None:
    text = GOOD.replace("    triggers:", '    tags: ["{branch}"]\n    triggers:').replace(
        '      branches: [main, "release/*"]', '      tags: ["v*"]\n      pull_requests: true'
    )
    assert errors_of(text) == [
        "line 5, column 11: pull request tag '{branch}' must contain {pr}, "
        "so a pull request can never overwrite another image tag",
        "line 5, column 11: tag '{branch}' uses {branch}, which has no value for tag builds; "
        "allowed: {sha}, {short_sha}, {tag}, {version}",
    ]


def test_an_image_with_a_tag_is_refused_because_tags_have_their_own_key() -> None:
    (error,) = errors_of(GOOD.replace("acme/web", "acme/web:v1"))
    assert error.startswith("line 4, column 12: '127.0.0.1:5000/acme/web:v1' is not an image")


def test_duplicate_build_names_are_refused() -> None:
    text = GOOD + GOOD.removeprefix("builds:\n")
    assert errors_of(text) == ["line 7, column 5: build name 'web' is used twice"]


def test_an_empty_file_or_a_list_is_refused() -> None:
    assert errors_of("") == ["line 1, column 1: the file is empty; expected 'builds:'"]
    assert errors_of("- a\n") == ["line 1, column 1: expected a mapping with the key 'builds'"]


def test_the_error_message_names_the_file() -> None:
    with pytest.raises(RepoConfigError) as info:
        parse_repo_config("x: 1\n", templates=TEMPLATES, path=".s2i.yaml")
    assert str(info.value).splitlines() == [
        ".s2i.yaml line 1, column 1: missing required key 'builds'",
        ".s2i.yaml line 1, column 1: unknown key 'x'; allowed: builds, rebuild_on_base_change",
    ]


def test_rebuilds_on_a_new_base_image_are_on_unless_the_file_turns_them_off() -> None:
    assert parse_repo_config(GOOD, templates=TEMPLATES).rebuild_on_base_change is True
    off = parse_repo_config(GOOD + "rebuild_on_base_change: false\n", templates=TEMPLATES)
    assert off.rebuild_on_base_change is False
    (error,) = errors_of(GOOD + "rebuild_on_base_change: no-thanks\n")
    assert error.startswith("line 7, column 25: ") and "boolean" in error


# -- bounds: the file comes from whoever can push ---------------------------------------------
PR_BUILD = """\
builds:
  - name: web
    template: go
    image: r/acme/web
    tags: {tags}
    triggers: {{branches: [main], pull_requests: true}}
"""


def test_an_alias_bomb_is_refused_at_its_first_alias_before_anything_expands() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{x}: &{x} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]" for p, x in
              zip("abcdefgh", "bcdefghi", strict=True)]  # fmt: skip
    text = "\n".join(lines) + "\n"
    assert len(text) < 600  # expanded: 9**9 strings, gigabytes
    assert errors_of(text) == [
        "line 2, column 8: YAML aliases (*a) are not supported: write the value out where it "
        "is used"
    ]


def test_size_depth_and_node_count_are_bounded() -> None:
    assert errors_of("#" * (64 * 1024 + 1)) == [
        "line 1, column 1: the file is 65537 bytes; at most 65536 (64 KiB) are read"
    ]
    (deep,) = errors_of("builds: " + "[" * 40 + "]" * 40 + "\n")
    assert deep.endswith("nested more than 16 levels deep")
    (many,) = errors_of("builds: [" + "1," * 6000 + "]\n")
    assert many.endswith("the file has more than 5000 values")


def test_keys_given_twice_and_merge_keys_are_refused() -> None:
    assert errors_of(GOOD + "builds: []\n") == ["line 7, column 1: key 'builds' is given twice"]
    assert errors_of("<<: {builds: []}\n") == [
        "line 1, column 1: merge keys (<<) are not supported"
    ]


def test_a_scalar_yaml_cannot_build_is_an_error_not_a_crash() -> None:
    (error,) = errors_of("builds: " + "9" * 5000 + "\n")
    assert error.startswith("line 1, column 1: invalid YAML: Exceeds the limit")
    (error,) = errors_of("builds: [\x00]\n")
    assert error == "line 1, column 10: invalid YAML: character #x0000 is not allowed"


@pytest.mark.parametrize(
    ("tags", "problem"),
    [
        ('["{sha:>2000000000}"]', "'{sha:>2000000000}' is not a placeholder"),
        ('["{short_sha!r}-{pr}"]', "'{short_sha!r}' is not a placeholder"),
        ('["{branch.upper}-{pr}"]', "'{branch.upper}' is not a placeholder"),
        ('{pull_request: ["latest{pr:.0}"]}', "'{pr:.0}' is not a placeholder"),
        ('["pr {pr}"]', "' ' cannot be in an image tag"),
    ],
)
def test_tag_templates_are_plain_placeholders_and_tag_characters(tags: str, problem: str) -> None:
    (error,) = errors_of(PR_BUILD.format(tags=tags))
    assert error.startswith("line 5, column ") and problem in error


def test_unknown_placeholders_and_long_tag_lists_are_config_errors() -> None:
    no_pr, unknown = errors_of(PR_BUILD.format(tags='{pull_request: ["{prr}"]}'))
    assert "tag '{prr}' uses {prr}, which has no value for pull_request builds" in unknown
    assert "pull request tag '{prr}' must contain {pr}" in no_pr
    many = "[" + ", ".join(f'"t{i}-{{pr}}"' for i in range(17)) + "]"
    assert errors_of(PR_BUILD.format(tags=many)) == ["line 5, column 11: 'tags' has 17; at most 16"]
