"""A name without @REV means `main` when it is registered, else the latest registered revision,
and the output says so: through the CLI, locally and over HTTP."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import CliRunner
from tests.factories import finetuned, tiny_tensors, write_model

NOTE = "acme/ft: no revision main, using r2 (latest registered)"


def _revisions(provreg: CliRunner, tmp: Path) -> None:
    """acme/ft at r1 and r2 (no main)."""
    base = tiny_tensors(1)
    for revision, seed in (("r1", 2), ("r2", 3)):
        model = write_model(tmp / f"ft_{revision}", finetuned(base, seed))
        r = provreg("register", model, "--name", "acme/ft", "--revision", revision, "--json")
        assert r.code == 0, r.err


def test_reads_resolve_to_the_latest_registered_revision(provreg: CliRunner, tmp_path) -> None:
    _revisions(provreg, tmp_path)
    shown = provreg("show", "acme/ft", "--json").json()
    assert (shown["revision"], shown["note"]) == ("r2", NOTE)
    text = provreg("show", "acme/ft")
    assert text.code == 0 and NOTE in text.err and "acme/ft@r2" in text.out
    graph = provreg("lineage", "acme/ft", "--format", "json").json()
    assert (graph["root"], graph["note"]) == ("acme/ft@r2", NOTE)
    r = provreg("eval", "add", "acme/ft", "--benchmark", "harmbench", "--metric", "asr",
                "--value", "0.05", "--samples", "400", "--json")  # fmt: skip
    assert r.code == 0, r.err and r.json()["revision"] == "r2"
    listed = provreg("eval", "list", "acme/ft", "--json").json()
    assert (listed["revision"], listed["note"], len(listed["results"])) == ("r2", NOTE, 1)
    status = provreg("safeguards", "acme/ft", "--json").json()
    assert (status["revision"], status["status"], status["note"]) == ("r2", "safeguarded", NOTE)
    assert provreg("show", "acme/ft@r1", "--json").json()["note"] is None
    assert provreg("show", "acme/ft@main").code == 1  # an explicit revision is never resolved


def test_main_wins_once_registered(provreg: CliRunner, tmp_path: Path) -> None:
    _revisions(provreg, tmp_path)
    model = write_model(tmp_path / "ft_main", finetuned(tiny_tensors(1), 4))
    assert provreg("register", model, "--name", "acme/ft", "--json").code == 0
    shown = provreg("show", "acme/ft", "--json").json()
    assert (shown["revision"], shown["note"]) == ("main", None)


def test_a_card_base_model_links_to_the_revision_that_exists(
    provreg: CliRunner, tmp_path: Path
) -> None:
    _revisions(provreg, tmp_path)
    card = tmp_path / "README.md"
    card.write_text("---\nbase_model: acme/ft\nbase_model_relation: quantized\n---\n# q\n")
    child = write_model(tmp_path / "child", finetuned(tiny_tensors(1), 5))
    r = provreg("register", child, "--name", "acme/child", "--card", card)
    assert r.code == 0, r.err
    assert NOTE in r.err
    parents = provreg("show", "acme/child", "--json").json()["lineage"]
    assert [(e["parent"], e["source"]) for e in parents if e["source"] == "declared"] == [
        ("acme/ft@r2", "declared")
    ]
    r = provreg("lineage", "declare", "acme/child", "--parent", "acme/ft", "--relation",
                "quantized", "--json")  # fmt: skip
    assert r.code == 0, r.err
    assert (r.json()["outcome"], r.json()["edge"]["parent"]) == ("unchanged", "acme/ft@r2")
    assert r.json()["note"] == NOTE
