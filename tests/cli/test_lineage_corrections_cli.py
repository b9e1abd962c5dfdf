"""`provreg lineage declare | retract`: append-only, logged corrections of declared parents,
locally and over HTTP."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from registry.services import create_token
from tests.cli.conftest import CliRunner
from tests.factories import finetuned, tiny_tensors, write_model


def _register(provreg: CliRunner, tmp: Path, name: str, tensors: dict, *extra: str) -> None:
    model = write_model(tmp / name.replace("/", "_"), tensors)
    r = provreg("register", model, "--name", name, *extra, "--json")
    assert r.code == 0, r.err


def _family(provreg: CliRunner, tmp: Path) -> None:
    """acme/base; acme/chat fine-tuned from it but registered without a parent; acme/other,
    unrelated weights."""
    base = tiny_tensors(1)
    _register(provreg, tmp, "acme/base", base)
    _register(provreg, tmp, "acme/chat", finetuned(base, 2))
    _register(provreg, tmp, "acme/other", tiny_tensors(7))


def _edge(provreg: CliRunner, child: str, parent: str) -> dict:
    graph = provreg("lineage", child, "--up", "--format", "json").json()
    return next(e for e in graph["edges"] if e["parent"] == parent)


def test_declare_retract_and_declare_again(provreg: CliRunner, tmp_path: Path) -> None:
    _family(provreg, tmp_path)
    declare = ("lineage", "declare", "acme/chat", "--parent", "acme/base", "--relation")
    r = provreg(*declare, "finetune", "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["outcome"] == "declared" and doc["log_index"] is not None
    assert doc["edge"]["status"] == "verified"  # checked against the weights
    again = provreg(*declare, "finetune", "--json").json()
    assert again["outcome"] == "unchanged" and again["log_index"] is None

    retract = ("lineage", "retract", "acme/chat", "--parent", "acme/base@main")
    r = provreg(*retract, "--reason", "wrong base model", "--json")
    assert r.code == 0, r.err
    assert r.json()["outcome"] == "retracted"
    edge = _edge(provreg, "acme/chat@main", "acme/base@main")
    assert (edge["status"], edge["reason"]) == ("retracted", "wrong base model")
    shown = provreg("show", "acme/chat", "--json").json()["lineage"][0]
    assert (shown["status"], shown["reason"]) == ("retracted", "wrong base model")
    text = provreg("lineage", "acme/base").out
    assert "retracted" in text and "wrong base model" in text
    assert provreg(*retract, "--reason", "twice", "--json").json()["outcome"] == "unchanged"

    r = provreg(*declare, "finetune", "--json")
    assert r.json()["outcome"] == "reactivated"
    edge = _edge(provreg, "acme/chat@main", "acme/base@main")
    assert (edge["status"], edge["reason"]) == ("verified", None)
    assert provreg("audit", "--json").code == 0


def test_a_relation_is_corrected_by_retracting_then_declaring(
    provreg: CliRunner, tmp_path: Path
) -> None:
    _family(provreg, tmp_path)
    declare = ("lineage", "declare", "acme/chat", "--parent", "acme/base", "--relation")
    assert provreg(*declare, "adapter", "--json").code == 0
    r = provreg(*declare, "finetune")
    assert r.code == 1 and "already declared a adapter" in r.err and "lineage retract" in r.err
    retract = ("lineage", "retract", "acme/chat", "--parent", "acme/base", "--reason", "a LoRA")
    assert provreg(*retract).code == 0
    assert provreg(*declare, "finetune", "--json").json()["edge"]["relation"] == "finetune"
    assert _edge(provreg, "acme/chat@main", "acme/base@main")["relation"] == "finetune"
    assert provreg("audit", "--json").code == 0  # the first declaration's leaf still derives


def test_declared_edges_are_checked_against_the_weights(provreg: CliRunner, tmp_path) -> None:
    _family(provreg, tmp_path)
    r = provreg(
        "lineage", "declare", "acme/chat", "--parent", "acme/other", "--relation", "finetune",
        "--json",
    )  # fmt: skip
    assert r.json()["edge"]["status"] == "disputed"


def test_an_unregistered_parent_is_recorded_by_name_with_a_suggestion(
    provreg: CliRunner, tmp_path: Path
) -> None:
    _family(provreg, tmp_path)
    args = ("lineage", "declare", "acme/chat", "--parent", "acme/bsae", "--relation", "finetune")
    r = provreg(*args)
    assert r.code == 0, r.err
    assert "acme/bsae@main is not registered" in r.err and "did you mean acme/base?" in r.err
    doc = provreg("lineage", "acme/chat", "--up", "--format", "json").json()
    assert [n["registered"] for n in doc["nodes"] if n["name"] == "acme/bsae"] == [False]
    r = provreg("lineage", "declare", "acme/chat", "--parent", "zeta/x", "--relation", "merge",
                "--json")  # fmt: skip
    assert r.json()["warnings"] == ["zeta/x@main is not registered: the edge is recorded by name"]


def test_retracted_edges_stop_counting_for_safeguards_and_reach(
    provreg: CliRunner, tmp_path: Path
) -> None:
    _family(provreg, tmp_path)
    r = provreg(
        "eval", "add", "acme/base", "--benchmark", "harmbench", "--metric", "asr",
        "--value", "0.8", "--samples", "400", "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    for name, count in (("acme/base", 1000), ("acme/chat", 10)):
        assert provreg("downloads", "record", name, "--count", count, "--json").code == 0
    args = ("lineage", "declare", "acme/chat", "--parent", "acme/base", "--relation", "finetune")
    assert provreg(*args).code == 0
    assert provreg("safeguards", "acme/chat", "--json").json()["status"] == "suspected"
    assert provreg("downloads", "acme/base", "--json").json()["reach"]["subtree"] == 1010

    r = provreg("lineage", "retract", "acme/chat", "--parent", "acme/base", "--reason", "no")
    assert r.code == 0, r.err
    assert provreg("safeguards", "acme/chat", "--json").json()["status"] == "unverified"
    assert provreg("downloads", "acme/base", "--json").json()["reach"]["subtree"] == 1000
    lacking = provreg("query", "lacking-safeguards", "--sort", "reach", "--json").json()
    assert [(x["name"], x["reach"]) for x in lacking["results"]] == [("acme/base", 1000)]
    assert provreg("audit", "--json").code == 0


def test_registering_again_with_a_new_parent_names_the_declare_command(
    provreg: CliRunner, tmp_path: Path
) -> None:
    _family(provreg, tmp_path)
    chat = tmp_path / "acme_chat"
    r = provreg(
        "register", chat, "--name", "acme/chat", "--parent", "acme/base", "--relation", "finetune"
    )
    assert r.code == 1
    hint = "provreg lineage declare acme/chat@main --parent acme/base@main --relation finetune"
    assert hint in r.err
    command = hint.split()[1:]
    r = provreg(*command, "--json")
    assert r.code == 0, r.err and r.json()["outcome"] == "declared"
    assert provreg("register", chat, "--name", "acme/chat", "--parent", "acme/base",
                   "--relation", "finetune").code == 0  # fmt: skip


def test_retracting_a_parent_that_is_not_declared(provreg: CliRunner, tmp_path: Path) -> None:
    _family(provreg, tmp_path)
    r = provreg("lineage", "retract", "acme/chat", "--parent", "acme/other", "--reason", "x")
    assert r.code == 1 and "acme/chat@main has no edge to acme/other@main" in r.err
    r = provreg("lineage", "retract", "acme/chat", "--parent", "acme/base", "--reason", "x")
    assert r.code == 1 and "detected from the weights, not declared" in r.err
    r = provreg("lineage", "declare", "acme/nothing", "--parent", "acme/base", "--relation",
                "finetune")  # fmt: skip
    assert r.code == 1 and "no variant acme/nothing@main" in r.err


def test_signed_declaration_and_retraction(provreg: CliRunner, tmp_path: Path) -> None:
    _family(provreg, tmp_path)
    key = tmp_path / "acme.key"
    assert provreg("keys", "generate", "--out", key, "--json").code == 0
    assert provreg("keys", "add", "acme", f"{key}.pub", "--json").code == 0
    args = ("lineage", "declare", "acme/chat", "--parent", "acme/base", "--relation", "finetune")
    r = provreg(*args, "--sign", key, "--json")
    assert r.code == 0, r.err
    assert r.json()["key_id"] and r.json()["outcome"] == "declared"
    r = provreg("lineage", "retract", "acme/chat", "--parent", "acme/base", "--reason", "wrong",
                "--sign", key, "--json")  # fmt: skip
    assert r.code == 0, r.err
    assert r.json()["key_id"] and r.json()["outcome"] == "retracted"
    r = provreg(*args, "--sign", key, "--json")  # a fresh statement: not a replay
    assert r.code == 0, r.err and r.json()["outcome"] == "reactivated"
    assert provreg("audit", "--json").code == 0
    other = tmp_path / "other.key"
    assert provreg("keys", "generate", "--out", other, "--json").code == 0
    r = provreg("lineage", "retract", "acme/chat", "--parent", "acme/base", "--reason", "x",
                "--sign", other)  # fmt: skip
    assert r.code == 1 and "signature" in r.err.lower()


def test_the_graph_command_keeps_its_forms(provreg: CliRunner, tmp_path: Path) -> None:
    _family(provreg, tmp_path)
    r = provreg("lineage", "--up", "acme/chat", "--format", "json")
    assert r.code == 0, r.err and r.json()["root"] == "acme/chat@main"
    assert provreg("lineage", "--json", "acme/chat").json()["root"] == "acme/chat@main"
    helped = provreg("lineage", "--help")
    assert helped.code == 0 and "declare" in helped.out and "retract" in helped.out


def test_declarations_need_a_publisher_token_of_the_namespace(
    session: Session, provreg: CliRunner, mode: str, tmp_path: Path
) -> None:
    _family(provreg, tmp_path)
    if mode == "local":
        return  # the local database's owner is its administrator
    beta = create_token(session, "publish", namespace="beta")[0]
    acme = create_token(session, "publish", namespace="acme")[0]
    args = ("lineage", "declare", "acme/chat", "--parent", "acme/base", "--relation", "finetune")
    r = provreg(*args, token=beta)
    assert r.code == 1 and "publish:acme" in r.err
    assert provreg(*args, token=acme).code == 0
    r = provreg("lineage", "retract", "acme/chat", "--parent", "acme/base", "--reason", "x",
                token=beta)  # fmt: skip
    assert r.code == 1 and "publish:acme" in r.err
