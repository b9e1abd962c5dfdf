"""`hub sync --fingerprint`: weights fetched with hf_hub_download from the loopback Hub and
identified, turning declared edges into verified or disputed and adding detected ones."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from registry.db.models import HubRepo, LineageEdge, Variant
from registry.hub.fingerprint import fingerprint_repo
from registry.hub.reader import HubReader
from registry.hub.sync import sync_root
from registry.services.safeguards.policy import load_policy
from tests.hub_server import FakeHub, HubFileSpec, HubRepoSpec, HubServer, zoo_files

ZOO = Path(__file__).resolve().parents[1] / "fixtures" / "zoo"
ROOT = "zoo/llama-b0"


def _hub() -> FakeHub:
    return FakeHub(
        [
            HubRepoSpec(id=ROOT, files=zoo_files(ZOO / "llama-b0")),
            HubRepoSpec(id="zoo/llama-b1", files=zoo_files(ZOO / "llama-b1")),
            # honest: a fine-tune of the root
            HubRepoSpec(
                id="wild/llama-ft",
                parents=[(ROOT, "finetune")],
                files=zoo_files(ZOO / "llama-b0-ft"),
            ),
            # claims the root, holds independently trained weights (llama-b1's fine-tune)
            HubRepoSpec(
                id="wild/liar", parents=[(ROOT, "finetune")], files=zoo_files(ZOO / "llama-b1-ft")
            ),
            # a GGUF quantization of the fine-tune
            HubRepoSpec(
                id="wild/llama-ft-gguf",
                parents=[("wild/llama-ft", "quantized")],
                files={
                    "llama-b0-ft-q8_0.gguf": HubFileSpec.of(
                        (ZOO / "llama-b0-ft-gguf-q8_0.gguf").read_bytes()
                    )
                },
            ),
            # pickle only: refused, never downloaded
            HubRepoSpec(
                id="wild/pickled",
                parents=[(ROOT, "finetune")],
                files={"pytorch_model.bin": HubFileSpec.of(b"\x80\x04not really")},
            ),
        ]
    )


def _edge(session: Session, child: str, parent: str) -> LineageEdge:
    c = session.exec(select(Variant).where(Variant.name == child)).one()
    p = session.exec(select(Variant).where(Variant.name == parent)).one()
    return session.exec(
        select(LineageEdge).where(LineageEdge.child_id == c.id, LineageEdge.parent_id == p.id)
    ).one()


def test_fingerprint_verifies_disputes_and_detects(session: Session, tmp_path: Path) -> None:
    fake = _hub()
    with HubServer(fake) as server:
        hub = HubReader(server.url, None, sleep=lambda _s: None)
        scratch = tmp_path / "scratch"
        scratch.mkdir()

        def fp(s: Session, repo: HubRepo):  # type: ignore[no-untyped-def]
            return fingerprint_repo(
                s, hub, repo, workdir=scratch, max_bytes=10**9, max_header_bytes=10**8
            )

        # llama-b1 is known first, so the liar's weights can be traced to it
        sync_root(session, hub, "zoo/llama-b1", load_policy(), fingerprint=fp)
        result = sync_root(session, hub, ROOT, load_policy(), fingerprint=fp)
        assert list(scratch.iterdir()) == []  # each repo's download is deleted after it
    assert result.fingerprinted == 4  # root, ft, liar, gguf; not the pickle
    assert _edge(session, "wild/llama-ft", ROOT).status == "verified"
    assert _edge(session, "wild/llama-ft-gguf", "wild/llama-ft").status == "verified"
    assert _edge(session, "wild/liar", ROOT).status == "disputed"
    detected = _edge(session, "wild/liar", "zoo/llama-b1")
    assert (detected.source, detected.status) == ("detected", "detected")
    pickled = session.exec(select(HubRepo).where(HubRepo.repo_id == "wild/pickled")).one()
    assert pickled.fingerprint_note and "pickle" in pickled.fingerprint_note
    assert not any("pytorch_model.bin" in p for _m, p in fake.requests)
    assert _edge(session, "wild/pickled", ROOT).status == "unverified"
    ft = session.exec(select(Variant).where(Variant.name == "wild/llama-ft")).one()
    assert ft.digest is not None and ft.format == "safetensors"
    # a second sync at the same commits downloads nothing
    fake.requests.clear()
    with HubServer(fake) as server:
        hub = HubReader(server.url, None, sleep=lambda _s: None)
        again = sync_root(session, hub, ROOT, load_policy(), fingerprint=fp)
    assert again.fingerprinted == 0
    assert not any("/resolve/" in p for _m, p in fake.requests)
