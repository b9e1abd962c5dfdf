"""Evaluation corrections (retract, supersede), imports that add nothing twice, and evidence
shared by byte-identical variants: through the CLI, locally and over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from registry.services import create_token
from tests.cli.conftest import CliRunner
from tests.factories import finetuned, tiny_tensors, write_model

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "evals"


def _register(provreg: CliRunner, tmp: Path, name: str, tensors: dict) -> None:
    model = write_model(tmp / name.replace("/", "_"), tensors)
    r = provreg("register", model, "--name", name, "--json")
    assert r.code == 0, r.err


def _asr(provreg: CliRunner, name: str, value: float, *extra: str, token: str | None = None):
    args = ("eval", "add", name, "--benchmark", "harmbench", "--metric", "asr", "--value",
            value, "--samples", 400, *extra, "--json")  # fmt: skip
    r = provreg(*args) if token is None else provreg(*args, token=token)
    assert r.code == 0, r.err
    return r.json()


def _status(provreg: CliRunner, name: str) -> str:
    return str(provreg("safeguards", name, "--json").json()["status"])


def test_a_retracted_result_stays_listed_and_stops_counting(
    provreg: CliRunner, tmp_path: Path
) -> None:
    _register(provreg, tmp_path, "acme/base", tiny_tensors(1))
    result = _asr(provreg, "acme/base", 0.05)
    assert _status(provreg, "acme/base") == "safeguarded"
    r = provreg("eval", "retract", result["id"], "--reason", "wrong split", "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["action"] == "retracted" and doc["log_index"] is not None
    assert _status(provreg, "acme/base") == "unverified"
    listed = provreg("eval", "list", "acme/base", "--json").json()["results"]
    assert [(x["id"], x["status"], x["reason"]) for x in listed] == [
        (result["id"], "retracted", "wrong split")
    ]
    text = provreg("eval", "list", "acme/base").out
    assert "retracted: wrong split" in text
    r = provreg("eval", "retract", result["id"], "--reason", "again")
    assert r.code == 1 and "already retracted" in r.err
    r = provreg("eval", "retract", 999999, "--reason", "x")
    assert r.code == 1 and "no evaluation result 999999" in r.err
    assert provreg("audit", "--json").code == 0


def test_a_superseded_result_points_at_its_replacement(provreg: CliRunner, tmp_path) -> None:
    _register(provreg, tmp_path, "acme/base", tiny_tensors(1))
    old = _asr(provreg, "acme/base", 0.05, "--stderr", "0.01")
    r = provreg("eval", "supersede", old["id"], "--value", "0.8", "--stderr", "0.02",
                "--reason", "scored with the wrong judge", "--json")  # fmt: skip
    assert r.code == 0, r.err
    doc = r.json()
    new = doc["replacement"]
    assert (new["value"], new["stderr"], new["supersedes"]) == (0.8, 0.02, old["id"])
    assert (new["benchmark"], new["samples"]) == ("harmbench", 400)
    assert doc["result"]["superseded_by"] == new["id"]
    assert _status(provreg, "acme/base") == "lacking"
    listed = provreg("eval", "list", "acme/base", "--json").json()["results"]
    assert [(x["id"], x["status"], x["superseded_by"], x["supersedes"]) for x in listed] == [
        (old["id"], "superseded", new["id"], None),
        (new["id"], "active", None, old["id"]),
    ]
    r = provreg("eval", "supersede", old["id"], "--value", "0.1", "--reason", "x")
    assert r.code == 1 and f"already superseded by result {new['id']}" in r.err
    assert f"correct result {new['id']} instead" in r.err
    assert provreg("audit", "--json").code == 0


def test_corrections_follow_the_evaluator_rules(
    session: Session, provreg: CliRunner, mode: str, tmp_path: Path
) -> None:
    _register(provreg, tmp_path, "acme/base", tiny_tensors(1))
    if mode == "local":
        return  # the local database's owner is its administrator
    lab = create_token(session, "evaluate", namespace="lab")[0]
    other = create_token(session, "evaluate", namespace="other")[0]
    publisher = create_token(session, "publish", namespace="acme")[0]
    result = _asr(provreg, "acme/base", 0.05, "--evaluator", "lab", token=lab)
    for token in (other, publisher):
        r = provreg("eval", "retract", result["id"], "--reason", "x", token=token)
        assert r.code == 1 and "cannot" in r.err
    r = provreg("eval", "retract", result["id"], "--reason", "x", "--json", token=lab)
    assert r.code == 0, r.err


@pytest.mark.parametrize(
    ("fixture", "fmt"),
    [
        ("lm_eval_results.json", "lm-eval"),
        ("README_model_index.md", "model-index"),
        ("eval_results_harmbench.yaml", "hf-eval-results"),
    ],
)
def test_importing_the_same_file_twice_adds_nothing(
    provreg: CliRunner, tmp_path: Path, fixture: str, fmt: str
) -> None:
    _register(provreg, tmp_path, "acme/base", tiny_tensors(1))
    _register(provreg, tmp_path, "acme/other", tiny_tensors(2))
    args = ("eval", "import", FIXTURES / fixture, "--model", "acme/base", "--format", fmt)
    first = provreg(*args, "--json")
    assert first.code == 0, first.err
    added = first.json()["imported"]
    assert added > 0 and first.json()["already_recorded"] == 0
    second = provreg(*args)
    assert second.code == 0, second.err
    assert f"0 added, {added} already recorded" in second.out
    assert provreg(*args, "--json").json()["imported"] == 0
    listed = provreg("eval", "list", "acme/base", "--json").json()["results"]
    assert len(listed) == added
    assert {x["source_sha256"] for x in listed} != {None}
    other = provreg("eval", "import", FIXTURES / fixture, "--model", "acme/other", "--json")
    assert other.json()["imported"] == added  # another variant's results are its own
    assert provreg("audit", "--json").code == 0


def test_a_signed_import_twice_adds_nothing(provreg: CliRunner, tmp_path: Path) -> None:
    _register(provreg, tmp_path, "acme/base", tiny_tensors(1))
    key = tmp_path / "lab.key"
    assert provreg("keys", "generate", "--out", key, "--json").code == 0
    assert provreg("keys", "add", "lab", f"{key}.pub", "--role", "evaluator").code == 0
    args = ("eval", "import", FIXTURES / "lm_eval_results.json", "--model", "acme/base",
            "--sign", key, "--evaluator", "lab", "--json")  # fmt: skip
    first = provreg(*args)
    assert first.code == 0, first.err
    added = first.json()["imported"]
    second = provreg(*args)
    assert second.code == 0, second.err
    assert (second.json()["imported"], second.json()["already_recorded"]) == (0, added)


def test_byte_identical_variants_share_evaluations(provreg: CliRunner, tmp_path: Path) -> None:
    weights = tiny_tensors(1)
    _register(provreg, tmp_path, "acme/base", weights)
    _asr(provreg, "acme/base", 0.05)
    _register(provreg, tmp_path, "mirror/base", weights)  # the same bytes, another name
    doc = provreg("safeguards", "mirror/base", "--json").json()
    assert doc["status"] == "safeguarded"
    assert any("acme/base@main" in reason for reason in doc["reasons"])
    listed = provreg("eval", "list", "mirror/base", "--json").json()["results"]
    assert [x["shared_from"] for x in listed] == ["acme/base@main"]
    assert "from acme/base@main, the same weights" in provreg("eval", "list", "mirror/base").out
    # a modified copy is other weights: its (failing) results are its own
    _register(provreg, tmp_path, "mirror/tuned", finetuned(weights, 3))
    _asr(provreg, "mirror/tuned", 0.9)
    assert _status(provreg, "mirror/tuned") == "lacking"
    assert _status(provreg, "mirror/base") == "safeguarded"
    assert _status(provreg, "acme/base") == "safeguarded"
    # evidence added to either copy counts for both, and its correction too
    result = _asr(provreg, "mirror/base", 0.7)
    assert _status(provreg, "acme/base") == "lacking"
    assert provreg("eval", "retract", result["id"], "--reason", "bad run").code == 0
    assert _status(provreg, "acme/base") == "safeguarded"
    assert provreg("audit", "--json").code == 0
