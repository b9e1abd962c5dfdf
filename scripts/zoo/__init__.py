"""A reproducible model zoo for testing and benchmarking weight-lineage detection.

``python -m scripts.zoo --out DIR [--size tiny|small] [--independent N] [--seed S]`` trains small
Llama- and BERT-style models on real text, derives fine-tunes, adapters, quantized and converted
copies, pruned, merged, edited and obfuscated variants, and writes ``DIR/manifest.json`` with the
ground truth. ``scripts.zoo.truth.expected_verdict`` turns the manifest into pair verdicts.

Only ``truth`` is imported here: it needs no torch, so tests can use it without the zoo extra.
"""

from .truth import expected_verdict, load_manifest

__all__ = ["expected_verdict", "load_manifest"]
