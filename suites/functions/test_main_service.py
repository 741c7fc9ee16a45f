"""What the main service does for every function: refused tokens are 401 and change nothing,
CORS preflight, the body limit, one error shape, per-function metrics."""

from __future__ import annotations

import pytest

from soberharness.checker.functions import error_code
from soberharness.clients.functions import FunctionsClient
from soberharness.db import session as db_session
from soberharness.db.claims import claims_for, sign
from soberharness.workload.functions_calls import fingerprint, refused_tokens
from soberharness.world.matrix_world import MatrixWorld

pytestmark = pytest.mark.needs("functions", "postgres")

FUNCTIONS = ("export-my-data", "milestones", "notify", "delete-my-account")
METHOD = {"milestones": "GET"}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_refused_tokens_get_401_and_change_nothing(
    functions: FunctionsClient, fn_world: MatrixWorld, functions_dsn: str, jwt_secret: str,
    function: str,
) -> None:
    with db_session.connect(functions_dsn, autocommit=True) as conn:
        before = fingerprint(conn)
    wrong = {}
    for viewer in (fn_world.actors["service"], fn_world.actors["follower"]):
        for name, token in refused_tokens(viewer, jwt_secret).items():
            answer = functions.call(function, token, method=METHOD.get(function, "POST"),
                                    json={} if function not in METHOD else None)
            code = error_code(answer.body)
            if answer.status != 401 or code not in ("invalid_token", "missing_token"):
                wrong[f"{viewer.role} {name}"] = (answer.status, answer.body)
    with db_session.connect(functions_dsn, autocommit=True) as conn:
        after = fingerprint(conn)
    assert not wrong, wrong
    assert after == before


def test_cors_preflight_is_answered_without_a_token(functions: FunctionsClient) -> None:
    answer = functions.request("OPTIONS", "export-my-data", headers={
        "origin": "https://app.example", "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type"})
    assert answer.status == 204
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "authorization" in answer.headers["access-control-allow-headers"]
    assert "POST" in answer.headers["access-control-allow-methods"]


def test_a_body_above_the_limit_is_413(functions: FunctionsClient, fn_world: MatrixWorld,
                                       jwt_secret: str) -> None:
    good = sign(claims_for(fn_world.actors["service"]), jwt_secret)
    answer = functions.request("POST", "notify", good, content=b"{" + b" " * 2_000_000 + b"}",
                               headers={"content-type": "application/json"})
    assert answer.status == 413
    assert answer.body == {"error": {"code": "body_too_large",
                                     "message": answer.body["error"]["message"]}}


def test_errors_share_one_shape(functions: FunctionsClient) -> None:
    for answer in (functions.call("no-such-function", None),
                   functions.call("export-my-data", None),
                   functions.call("milestones", None, method="DELETE")):
        assert set(answer.body) == {"error"}, answer.body
        assert set(answer.body["error"]) == {"code", "message"}
    assert [functions.call("no-such-function", None).status,
            functions.call("export-my-data", None).status,
            functions.call("milestones", None, method="DELETE").status] == [404, 401, 405]


def test_a_host_header_that_forms_no_url_is_400(functions: FunctionsClient) -> None:
    """Found by the contract run: the runtime builds the request's URL from its Host header,
    and a host such as `w_r<(=-0A` made the main service answer a bare 500."""
    answer = functions.request("POST", "export-my-data", headers={"host": "w_r<(=-0A"})
    assert answer.status == 400
    assert answer.body == {"error": {"code": "bad_request",
                                     "message": answer.body["error"]["message"]}}


def test_metrics_count_requests_per_function(functions: FunctionsClient) -> None:
    def count(text: str) -> float:
        line = 'sobertube_function_requests_total{function="milestones",status="401"} '
        return sum(float(x.split()[-1]) for x in text.splitlines() if x.startswith(line))

    before = count(functions.metrics())
    for _ in range(3):
        functions.call("milestones", None, method="GET")
    text = functions.metrics()
    assert count(text) == before + 3
    assert 'sobertube_function_duration_seconds_count{function="milestones"}' in text
    assert "# TYPE sobertube_function_errors_total counter" in text
