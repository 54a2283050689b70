"""Model metadata read from file headers: real SmolLM2, the tiny test model, broken files."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from tiny_gguf import write_tiny_llama_gguf

from desk_assistant.backends.defaults import default_llm_path
from desk_assistant.backends.llm.gguf_info import read_model_info
from desk_assistant.errors import ModelLoadError


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_llama_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


@pytest.mark.model
def test_smollm2_metadata() -> None:
    info = read_model_info(default_llm_path())

    assert info.file_format == "gguf"
    assert info.gguf_version == 3
    assert info.architecture == "llama"
    assert info.context_length == 8192
    assert info.tokenizer_model == "gpt2"  # GPT-2 BPE: ctransformers cannot read it
    assert info.tied_embeddings  # no output.weight: ctransformers cannot load it either
    assert info.quantization == "Q4_1"
    assert info.license == "apache-2.0"
    assert info.bos_token == "<|im_start|>"
    assert info.eos_token == "<|im_end|>"
    assert not info.add_bos_token
    assert info.chat_template is not None
    assert "<|im_start|>" in info.chat_template
    assert info.extra["vocab_size"] == "49152"


def test_tiny_model_metadata(tiny_model: Path) -> None:
    info = read_model_info(tiny_model)

    assert tiny_model.stat().st_size < 2_000_000
    assert info.architecture == "llama"
    assert info.name == "tiny-llama-test"
    assert info.tokenizer_model == "llama"
    assert not info.tied_embeddings
    assert info.quantization == "F32"
    assert info.context_length == 512
    assert (info.bos_token, info.eos_token) == ("<s>", "</s>")
    assert info.add_bos_token
    assert info.chat_template is None


def test_chat_template_is_read(tmp_path: Path) -> None:
    template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    path = write_tiny_llama_gguf(tmp_path / "t.gguf", with_chat_template=template)

    assert read_model_info(path).chat_template == template


def test_header_of_a_4_gb_llama_2_7b_file_is_read_fast(tmp_path: Path) -> None:
    """Llama-2-7B's exact header (32,000 tokens, 291 tensors) over a sparse 4 GB file."""
    import gguf

    path = tmp_path / "llama-2-7b.Q4_K_M.gguf"
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_K_M)
    writer.add_context_length(4096)
    writer.add_tokenizer_model("llama")
    tokens = ["<unk>", "<s>", "</s>", *(f"▁w{i}" for i in range(32000 - 3))]
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * len(tokens))
    writer.add_token_types([1] * len(tokens))
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    q4k, q6k = gguf.GGMLQuantizationType.Q4_K, gguf.GGMLQuantizationType.Q6_K

    def tensor(name: str, rows: int, columns: int, kind: gguf.GGMLQuantizationType) -> None:
        block, size = gguf.GGML_QUANT_SIZES[kind]
        row_bytes = columns * size // block
        writer.add_tensor_info(name, (rows, row_bytes), np.dtype(np.uint8), rows * row_bytes, kind)

    tensor("token_embd.weight", 32000, 4096, q4k)
    tensor("output.weight", 32000, 4096, q6k)
    for i in range(32):
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            tensor(f"blk.{i}.{name}.weight", 4096, 4096, q4k)
        tensor(f"blk.{i}.ffn_gate.weight", 11008, 4096, q4k)
        tensor(f"blk.{i}.ffn_up.weight", 11008, 4096, q4k)
        tensor(f"blk.{i}.ffn_down.weight", 4096, 11008, q6k)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    with path.open("r+b") as handle:
        handle.truncate(4_200_000_000)  # sparse: the weights' bytes are never written

    info = read_model_info(path)

    assert info.quantization == "Q4_K_M"
    assert (info.bos_token, info.eos_token) == ("<s>", "</s>")
    assert not info.tied_embeddings
    assert info.extra["tensor_count"] == "226"


@pytest.mark.parametrize("magic", [b"lmgg", b"fmgg", b"tjgg"])
def test_ggml_files_are_recognised(tmp_path: Path, magic: bytes) -> None:
    path = tmp_path / "old.bin"
    path.write_bytes(magic + struct.pack("<I", 3) + bytes(64))

    info = read_model_info(path)

    assert info.file_format == "ggml"
    assert info.architecture is None


@pytest.mark.parametrize(
    "content",
    [b"", b"GGU", b"%PDF-1.7 not a model", b"\x00" * 4096],
    ids=["empty", "short", "pdf", "zeros"],
)
def test_files_that_are_not_models_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.gguf"
    path.write_bytes(content)

    with pytest.raises(ModelLoadError, match="not a GGUF or GGML model file"):
        read_model_info(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="model file not found"):
        read_model_info(tmp_path / "nowhere.gguf")


def test_truncated_download_is_named(tiny_model: Path, tmp_path: Path) -> None:
    half = tmp_path / "half.gguf"
    data = tiny_model.read_bytes()
    half.write_bytes(data[: len(data) // 2])

    with pytest.raises(ModelLoadError, match="incomplete"):
        read_model_info(half)


def test_lying_header_fails_fast(tmp_path: Path) -> None:
    """An array claiming 2**60 strings must end in an error, not in a 2**60-step loop."""
    path = tmp_path / "liar.gguf"
    key = b"tokenizer.ggml.tokens"
    header = b"GGUF" + struct.pack("<IQQ", 3, 0, 1)
    entry = struct.pack("<Q", len(key)) + key + struct.pack("<IIQ", 9, 8, 2**60)
    path.write_bytes(header + entry + b"\x01" * 1000)

    with pytest.raises(ModelLoadError, match="damaged"):
        read_model_info(path)  # a 2**60-step loop would end in the suite's timeout instead


def test_unsupported_gguf_version(tmp_path: Path) -> None:
    path = tmp_path / "future.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 99, 0, 0))

    with pytest.raises(ModelLoadError, match="version 99"):
        read_model_info(path)
