"""The corpus's bounded slice, registered case by case on every configured database: no internal
error, no record stored by a failed registration, no file read outside the model's directory,
and the same answer for every case on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from tests.fuzz.corpus import corpus
from tests.fuzz.harness import run_case

CASES = corpus("ci")


@pytest.fixture(scope="session")
def answers_by_backend() -> dict[str, list[str]]:
    return {}


@pytest.mark.db
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # sketches of mutated weights overflow
def test_corpus_registers_cleanly(
    tmp_path: Path,
    session: Session,
    db_engine: Engine,
    answers_by_backend: dict[str, list[str]],
) -> None:
    assert len(CASES) >= 300
    assert {c.kind for c in CASES} >= {"json", "names", "links", "partial", "slow", "mutation"}
    faults, answers = [], []
    for i, case in enumerate(CASES):
        work = tmp_path / str(i)
        work.mkdir()
        outcome = run_case(case, work, session, i)
        faults += [f"{case.name}: {fault}" for fault in outcome.faults(case)]
        answers.append(f"{case.name} {outcome.answer}")
    assert faults == []
    for backend, theirs in answers_by_backend.items():
        assert answers == theirs, f"answers differ from {backend}'s"
    answers_by_backend[db_engine.dialect.name] = answers
    refused = sum(not a.split(" ", 1)[1].startswith("registered") for a in answers)
    assert refused >= 250  # most of the corpus is hostile; the valid and lucky mutants register
