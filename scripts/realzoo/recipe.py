"""Constants of the real-tools zoo recipe (no torch: tests read them)."""

PRETRAIN = {"steps": 300, "lr": 3e-3}
# kept token ids of the vocabulary trim: tab, newline, printable ASCII, then the specials
TRIM_KEEP = [9, 10, *range(32, 127), 256, 257, 258, 259]
# what ``--fixtures`` keeps: per architecture, the cases each one shows best (a few MB in all)
FIXTURE_IDS = {
    "llama": (
        "b0",
        "b0-ft12-bf16",
        "b0-trim",
        "b0-onnx-qdyn",
        "b0-onnx-qop",
        "b0-gguf-q8_0",
        "k0",
        "k1",
    ),
    "qwen2": ("b0", "b0-ft12-bf16", "b0-trim", "b0-onnx-qdyn", "b0-gguf-q8_0"),
    "gpt2": ("b0", "b1", "b0-ft12-bf16", "b0-trim", "b0-onnx-qdyn", "b0-gguf-q8_0", "k0"),
    "bert": ("b0", "b1", "b0-trim", "b0-onnx-opt", "b0-onnx-qdyn", "b0-onnx-qop", "k0"),
}
