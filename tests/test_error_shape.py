import pytest

pytestmark = pytest.mark.django_db


def test_malformed_json_is_422_with_a_hint(client_for):
    response = client_for.generic("POST", "/v1/tokens", '{"name": "x",', content_type="application/json")
    assert response.status_code == 422
    [entry] = response.json()["detail"]
    assert entry["loc"] == ["body"]
    assert entry["type"] == "value_error.jsondecode"
    assert entry["msg"].startswith("Malformed JSON") and "line 1" in entry["msg"]


def test_wrong_content_type_is_422_naming_the_accepted_one(client_for):
    response = client_for.generic("POST", "/v1/tokens", "name=x", content_type="text/plain")
    assert response.status_code == 422
    [entry] = response.json()["detail"]
    assert entry["loc"] == ["header", "content-type"]
    assert "'text/plain'" in entry["msg"] and "application/json" in entry["msg"]


def test_unknown_field_is_422_listing_the_allowed_ones(client_for):
    response = client_for.post("/v1/tokens", {"name": "x", "scope": ["full"]}, format="json")
    assert response.status_code == 422
    [entry] = response.json()["detail"]
    assert entry == {
        "loc": ["body", "scope"],
        "msg": "Unknown field 'scope'; allowed fields are: name, scopes.",
        "type": "value_error.extra",
    }


def test_missing_field_uses_pendables_wording(client_for):
    response = client_for.post("/v1/tokens", {}, format="json")
    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"loc": ["body", "name"], "msg": "field required", "type": "value_error.missing"}]
    }


def test_non_object_body_is_422(client_for):
    response = client_for.post("/v1/tokens", [1, 2], format="json")
    assert response.status_code == 422
    [entry] = response.json()["detail"]
    assert entry["loc"] == ["body"]
    assert "Expected a JSON object" in entry["msg"]


def test_nested_errors_point_at_the_item(client_for):
    response = client_for.post("/v1/tokens", {"name": "x", "scopes": ["full", "admin"]}, format="json")
    assert response.status_code == 422
    [entry] = response.json()["detail"]
    assert entry["loc"] == ["body", "scopes", 1]
    assert entry["type"] == "type_error.enum"


def test_unknown_route_under_v1_is_404_json(client_for):
    response = client_for.get("/v1/tokens/123456")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
