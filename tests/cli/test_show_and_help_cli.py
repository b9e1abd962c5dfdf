"""`provreg show` on one page, the lacking-safeguards table, and help as people expect it."""

from __future__ import annotations

import json
import re
import sys

import pytest
import typer
from sqlmodel import Session

from cli.help import EXAMPLES
from cli.main import app, provreg_version
from tests.cli.conftest import CliRunner
from tests.services.test_safeguards import (
    QUANTIZED,
    RELEASE,
    UNCENSORED,
    build_scenario,
)

VARIANT_PUBLIC_KEYS = {"name", "revision", "digest", "format", "parameters", "dtypes",
                       "architecture", "config", "card", "registered", "files", "tensor_count",
                       "sketch_digest", "lineage", "children", "created", "signature",
                       "log_index", "created_at", "updated_at"}  # fmt: skip


def test_show_puts_everything_on_one_page(session: Session, provreg: CliRunner) -> None:
    build_scenario(session)
    r = provreg("advisory", "add", RELEASE, "--severity", "high", "--summary", "jailbreak [x]")
    assert r.code == 0, r.err
    r = provreg("show", UNCENSORED)
    assert r.code == 0, r.err
    out = r.out
    assert out.splitlines()[0] == f"{UNCENSORED}@main  lacking"
    assert "digest       sha256:" in out and "files        " in out
    assert f"parent  {RELEASE}@main  [finetune, declared, unverified]" in out
    assert f"child   {QUANTIZED}@main  [quantized, declared, unverified]" in out
    assert "safeguards   lacking" in out
    assert re.search(r"harmbench\s+asr\s+0\.71 ± 0\.02  n=400  \[safety-refusal\]", out)
    via = f"via {RELEASE}@main -> {UNCENSORED}@main"
    assert re.search(rf"#\d+ high on {RELEASE}@main: jailbreak \[x\]  {via}", out), out
    assert "downloads    1.00K (30d)   reach 6.00K over 1 descendant" in out
    doc = provreg("show", UNCENSORED, "--json").json()
    assert set(doc) >= VARIANT_PUBLIC_KEYS
    assert doc["safeguards"]["status"] == "lacking"
    assert [e["value"] for e in doc["evaluations"]] == [0.71]
    assert doc["advisories"][0]["advisory"]["summary"] == "jailbreak [x]"
    assert doc["downloads"]["subtree"] == 6000
    assert doc["lineage"][0]["parent"] == f"{RELEASE}@main"


def test_show_a_name_without_weights_and_an_unknown_one(
    session: Session, provreg: CliRunner
) -> None:
    build_scenario(session)
    from registry.services import register_variant
    from tests.factories import variant_request

    register_variant(session, variant_request("acme/kid", parents={"acme/ghost": "finetune"}))
    r = provreg("show", "acme/ghost")
    assert r.code == 0, r.err
    assert "known only by name" in r.out and "child   acme/kid@main" in r.out
    doc = provreg("show", "acme/ghost", "--json").json()
    assert doc["registered"] is False and doc["safeguards"] is None
    r = provreg("show", "acme/nothing")
    assert r.code == 1 and "acme/nothing" in r.err


def test_evaluations_on_show_are_the_latest_of_each(session: Session, provreg: CliRunner) -> None:
    build_scenario(session)
    for value in ("0.30", "0.20"):
        r = provreg("eval", "add", UNCENSORED, "--benchmark", "harmbench", "--metric", "asr",
                    "--value", value)  # fmt: skip
        assert r.code == 0, r.err
    doc = provreg("show", UNCENSORED, "--json").json()
    assert [e["value"] for e in doc["evaluations"]] == [0.2]


def test_lacking_safeguards_as_a_table(
    session: Session, provreg: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_scenario(session)
    r = provreg("query", "lacking-safeguards", "--format", "table", "--sort", "reach")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].split()[:4] == ["variant", "status", "downloads", "reach"]
    rows = [x.split()[0] for x in lines[1:] if "@" in x.split()[0]]  # reasons may wrap
    assert rows == [
        f"{UNCENSORED}@main",
        f"{QUANTIZED}@main",
        "worse/chat-ft@main",
    ]
    assert f"{RELEASE}@main" in lines[1]  # the nearest safeguarded ancestor
    r = provreg("query", "lacking-safeguards", "--format", "table", "--limit", "1")
    assert "next page: provreg query lacking-safeguards --format table --limit 1 --cursor" in r.out
    # not a terminal and no --format: JSON, as scripts have always read it
    r = provreg("query", "lacking-safeguards")
    assert json.loads(r.out)["results"][0]["name"] == QUANTIZED
    # on a terminal: the table, unless --json or another --format is asked for
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setenv("TERM", "dumb")  # no colour codes in what is checked
    r = provreg("query", "lacking-safeguards")
    text = re.sub(r"\x1b\[[0-9;]*m", "", r.out)
    assert not text.lstrip().startswith("{") and "variant" in text and f"{UNCENSORED}@main" in text
    assert json.loads(provreg("query", "lacking-safeguards", "--json").out)["results"]
    r = provreg("query", "lacking-safeguards", "--format", "csv")
    assert r.out.startswith("name,revision,status")
    r = provreg("query", "lacking-safeguards", "--format", "yaml")
    assert r.code == 2 and "table" in r.err


def _command_paths() -> list[tuple[str, ...]]:
    root = typer.main.get_command(app)
    paths: list[tuple[str, ...]] = []

    def walk(command: object, path: tuple[str, ...]) -> None:
        subs = getattr(command, "commands", None)
        if subs is None:
            paths.append(path)
            return
        for name, sub in subs.items():
            walk(sub, (*path, name))

    walk(root, ())
    return paths


def test_every_command_has_examples_and_plain_metavars(provreg: CliRunner) -> None:
    paths = _command_paths()
    assert {" ".join(p) for p in paths} <= set(EXAMPLES)
    for path in paths:
        r = provreg(*path, "-h")
        assert r.code == 0, (path, r.err)
        assert "Examples:\n" in r.out and f"provreg {' '.join(path)}" in r.out, path
        assert not re.search(r"<(str|int|float|bool|path|list\[[^]]*\])>", r.out), (path, r.out)
    register = provreg("register", "--help").out
    assert (
        "--parent NAME[@REV]" in register and "Usage: provreg register [OPTIONS] PATH" in register
    )
    assert "--sort [registered|downloads|reach]" in provreg("list", "-h").out
    assert "--format [table|json|jsonl|csv]" in provreg("query", "lacking-safeguards", "-h").out


def test_version_and_completion(provreg: CliRunner) -> None:
    r = provreg("--version")
    assert r.code == 0 and r.out == f"provreg {provreg_version()}\n"
    for shell in ("bash", "zsh", "fish"):
        r = provreg("completion", shell)
        assert r.code == 0 and "_PROVREG_COMPLETE" in r.out, r.err
    assert "complete -o default -F _provreg_completion provreg" in provreg("completion", "bash").out
    r = provreg("completion", "tcsh")
    assert r.code == 2 and "bash" in r.err
