"""What only the remote mode has: tokens on writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import CliRunner
from tests.factories import tiny_tensors, write_model


@pytest.mark.parametrize("mode", ["remote"], indirect=True)
def test_write_without_token_is_refused_over_http(provreg: CliRunner, tmp_path: Path) -> None:
    model = write_model(tmp_path / "m", tiny_tensors(1))
    r = provreg("register", model, "--name", "acme/m", token=None)
    assert r.code == 1
    assert "bearer token" in r.err and "PROVREG_TOKEN" in r.err
    assert provreg("show", "acme/m").code == 1


@pytest.mark.parametrize("mode", ["remote"], indirect=True)
def test_publisher_token_is_limited_to_its_namespace(
    provreg: CliRunner, tmp_path: Path, acme_token: str
) -> None:
    model = write_model(tmp_path / "m", tiny_tensors(1))
    assert provreg("register", model, "--name", "acme/m", token=acme_token).code == 0
    r = provreg("register", model, "--name", "other/m", token=acme_token)
    assert r.code == 1 and "publish:other" in r.err


@pytest.mark.parametrize("mode", ["local"], indirect=True)
def test_token_create_prints_one_token(provreg: CliRunner) -> None:
    r = provreg("token", "create", "--scope", "publish", "--namespace", "acme", "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["token"].startswith("provreg_") and doc["scope"] == "publish:acme"
    r = provreg("token", "create", "--scope", "publish")
    assert r.code == 1 and "--namespace" in r.err
