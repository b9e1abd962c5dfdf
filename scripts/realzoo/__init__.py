"""A zoo of tiny ``transformers`` models whose derivatives are made by real tools (PEFT,
``resize_token_embeddings``, ``torch.onnx.export`` + onnxruntime, ``onnxruntime.quantization``,
llama.cpp-style GGUF via the ``gguf`` package, safetensors re-saves), with ground truth in the
format of ``scripts.zoo.truth``. ``resave`` needs only numpy; the rest needs the ``zoo`` extra."""
