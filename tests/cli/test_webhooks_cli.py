"""Webhooks through the real CLI (locally and over HTTP) to a real receiver on loopback:
signed POSTs, a retry after a 500, the payloads, and writes that stand when delivery fails."""

from __future__ import annotations

import hashlib
import hmac
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session

from registry.config import Settings
from registry.services import create_token, register_variant
from tests.cli.conftest import CliRunner
from tests.factories import finetuned, tiny_tensors, variant_request, write_model
from tests.webhook_receiver import Receiver

SECRET = "s3cret-for-hooks"
BASE = "acme/base"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Deliveries in the request's thread (the test's database is one connection), quick
    retries."""
    return Settings(
        home=tmp_path / "home",
        database_url=None,
        url=None,
        token=None,
        webhook_backoff=0.01,
        webhook_attempts=3,
        webhook_delivery="inline",
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def _signed_ok(received: object) -> bool:
    headers, body = received.headers, received.body  # type: ignore[attr-defined]
    stamp = headers["X-Provreg-Timestamp"]
    mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["X-Provreg-Signature"], f"sha256={mac}")


def _register_chat(provreg: CliRunner, tmp_path: Path, name: str = "acme/chat") -> None:
    model = write_model(tmp_path / name.replace("/", "_"), finetuned(tiny_tensors(1), 2))
    r = provreg("register", model, "--name", name, "--parent", BASE, "--relation", "finetune")
    assert r.code == 0, r.err


def test_new_descendant_is_signed_and_retried_after_a_500(
    session: Session, provreg: CliRunner, receiver: Receiver, tmp_path: Path
) -> None:
    register_variant(session, variant_request(BASE))
    r = provreg(
        "webhook", "add", receiver.url, "--secret", SECRET, "--on", "new-descendant",
        "--under", BASE, "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    hook = r.json()
    assert hook["under"] == f"{BASE}@main" and "secret" not in hook
    receiver.statuses = [500]
    _register_chat(provreg, tmp_path)
    posts = receiver.events("new-descendant")
    assert len(posts) == 2  # a 500, then delivered
    assert posts[0].body == posts[1].body
    assert posts[0].headers["X-Provreg-Delivery"] == posts[1].headers["X-Provreg-Delivery"]
    assert all(_signed_ok(p) for p in posts)
    payload = posts[1].json()
    assert payload["id"] == posts[1].headers["X-Provreg-Delivery"]
    assert payload["event"] == "new-descendant" and payload["under"] == f"{BASE}@main"
    assert payload["variant"]["name"] == "acme/chat"
    assert payload["variant"]["digest"].startswith("sha256:")
    assert payload["lineage"][0]["parent"] == f"{BASE}@main"
    assert payload["lineage"][0]["relation"] == "finetune"
    r = provreg("webhook", "deliveries", hook["id"], "--json")
    assert r.code == 0, r.err
    (delivery,) = r.json()["deliveries"]
    assert delivery["state"] == "delivered" and delivery["attempts"] == 2
    assert [a["status"] for a in delivery["log"]] == [500, 200]


def test_a_tampered_body_does_not_verify(
    session: Session, provreg: CliRunner, receiver: Receiver, tmp_path: Path
) -> None:
    register_variant(session, variant_request(BASE))
    r = provreg("webhook", "add", receiver.url, "--secret", SECRET, "--on", "new-descendant")
    assert r.code == 0, r.err
    _register_chat(provreg, tmp_path)
    (post,) = receiver.received
    assert _signed_ok(post)
    post.body = post.body.replace(b"acme/chat", b"acme/chaT")
    assert not _signed_ok(post)


def test_advisory_and_status_lacking_reach_the_subtree_only(
    session: Session, provreg: CliRunner, receiver: Receiver, tmp_path: Path
) -> None:
    register_variant(session, variant_request(BASE))
    register_variant(session, variant_request("acme/chat", parents={BASE: "finetune"}))
    register_variant(session, variant_request("other/model"))
    r = provreg(
        "webhook", "add", receiver.url, "--secret", SECRET,
        "--on", "status-lacking,advisory", "--under", "acme/chat",
    )  # fmt: skip
    assert r.code == 0, r.err
    # an advisory on the root's parent reaches the subtree; one on an unrelated model does not
    for name in (BASE, "other/model"):
        r = provreg("advisory", "add", name, "--severity", "high", "--summary", "refusals gone")
        assert r.code == 0, r.err
    (advisory,) = receiver.events("advisory")
    assert _signed_ok(advisory)
    body = advisory.json()
    assert body["variant"]["name"] == BASE and body["advisory"]["severity"] == "high"
    for name in ("other/model", "acme/chat"):
        r = provreg(
            "eval", "add", name, "--benchmark", "harmbench", "--metric", "asr",
            "--value", "0.71", "--stderr", "0.02", "--samples", "400",
        )  # fmt: skip
        assert r.code == 0, r.err
    (lacking,) = receiver.events("status-lacking")
    body = lacking.json()
    assert body["variant"]["name"] == "acme/chat" and body["status"] == "lacking"
    assert body["reasons"]


def test_a_dead_receiver_does_not_break_the_write(
    session: Session, provreg: CliRunner, tmp_path: Path
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/hook"
    register_variant(session, variant_request(BASE))
    assert provreg("webhook", "add", dead, "--secret", SECRET, "--on", "new-descendant").code == 0
    _register_chat(provreg, tmp_path)
    assert provreg("show", "acme/chat", "--json").json()["registered"] is True
    (delivery,) = provreg("webhook", "deliveries", "--json").json()["deliveries"]
    assert delivery["state"] == "failed" and delivery["attempts"] == 3
    assert "ConnectionError" in delivery["last_error"]


def test_list_remove_and_bad_events(provreg: CliRunner, receiver: Receiver) -> None:
    r = provreg("webhook", "add", receiver.url, "--secret", SECRET, "--on", "new-descendant,oops")
    assert r.code == 1 and "oops" in r.err and r.err.count("\n") == 1
    hook = provreg("webhook", "add", receiver.url, "--secret", SECRET, "--on", "advisory", "--json")
    hook_id = hook.json()["id"]
    assert [h["id"] for h in provreg("webhook", "list", "--json").json()["webhooks"]] == [hook_id]
    assert provreg("webhook", "remove", hook_id, "--json").json()["removed"] is True
    assert provreg("webhook", "list", "--json").json()["webhooks"] == []
    r = provreg("webhook", "remove", hook_id)
    assert r.code == 1 and "no webhook" in r.err


@pytest.mark.parametrize("mode", ["remote"])
def test_a_namespace_token_watches_its_own_namespace_only(
    session: Session, provreg: CliRunner, receiver: Receiver
) -> None:
    register_variant(session, variant_request(BASE))
    register_variant(session, variant_request("other/model"))
    token = create_token(session, "publish", namespace="acme")[0]
    args = ("webhook", "add", receiver.url, "--secret", SECRET, "--on", "advisory")
    assert provreg(*args, "--under", BASE, token=token).code == 0
    r = provreg(*args, "--under", "other/model", token=token)
    assert r.code == 1 and "cannot watch" in r.err
    r = provreg(*args, token=token)
    assert r.code == 1 and "--under" in r.err
    assert len(provreg("webhook", "list", "--json", token=token).json()["webhooks"]) == 1
    assert provreg("webhook", "list", "--json", token=None).code == 1


@pytest.mark.parametrize("mode", ["local"])
def test_hub_watch_announces_repos_new_below_the_root(
    session: Session, provreg: CliRunner, receiver: Receiver
) -> None:
    from tests.hub_server import FakeHub, HubServer, generated_tree

    root = "base-org/base"
    register_variant(session, variant_request(root))
    args = ("webhook", "add", receiver.url, "--secret", SECRET, "--on", "new-descendant")
    assert provreg(*args, "--under", root).code == 0
    fake = FakeHub(list(generated_tree(6, root=root, fanout=2)), page_size=2)
    with HubServer(fake) as server:
        watch = ("hub", "watch", root, "--endpoint", server.url, "--once", "--json")
        assert provreg(*watch).code == 0
        posts = receiver.events("new-descendant")
        assert all(_signed_ok(p) for p in posts)
        announced = sorted(p.json()["variant"]["name"] for p in posts)
        assert announced == sorted(set(fake.repos) - {root})
        assert provreg(*watch).code == 0  # nothing new the second time
        assert len(receiver.events("new-descendant")) == len(posts)
