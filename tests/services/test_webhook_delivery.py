"""A server sends webhooks from a background thread: the write that queued a delivery answers
before the receiver has; the delivery lands in the log once the receiver answers."""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi.testclient import TestClient

from registry.api import create_app
from registry.config import Settings
from registry.db import make_session_factory
from registry.services import create_token
from tests.conftest import build_database
from tests.factories import variant_request
from tests.webhook_receiver import Receiver


def test_a_slow_receiver_does_not_hold_the_write(tmp_path: Path) -> None:
    engine = build_database("sqlite", tmp_path)
    sessions = make_session_factory(engine)
    with sessions() as session:
        token, _ = create_token(session, "admin")
        session.commit()
    settings = Settings(home=tmp_path / "home", webhook_delivery="background")
    app = create_app(settings, session_factory=sessions)
    auth = {"Authorization": f"Bearer {token}"}
    receiver = Receiver(gate=threading.Event()).start()
    try:
        with TestClient(app) as http:
            hook = {"url": receiver.url, "secret": "s3cret-hook", "events": ["new-descendant"]}
            assert http.post("/v1/webhooks", json=hook, headers=auth).status_code == 201
            body = variant_request("acme/base").model_dump(mode="json")
            assert http.post("/v1/variants", json=body, headers=auth).status_code == 201
            # the registration has answered while the receiver still holds the POST
            deliveries = http.get("/v1/webhooks/deliveries", headers=auth).json()["deliveries"]
            assert [d["state"] for d in deliveries] == ["pending"]
            receiver.gate.set()  # type: ignore[union-attr]
            app.state.webhooks.wait(30)
            (delivery,) = http.get("/v1/webhooks/deliveries", headers=auth).json()["deliveries"]
            assert delivery["state"] == "delivered" and delivery["attempts"] == 1
            assert receiver.received[0].json()["variant"]["name"] == "acme/base"
    finally:
        receiver.gate.set()  # type: ignore[union-attr]
        receiver.stop()
        engine.dispose()
