"""Remote sketches: a repo's weights sketched from HTTP range reads on the loopback Hub equal
the sketch of the downloaded files, bit for bit, from a fraction of the bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.hub.reader import HubReader
from registry.hub.remote import RemoteFile, coalesce, open_remote, subtract
from registry.weights.reader import DEFAULT_MAX_HEADER_BYTES
from registry.weights.sketching import sketch_path, sketch_source
from tests.hub_server import FakeHub, HubFileSpec, HubRepoSpec, HubServer, zoo_files

ZOO = Path(__file__).resolve().parents[1] / "fixtures" / "zoo"


def _files(specs: dict[str, HubFileSpec]) -> list[RemoteFile]:
    return [RemoteFile(p, f.size) for p, f in specs.items()]


@pytest.mark.parametrize(
    "model",
    ["llama-b0", "bert-b0-bf16", "llama-b0-gguf-q8_0.gguf", "llama-b0-gguf-q4_0.gguf",
     "llama-b0-obfuscated-gguf-q4_1.gguf", "bert-b0-pruned50-fp16"],
)  # fmt: skip
def test_a_remote_sketch_equals_the_local_one(model: str, tmp_path: Path) -> None:
    path = ZOO / model
    specs = zoo_files(path) if path.is_dir() else {path.name: HubFileSpec.of(path.read_bytes())}
    hub = FakeHub([HubRepoSpec(id="wild/copy", files=specs)])
    with HubServer(hub) as server:
        reader = HubReader(server.url, None, max_retries=0)
        files = _files(specs)
        with open_remote(
            reader, "wild/copy", "main", files,
            max_header_bytes=DEFAULT_MAX_HEADER_BYTES, workdir=tmp_path, gap=0,
        ) as (source, stats):  # fmt: skip
            remote = sketch_source(source)
    assert remote.to_bytes() == sketch_path(path).to_bytes()
    assert hub.range_requests == stats.requests > 0
    # tiny models: their headers alone are a large share (BENCHMARKS.md has real-sized ones)
    assert 0 < stats.bytes_fetched <= stats.weight_bytes + 4096
    if path.is_dir():
        assert stats.bytes_fetched < stats.weight_bytes
    assert list(tmp_path.iterdir()) == []  # the sparse copies are gone


def test_a_server_that_ignores_ranges_is_refused(tmp_path: Path) -> None:
    from starlette.requests import Request
    from starlette.responses import Response

    from registry.errors import HubUnavailable

    specs = zoo_files(ZOO / "llama-b0")
    hub = FakeHub([HubRepoSpec(id="wild/copy", files=specs)])

    async def whole_file(request: Request) -> Response:  # a mirror without range support
        data = specs[request.path_params["path"]].data or b""
        return Response(data, media_type="application/octet-stream")

    hub.resolve = whole_file  # type: ignore[method-assign]
    with HubServer(hub) as server, pytest.raises(HubUnavailable) as info:
        reader = HubReader(server.url, None, max_retries=0)
        with open_remote(
            reader, "wild/copy", "main", _files(specs),
            max_header_bytes=DEFAULT_MAX_HEADER_BYTES, workdir=tmp_path,
        ):  # fmt: skip
            pass
    assert "Range" in (info.value.hint or "")


def test_ranges_coalesce_and_subtract() -> None:
    assert coalesce([(10, 20), (0, 5), (5, 8), (30, 40)], gap=0) == [(0, 8), (10, 20), (30, 40)]
    assert coalesce([(10, 20), (0, 5), (30, 40)], gap=6) == [(0, 20), (30, 40)]
    assert subtract([(0, 100)], [(10, 20), (50, 60)]) == [(0, 10), (20, 50), (60, 100)]
    assert subtract([(0, 10), (20, 30)], [(0, 30)]) == []
    assert subtract([(5, 15)], []) == [(5, 15)]
