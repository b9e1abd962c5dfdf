"""schemathesis over the app's OpenAPI document: every operation, all phases, bounded and
seeded. No input answers 5xx (bad input is a 4xx with the error envelope)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from starlette.testclient import TestClient

from registry.api import create_app
from registry.config import Settings
from registry.db import make_engine, make_session_factory, upgrade_database
from registry.services import create_token
from tests.factories import variant_request

EXAMPLES = 30
_HOME = tempfile.TemporaryDirectory(prefix="provreg-openapi-")


def _app_and_token() -> tuple[object, str]:
    """The app on a SQLite file of its own, holding a parent and a child, and an admin token."""
    home = Path(_HOME.name)
    engine = make_engine(url=f"sqlite:///{home / 'registry.db'}")
    upgrade_database(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        secret, _ = create_token(session, "admin")
        session.commit()
    app = create_app(
        Settings(home=home, write_rate=1e6, write_burst=10**6), session_factory=factory
    )
    http = TestClient(app)
    for name, parents in (("acme/base", None), ("acme/tuned", {"acme/base": "finetune"})):
        body = variant_request(name, parents=parents).model_dump(mode="json")
        http.post("/v1/variants", json=body, headers={"Authorization": f"Bearer {secret}"})
    return app, secret


APP, TOKEN = _app_and_token()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_input_answers_5xx(case: schemathesis.Case) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"} if case.method != "GET" else None
    response = case.call(headers=headers)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} answered {response.status_code}: "
        f"{response.text[:300]}\n{case.as_curl_command()}"
    )
