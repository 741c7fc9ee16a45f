"""The GoTrue protocol double's admin user routes answer as GoTrue's internal/api/admin.go does
(read there): each row is one request and the status and error code GoTrue gives it, including
the 500s stack/declarations.toml declares (per_page=0, a page whose OFFSET overflows, a NUL in
a PUT's body), so the contract suite's selftest meets them as it would on a real GoTrue."""

from __future__ import annotations

import pytest

from soberharness.testing.gotrue_protocol_double import GoTrueProtocolDouble

ONE = "00000000-0000-4000-8000-000000000001"
TWO = "00000000-0000-4000-8000-000000000002"
USERS = f"/auth/v1/admin/users/{ONE}"

ROWS = [
    ("GET", "/auth/v1/admin/users?per_page=0", b"", 500, "unexpected_failure"),
    ("GET", f"/auth/v1/admin/users?page={2**62 + 1}&per_page=50", b"", 500, "unexpected_failure"),
    ("GET", f"/auth/v1/admin/users?page={2**64}", b"", 400, "validation_failed"),
    ("GET", "/auth/v1/admin/users?page=-1", b"", 400, "validation_failed"),
    ("GET", "/auth/v1/admin/users/not-a-uuid", b"", 404, "validation_failed"),
    ("GET", "/auth/v1/admin/users/00000000-0000-4000-8000-00000000000f", b"", 404,
     "user_not_found"),
    ("PUT", USERS, b'{"user_metadata": {"a": "\\u0000"}}', 500, "unexpected_failure"),
    ("PUT", USERS, b'{"email": 5}', 400, "bad_json"),
    ("PUT", USERS, b"[]", 400, "bad_json"),
    ("PUT", USERS, b"", 400, "bad_json"),
    ("PUT", USERS, b'{"email": "two@example.invalid"}', 422, "email_exists"),
    ("PUT", USERS, b'{"email": "nope"}', 400, "validation_failed"),
    ("PUT", USERS, b'{"phone": "abc"}', 400, "validation_failed"),
    ("PUT", USERS, b'{"password": "short"}', 422, "weak_password"),
    ("PUT", USERS, b'{"ban_duration": "forever"}', 400, "validation_failed"),
    ("DELETE", USERS, b'{"should_soft_delete": "yes"}', 400, "bad_json"),
    ("POST", "/auth/v1/admin/users", b"{}", 400, "validation_failed"),
    ("POST", "/auth/v1/admin/users", b'{"email": "one@example.invalid"}', 422, "email_exists"),
    ("POST", "/auth/v1/admin/users", b'{"email": "x@example.invalid", "id": "7"}', 400,
     "validation_failed"),
]


def _double() -> GoTrueProtocolDouble:
    return GoTrueProtocolDouble(users=[
        {"id": ONE, "email": "one@example.invalid", "user_metadata": {"name": "one"}},
        {"id": TWO, "email": "two@example.invalid"}])


@pytest.mark.parametrize(("method", "path", "body", "status", "code"), ROWS)
def test_each_request_gets_gotrues_answer(method: str, path: str, body: bytes, status: int,
                                          code: str) -> None:
    double = _double()
    before = double.admin.snapshot()
    got, answer = double.answer(method, path, body)
    assert (got, answer["error_code"]) == (status, code), answer
    assert double.admin.snapshot() == before  # a refused request changes no user


def test_an_admin_route_without_a_token_is_401() -> None:
    got, answer = _double().answer("GET", "/auth/v1/admin/users", authorized=False)
    assert (got, answer["error_code"]) == (401, "no_authorization")


def test_a_put_merges_metadata_and_bans_and_a_delete_removes() -> None:
    double = _double()
    got, user = double.answer("PUT", USERS, b'{"user_metadata": {"name": null, "k": 1}, '
                              b'"role": "r", "ban_duration": "1h30m", "email_confirm": true}')
    assert got == 200
    assert (user["user_metadata"], user["role"]) == ({"k": 1}, "r")
    assert user["banned_until"] is not None and user["email_confirmed_at"] is not None
    assert double.admin.users[TWO]["user_metadata"] == {}  # the other user is untouched
    assert double.answer("PUT", USERS, b'{"ban_duration": "none"}')[1]["banned_until"] is None
    assert double.answer("DELETE", USERS, b"") == (200, {})
    assert set(double.admin.users) == {TWO}


def test_a_created_user_is_listed_newest_first() -> None:
    double = _double()
    got, user = double.answer("POST", "/auth/v1/admin/users",
                              b'{"email": "New@Example.invalid", "phone": "+15555550100", '
                              b'"app_metadata": {"tier": 1}}')
    assert got == 200 and user["email"] == "new@example.invalid"
    assert user["app_metadata"] == {"provider": "email", "providers": ["email", "phone"],
                                    "tier": 1}
    got, page = double.answer("GET", "/auth/v1/admin/users?page=1&per_page=1")
    assert got == 200 and [u["id"] for u in page["users"]] == [user["id"]]


def test_an_unknown_planted_defect_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown planted defects"):
        GoTrueProtocolDouble(planted=frozenset({"nope"}))
