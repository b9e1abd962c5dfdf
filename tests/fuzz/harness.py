"""Register one corpus case the way ``provreg register`` does, watching every file opened.

Python's audit hook sees each ``open`` (builtins, ``os.open``, mmap'd and memory-mapped files
start with one), so a case that reads a file under ``<work>/outside`` is caught whatever reader
opened it. The hook is installed once per process and records only while :func:`run_case` runs.
"""

from __future__ import annotations

import base64
import contextlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session, func, select

from registry.db.models import LogLeaf, Tensor, Variant, VariantFile
from registry.errors import ProvregError, WeightsError
from registry.services import register_variant
from registry.weights import fingerprint_source, open_model
from registry.weights.sketching import sketch_source
from schemas import VariantCreate
from tests.fuzz.corpus import Case

_opened: list[str] | None = None
_hooked = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and _opened is not None and isinstance(args[0], str | bytes | os.PathLike):
        _opened.append(os.fsdecode(args[0]))


@contextlib.contextmanager
def watching_opens() -> Any:
    """Record the path of every file opened inside the block."""
    global _opened, _hooked
    if not _hooked:
        sys.addaudithook(_audit)
        _hooked = True
    _opened = []
    try:
        yield _opened
    finally:
        _opened = None


@dataclass
class Outcome:
    """What registering one case did: ``answer`` is an error code or ``registered:<digest>``."""

    case: str
    answer: str = ""
    message: str = ""
    internal: str | None = None
    stored: int = 0
    read_outside: list[str] = field(default_factory=list)

    def faults(self, case: Case) -> list[str]:
        """Why this outcome breaks the corpus's rules (empty when it keeps them)."""
        out = []
        if self.internal:
            out.append(f"internal error {self.internal}")
        if self.read_outside:
            out.append(f"read outside the directory: {self.read_outside}")
        failed = not self.answer.startswith("registered")
        if failed and self.stored:
            out.append(f"failed ({self.answer}) but stored {self.stored} records")
        if failed and ("\n" in self.message or not self.message):
            out.append(f"error message is not one line: {self.message!r}")
        if case.error is not None:
            if self.answer != case.error.code:
                out.append(f"answered {self.answer}, expected {case.error.code}")
            elif case.fault is not None and case.fault not in self.message:
                out.append(f"message {self.message!r} lacks {case.fault!r}")
        elif case.kind in ("valid", "links") and failed:
            out.append(f"a valid model was refused: {self.message}")
        return out


def stored_records(session: Session) -> int:
    """How many variants, files, tensors and log leaves the database holds."""
    return sum(
        session.exec(select(func.count()).select_from(table)).one()
        for table in (Variant, VariantFile, Tensor, LogLeaf)
    )


def fingerprint(path: Path) -> VariantCreate:
    """The registration request ``provreg register PATH`` would send (sketch when possible)."""
    source = open_model(path)
    fp = fingerprint_source(source, workers=1)
    with contextlib.suppress(WeightsError):  # exact digests stand on their own, as in the CLI
        fp.sketch = base64.b64encode(sketch_source(source).to_bytes()).decode()
    return VariantCreate(name="fuzz/model", fingerprint=fp)


def run_case(case: Case, work: Path, session: Session | None, index: int = 0) -> Outcome:
    """Build ``case`` under ``work``, fingerprint it and (with a session) register it."""
    return register_built(case.name, case.build(work), work, session, index)


def register_built(
    name: str, path: Path, work: Path, session: Session | None, index: int = 0
) -> Outcome:
    """Fingerprint the input built at ``path`` and (with a session) register it."""
    out = Outcome(name)
    before = stored_records(session) if session is not None else 0
    with watching_opens() as opened:
        try:
            request = fingerprint(path)
            if session is not None:
                request.name = f"fuzz/case-{index}"
                register_variant(session, request)
            out.answer = f"registered:{request.fingerprint.digest}"
        except ProvregError as exc:
            out.answer, out.message = exc.code, str(exc)
        except Exception as exc:  # noqa: BLE001 - an internal error is what the corpus hunts
            out.internal = f"{type(exc).__name__}: {str(exc)[:200]}"
    if session is not None and not out.answer.startswith("registered"):
        out.stored = stored_records(session) - before
    outside = (work / "outside").resolve()
    out.read_outside = sorted(
        {p for p in opened if Path(p).resolve().is_relative_to(outside)} if outside.exists() else ()
    )
    return out
