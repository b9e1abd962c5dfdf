"""Remote sketches: bytes fetched by range reads, and agreement with local sketches.

What it measures
    * **Share of bytes**: a Llama-shaped bf16 model of about 1 GiB (hidden 2048, 8 layers) and a
      7B-shaped layout (hidden 4096, intermediate 11008, vocabulary 32000, with ``--layers7b``
      layers; every 7B layer has the same shapes, so the per-layer share does not depend on
      the count), random values, written as safetensors on disk and served by the loopback
      Hub from the file. The remote sketch is taken through ``registry.hub.remote``
      with the default coalescing gap; reported: bytes fetched as a share of the weight bytes,
      requests, and whether the sketch equals the local one bit for bit.
    * **Agreement**: every safetensors and GGUF model of the committed zoo served by the
      loopback Hub, sketched remotely and locally: equal sketches mean equal verdicts.

Run: ``python -m benchmarks.remote_sketch [--layers7b N] [--workdir DIR]``. Writes the
"Remote sketches" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import struct
import sys
import tempfile
import time
from pathlib import Path

import ml_dtypes
import numpy as np

from benchmarks._report import Figure, command_line, markdown_table, write_section
from registry.hub.reader import HubReader
from registry.hub.remote import RemoteFile, open_remote
from registry.weights.reader import DEFAULT_MAX_HEADER_BYTES
from registry.weights.sketching import sketch_path, sketch_source
from tests.hub_server import FakeHub, HubFileSpec, HubRepoSpec, HubServer, zoo_files

TITLE = "Remote sketches"
ZOO = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "zoo"
TARGET_SHARE = 0.15


def llama_shapes(hidden: int, inter: int, layers: int, vocab: int) -> dict[str, tuple[int, int]]:
    kv = hidden  # no grouped-query attention: the larger case
    shapes = {"model.embed_tokens.weight": (vocab, hidden), "lm_head.weight": (vocab, hidden)}
    for i in range(layers):
        p = f"model.layers.{i}."
        shapes |= {
            p + "self_attn.q_proj.weight": (hidden, hidden),
            p + "self_attn.k_proj.weight": (kv, hidden),
            p + "self_attn.v_proj.weight": (kv, hidden),
            p + "self_attn.o_proj.weight": (hidden, hidden),
            p + "mlp.gate_proj.weight": (inter, hidden),
            p + "mlp.up_proj.weight": (inter, hidden),
            p + "mlp.down_proj.weight": (hidden, inter),
        }
    return shapes


def write_bf16_safetensors(path: Path, shapes: dict[str, tuple[int, int]], seed: int) -> str:
    """Random bf16 tensors streamed to ``path`` one at a time; returns the file's SHA-256."""
    header: dict[str, object] = {}
    offset = 0
    for name, shape in shapes.items():
        n = shape[0] * shape[1] * 2
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    digest = hashlib.sha256()
    rng = np.random.default_rng(seed)
    with path.open("wb") as f:
        for chunk in (struct.pack("<Q", len(raw)), raw):
            f.write(chunk)
            digest.update(chunk)
        for shape in shapes.values():
            values = (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(
                ml_dtypes.bfloat16
            )
            data = values.tobytes()
            f.write(data)
            digest.update(data)
    return digest.hexdigest()


def remote_sketch(server_url: str, repo: str, specs: dict[str, HubFileSpec], workdir: Path):  # type: ignore[no-untyped-def]
    reader = HubReader(server_url, None, max_retries=2)
    files = [RemoteFile(p, f.size) for p, f in specs.items()]
    started = time.perf_counter()
    with open_remote(
        reader, repo, "main", files, max_header_bytes=DEFAULT_MAX_HEADER_BYTES, workdir=workdir
    ) as (source, stats):
        sketch = sketch_source(source)
    return sketch, stats, time.perf_counter() - started


def share_case(name: str, shapes: dict[str, tuple[int, int]], workdir: Path) -> dict[str, object]:
    model_dir = workdir / name
    model_dir.mkdir()
    weights = model_dir / "model.safetensors"
    sha = write_bf16_safetensors(weights, shapes, seed=len(name))
    config = b'{"architectures": ["LlamaForCausalLM"], "model_type": "llama"}'
    (model_dir / "config.json").write_bytes(config)
    specs = {
        "model.safetensors": HubFileSpec(weights.stat().st_size, sha, file=weights),
        "config.json": HubFileSpec.of(config, lfs=False),
    }
    hub = FakeHub([HubRepoSpec(id=f"bench/{name}", files=specs)])
    hub.record_requests = False
    with HubServer(hub) as server:
        sketch, stats, seconds = remote_sketch(server.url, f"bench/{name}", specs, workdir)
    local = sketch_path(model_dir)
    return {
        "name": name,
        "weight_bytes": stats.weight_bytes,
        "fetched": stats.bytes_fetched,
        "share": stats.share,
        "requests": stats.requests,
        "seconds": seconds,
        "equal": sketch.to_bytes() == local.to_bytes(),
    }


def zoo_agreement(workdir: Path) -> tuple[int, int, list[str]]:
    models = sorted(
        p
        for p in ZOO.iterdir()
        if (p.is_dir() and any(p.glob("*.safetensors"))) or p.suffix == ".gguf"
    )
    specs_of = {
        p.name: zoo_files(p) if p.is_dir() else {p.name: HubFileSpec.of(p.read_bytes())}
        for p in models
    }
    hub = FakeHub([HubRepoSpec(id=f"zoo/{name}", files=s) for name, s in specs_of.items()])
    hub.record_requests = False
    differ = []
    with HubServer(hub) as server:
        for p in models:
            sketch, _, _ = remote_sketch(server.url, f"zoo/{p.name}", specs_of[p.name], workdir)
            if sketch.to_bytes() != sketch_path(p).to_bytes():
                differ.append(p.name)
    return len(models) - len(differ), len(models), differ


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers7b", type=int, default=4)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="provreg-bench-remote-", dir=args.workdir) as tmp:
        workdir = Path(tmp)
        cases = [
            share_case("llama-1gib", llama_shapes(2048, 5632, 8, 32000), workdir),
            share_case(
                f"7b-layout-{args.layers7b}-layers",
                llama_shapes(4096, 11008, args.layers7b, 32000),
                workdir,
            ),
        ]
        agree, total, differ = zoo_agreement(workdir)
    figures = [
        Figure(
            f"bytes fetched, {c['name']} ({int(c['weight_bytes']) / 2**30:.2f} GiB bf16)",  # type: ignore[call-overload]
            f"{float(c['share']):.1%}",  # type: ignore[arg-type]
            f"<= {TARGET_SHARE:.0%}",
            float(c["share"]) <= TARGET_SHARE,  # type: ignore[arg-type]
        )
        for c in cases
    ]
    figures.append(
        Figure(
            "remote sketch equals the local one (zoo, safetensors and GGUF)",
            f"{agree}/{total}",
            "100%",
            agree == total,
        )
    )
    rows = [
        (
            c["name"],
            f"{int(c['weight_bytes']):,}",  # type: ignore[call-overload]
            f"{int(c['fetched']):,}",  # type: ignore[call-overload]
            f"{float(c['share']):.2%}",  # type: ignore[arg-type]
            c["requests"],
            f"{float(c['seconds']):.1f} s",  # type: ignore[arg-type]
            "yes" if c["equal"] else "NO",
        )
        for c in cases
    ]
    details = markdown_table(
        ["model", "weight bytes", "fetched", "share", "requests", "time", "equal to local"], rows
    )
    if differ:
        details += "\n\nZoo models whose remote sketch differed: " + ", ".join(differ)
    details += (
        "\n\nThe loopback Hub serves the files from disk on the same machine, so times are "
        "the client's and the server's CPU, not a network's. Ranges closer than 64 KiB are "
        "fetched as one request; a sketch reads whole rows of the rows it samples, and a "
        "column-residual Gram reads a quarter of a matrix's rows (at least 512, at most "
        "1,024), so a 2,048-row square projection gives 512 rows, not half of its bytes."
    )
    path = write_section(
        TITLE,
        command=command_line("benchmarks.remote_sketch"),
        figures=figures,
        summary="Remote sketches by HTTP range reads against the loopback Hub: bytes fetched "
        "as a share of the weights, and agreement with local sketches.",
        details=details,
    )
    print(f"wrote {path}", file=sys.stderr)
    return 0 if all(f.met for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
