"""An OpenAPI fuzz run (schemathesis) against a running server, as an administrator: whatever
the requests the schema allows, no answer is a server error."""

from __future__ import annotations

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.support.server import RunningServer, auth

#: Requests per operation: enough to reach every field's edges, few enough for CI.
EXAMPLES = 15
#: The caller's own logout would end the fuzz run's session.
LOGOUT = "/api/v1/auth/logout"


def test_no_request_makes_a_server_error(server: RunningServer, admin_token: str) -> None:
    document = httpx.get(f"{server.base_url}/api/v1/openapi.json").json()
    api = schemathesis.openapi.from_dict(document).exclude(path=LOGOUT)
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) > 40

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(
                base_url=server.base_url,
                headers=auth(admin_token),
                checks=[not_a_server_error],
                timeout=30,
            )

        fuzz()
