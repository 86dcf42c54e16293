"""tests/fakes/openapi.py: the checker the fakes rely on must itself reject bad bodies."""

from __future__ import annotations

import pytest

from tests.fakes import openapi

GOOD_STATUS = {
    "url": "https://api.github.com/repos/o/r/statuses/" + "a" * 40,
    "avatar_url": None,
    "id": 1,
    "node_id": "MDY6U3RhdHVzMQ==",
    "state": "success",
    "description": None,
    "target_url": "https://ci.example.com/1",
    "context": "s2i-bot",
    "created_at": "2024-01-01T00:00:00Z",
    "updated_at": "2024-01-01T00:00:00Z",
    "creator": None,
}


@pytest.fixture(scope="module")
def api() -> openapi.OpenAPI:
    return openapi.load()


@pytest.fixture(scope="module")
def create_status(api: openapi.OpenAPI) -> openapi.Operation:
    match = api.find("POST", "/repos/o/r/statuses/" + "a" * 40)
    assert match is not None
    return match.operation


def test_finds_operation_and_path_parameters(api: openapi.OpenAPI) -> None:
    match = api.find("GET", "/repos/octo/app/contents/deep/dir/.s2i.yaml")
    assert match is not None
    assert match.operation.operation_id == "repos/get-content"
    assert match.params == {"owner": "octo", "repo": "app", "path": "deep/dir/.s2i.yaml"}


def test_literal_segment_beats_template(api: openapi.OpenAPI) -> None:
    match = api.find("GET", "/repos/o/r/commits/abc/statuses")
    assert match is not None
    assert match.operation.operation_id == "repos/list-commit-statuses-for-ref"


def test_unknown_route_has_no_operation(api: openapi.OpenAPI) -> None:
    assert api.find("GET", "/no/such/route") is None
    assert api.find("DELETE", "/repos/o/r/statuses/abc") is None


def test_request_with_bogus_state_is_rejected(
    api: openapi.OpenAPI, create_status: openapi.Operation
) -> None:
    errors = api.validate_request(create_status, {"state": "bogus", "context": "ci"})
    assert len(errors) == 1
    assert "'bogus' is not one of ['error', 'failure', 'pending', 'success']" in errors[0]


def test_request_with_null_target_url_is_accepted(
    api: openapi.OpenAPI, create_status: openapi.Operation
) -> None:
    # target_url is "nullable: true" in the description: null must pass.
    assert api.validate_request(create_status, {"state": "pending", "target_url": None}) == []


def test_response_status_body_good_and_bad(
    api: openapi.OpenAPI, create_status: openapi.Operation
) -> None:
    assert api.validate_response(create_status, 201, GOOD_STATUS) == []
    bad = {**GOOD_STATUS, "id": "one"}
    del bad["context"]
    errors = api.validate_response(create_status, 201, bad)
    assert any("'context' is a required property" in e for e in errors)
    assert any("$.id" in e and "'one' is not of type 'integer'" in e for e in errors)


def test_undocumented_success_status_is_an_error(
    api: openapi.OpenAPI, create_status: openapi.Operation
) -> None:
    assert "not documented" in api.validate_response(create_status, 200, GOOD_STATUS)[0]


def test_undocumented_error_status_must_be_a_github_error(
    api: openapi.OpenAPI, create_status: openapi.Operation
) -> None:
    assert api.validate_response(create_status, 422, {"message": "No commit found"}) == []
    assert api.validate_response(create_status, 422, {"message": 3}) != []


def test_nullable_becomes_null_type() -> None:
    schema = {"type": "string", "enum": ["a"], "nullable": True, "example": "a"}
    assert openapi.to_json_schema(schema) == {"type": ["string", "null"], "enum": ["a", None]}
    wrapped = openapi.to_json_schema(
        {"allOf": [{"$ref": "#/components/schemas/x"}], "nullable": True}
    )
    assert wrapped == {
        "anyOf": [{"allOf": [{"$ref": "urn:github-openapi:schemas:x"}]}, {"type": "null"}]
    }
