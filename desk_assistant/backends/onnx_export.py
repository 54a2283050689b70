"""Export a local sentence-transformers folder to ONNX for :class:`OnnxEmbedder`.

Run at build time by the installers (the export needs torch and transformers; the app that
uses the result does not), and by hand in a pip install to run any Transformer + Pooling
model without torch::

    python -m desk_assistant.backends.onnx_export SENTENCE_TRANSFORMERS_FOLDER OUT_FOLDER

The export checks itself before it is written: the ONNX graph must reproduce the torch
model's pooled vectors (cosine >= 0.9999 on a few sentences), or nothing is written.
Beside the fp32 graph it writes an ``int8`` variant, dynamically quantized by ONNX
Runtime (weights int8 per output channel, activations quantized per batch): faster on a
CPU at cosine ~0.99 to fp32 (``bench/embedders.py``); ``embedding_variant`` picks it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from desk_assistant import offline
from desk_assistant.atomic import write_text
from desk_assistant.backends.embeddings import model_id_for
from desk_assistant.backends.onnx_embedder import (
    DEFAULT_VARIANT,
    INT8_VARIANT,
    MANIFEST,
    ExportInfo,
    OnnxEmbedder,
    pool,
)
from desk_assistant.errors import DeskAssistantError

offline.enforce_offline()

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_CHECK_SENTENCES = (
    "The tenant gives two months' notice in writing.",
    "Knead the dough for ten minutes, then let it rise.",
    "short",
)
_MIN_SELF_COSINE = 0.9999
# Quantization moves the vectors (it gets its own vector space id), but a variant that
# strays this far from fp32 would retrieve other passages: refuse to write it.
_MIN_INT8_COSINE = 0.98
_INT8_FILE = "model.int8.onnx"


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def describe_folder(folder: Path) -> tuple[Path, ExportInfo]:
    """Where the transformer's weights are and how its output is pooled, from the
    folder's sentence-transformers configuration; refuses what the embedder cannot run."""
    modules = _read_json(folder / "modules.json") or [
        {"path": "", "type": "sentence_transformers.models.Transformer"}
    ]
    kinds = {str(m["type"]).rsplit(".", 1)[-1]: str(m.get("path", "")) for m in modules}
    unknown = set(kinds) - {"Transformer", "Pooling", "Normalize"}
    if "Transformer" not in kinds or unknown:
        raise DeskAssistantError(
            f"{folder}: only Transformer + Pooling (+ Normalize) models can be exported "
            f"(this one has {', '.join(sorted(unknown)) or 'no Transformer'})"
        )
    pooling_config = _read_json(folder / kinds.get("Pooling", "1_Pooling") / "config.json") or {}
    if pooling_config.get("pooling_mode_cls_token"):
        pooling = "cls"
    elif pooling_config.get("pooling_mode_mean_tokens", True):
        pooling = "mean"
    else:
        raise DeskAssistantError(f"{folder}: only mean or CLS pooling can be exported")
    st_config = _read_json(folder / "sentence_bert_config.json") or {}
    transformer = folder / kinds["Transformer"]
    config = _read_json(transformer / "config.json") or {}
    max_length = int(
        st_config.get("max_seq_length") or config.get("max_position_embeddings") or 512
    )
    info = ExportInfo(
        model_id=model_id_for(folder),
        name=folder.parent.name if folder.name == "model" else folder.name,
        dimension=int(config.get("hidden_size", 0)),
        max_length=max_length,
        pooling=pooling,
        normalize="Normalize" in kinds,
        inputs=_INPUTS,
        variants={DEFAULT_VARIANT: "model.onnx"},
    )
    return transformer, info


def export(folder: Path, out: Path) -> ExportInfo:
    """Write the ONNX export of ``folder`` into ``out`` (created; replaced if present)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    transformer, info = describe_folder(folder)
    model = AutoModel.from_pretrained(str(transformer), local_files_only=True)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(transformer), local_files_only=True)
    tokenizer_file = transformer / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise DeskAssistantError(f"{transformer} has no tokenizer.json (a fast tokenizer)")
    sample = tokenizer(list(_CHECK_SENTENCES), padding=True, return_tensors="pt")
    names = tuple(n for n in _INPUTS if n in sample)
    info = dataclasses.replace(info, inputs=names)

    class LastHiddenState(torch.nn.Module):
        """The transformer with positional inputs and one output, as the graph needs."""

        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> Any:
            given = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, **given
            ).last_hidden_state

    staging = Path(tempfile.mkdtemp(prefix=".onnx-export-", dir=out.parent))
    try:
        axes = {name: {0: "batch", 1: "tokens"} for name in names}
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer chatter, not problems: the check decides
            torch.onnx.export(
                LastHiddenState(model),
                tuple(sample[n] for n in names),
                str(staging / info.variants[DEFAULT_VARIANT]),
                input_names=list(names),
                output_names=["last_hidden_state"],
                dynamic_axes={**axes, "last_hidden_state": {0: "batch", 1: "tokens"}},
                opset_version=18,
                # The TorchScript tracer bakes transformers' mask arithmetic into constants
                # (cosine 0.9 to the model); torch.export's graph is exact.
                dynamo=True,
                external_data=False,
                verbose=False,
            )
            expected = pool(
                model(**{n: sample[n] for n in names}).last_hidden_state.numpy(),
                sample["attention_mask"].numpy(),
                info,
            )
        shutil.copyfile(tokenizer_file, staging / "tokenizer.json")
        (staging / MANIFEST).write_text(json.dumps(info.to_json(), indent=2), encoding="utf-8")
        _self_check(staging, expected, _MIN_SELF_COSINE)
        info = add_int8(staging)
        staging.chmod(0o755)  # mkdtemp's 0700 would hide an installed copy from other users
        if out.exists():
            shutil.rmtree(out)
        staging.replace(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return info


def add_int8(folder: Path) -> ExportInfo:
    """Add the dynamically quantized int8 variant to the export in ``folder``, checked
    against its fp32 graph; return the updated export record."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    info = ExportInfo.read(folder)
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        partial = Path(scratch) / _INT8_FILE
        # Per output channel: one scale per tensor gives cosine ~0.93 to fp32 on this
        # model, per channel ~0.99 (measured on SciFact abstracts).
        quantize_dynamic(
            folder / info.variants[DEFAULT_VARIANT],
            partial,
            weight_type=QuantType.QInt8,
            per_channel=True,
        )
        partial.replace(folder / _INT8_FILE)
    expected = OnnxEmbedder(folder).embed_documents(list(_CHECK_SENTENCES))
    info = dataclasses.replace(info, variants={**info.variants, INT8_VARIANT: _INT8_FILE})
    write_text(folder / MANIFEST, json.dumps(info.to_json(), indent=2))
    try:
        _self_check(folder, expected, _MIN_INT8_COSINE, INT8_VARIANT)
    except DeskAssistantError:
        (folder / _INT8_FILE).unlink()
        info = dataclasses.replace(
            info, variants={k: v for k, v in info.variants.items() if k != INT8_VARIANT}
        )
        write_text(folder / MANIFEST, json.dumps(info.to_json(), indent=2))
        raise
    return info


def _self_check(
    folder: Path, expected: np.ndarray, minimum: float, variant: str = DEFAULT_VARIANT
) -> None:
    got = OnnxEmbedder(folder, variant=variant).embed_documents(list(_CHECK_SENTENCES))
    cosine = np.sum(got * expected, axis=1) / (
        np.linalg.norm(got, axis=1) * np.linalg.norm(expected, axis=1)
    )
    if float(cosine.min()) < minimum:
        raise DeskAssistantError(
            f"the ONNX export's {variant} graph does not reproduce the model "
            f"(cosine {cosine.min():.5f})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m desk_assistant.backends.onnx_export",
        description="Export a sentence-transformers folder to ONNX (needs torch and onnx).",
    )
    parser.add_argument("folder", type=Path, help="sentence-transformers model folder")
    parser.add_argument("out", type=Path, help="folder to write the export to")
    args = parser.parse_args(argv)
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        info = export(args.folder.resolve(), args.out.resolve())
    except DeskAssistantError as exc:
        print(f"onnx_export: {exc}", file=sys.stderr)
        return 1
    print(f"exported {info.model_id} ({info.dimension} dimensions) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
