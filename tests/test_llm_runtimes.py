"""The LLM runtimes: llama.cpp on the real SmolLM2, both runtimes on the tiny Llama-2-format
model, the crash-proof probe, runtime selection, and the shared streaming helpers."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tiny_gguf import write_tiny_llama_gguf

from desk_assistant.backends.defaults import default_llm_path
from desk_assistant.backends.llm import loader, probe
from desk_assistant.backends.llm.base import (
    LLMRuntime,
    LoadParams,
    PromptTooLongError,
    cut_at_stop,
    reply_budget,
)
from desk_assistant.backends.llm.chat_format import chat_format_for
from desk_assistant.backends.llm.ctransformers_runtime import CTransformersRuntime
from desk_assistant.backends.llm.fake import FakeRuntime
from desk_assistant.backends.llm.llama_cpp_runtime import LlamaCppRuntime
from desk_assistant.backends.llm.loader import load_runtime
from desk_assistant.backends.llm.probe import CACHE_FILE, probe_runtime
from desk_assistant.errors import ModelLoadError

PROMPT = "the answer is"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_llama_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


@pytest.fixture(scope="module")
def probe_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("probe-cache")


@pytest.fixture(scope="module")
def smollm2() -> Iterator[LlamaCppRuntime]:
    # One thread: two threads on two shared cores collapse (~10x slower) whenever another
    # process wants a core, and these tests share the machine.
    runtime = LlamaCppRuntime.load(default_llm_path(), LoadParams(context_length=2048, threads=1))
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def tiny_ctransformers(tiny_model: Path, probe_cache: Path) -> Iterator[CTransformersRuntime]:
    runtime = CTransformersRuntime.load(
        tiny_model, LoadParams(context_length=256, threads=1), cache_dir=probe_cache
    )
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def tiny_llama_cpp(tiny_model: Path) -> Iterator[LlamaCppRuntime]:
    runtime = LlamaCppRuntime.load(tiny_model, LoadParams(context_length=256, threads=1))
    yield runtime
    runtime.close()


# --- shared helpers -------------------------------------------------------------------


def test_cut_at_stop_across_pieces_and_held_back_prefixes() -> None:
    assert list(cut_at_stop(iter(["Hel", "lo<|im", "_end|>", "more"]), ["<|im_end|>"])) == [
        "Hel",
        "lo",
    ]
    # A prefix of a stop sequence that turns out not to be one is released, not lost.
    assert "".join(cut_at_stop(iter(["a<", "|b", "c"]), ["<|im_end|>"])) == "a<|bc"
    # The earliest stop sequence wins, whatever its place in the list.
    assert "".join(cut_at_stop(iter(["x [INST] y </s>"]), ["</s>", "[INST]"])) == "x "
    # Empty stop strings are ignored instead of stopping at once.
    assert "".join(cut_at_stop(iter(["a", "b"]), ["", "a"])) == ""
    assert "".join(cut_at_stop(iter(["a", "b"]), [""])) == "ab"


def test_cut_at_stop_closes_the_source() -> None:
    closed = []

    def source() -> Iterator[str]:
        try:
            yield from ["one ", "two ", "STOP", "three"]
        finally:
            closed.append(True)

    assert "".join(cut_at_stop(source(), ["STOP"])) == "one two "
    assert closed == [True]
    stream = cut_at_stop(source(), [])
    next(stream)
    stream.close()  # the caller stops iterating
    assert closed == [True, True]


def test_reply_budget() -> None:
    assert reply_budget(100, 256, 2048) == 256
    assert reply_budget(2000, 256, 2048) == 48
    with pytest.raises(PromptTooLongError, match="2048"):
        reply_budget(2048, 256, 2048)


# --- the fake ------------------------------------------------------------------------------


def test_fake_runtime_follows_the_protocol() -> None:
    fake = FakeRuntime(["Paris is the capital. </s> ignored", "Second reply"])

    assert isinstance(fake, LLMRuntime)
    assert "".join(fake.stream("q1", stop=["</s>"])) == "Paris is the capital. "
    assert "".join(fake.stream("q2")) == "Second reply"
    assert "".join(fake.stream("q3")) == "Second reply"  # the last reply repeats
    assert fake.prompts == ["q1", "q2", "q3"]
    assert fake.tokenize("one two three") == fake.tokenize("one two three")
    assert len(fake.tokenize("one two three")) == 3


def test_fake_runtime_max_tokens_and_cancellation() -> None:
    fake = FakeRuntime(lambda prompt: "word " * 100, context_length=64)

    assert len(list(fake.stream("q", max_tokens=5))) == 5
    with pytest.raises(PromptTooLongError):
        fake.stream("word " * 64)

    cancelled = FakeRuntime(["word " * 100])
    stream = cancelled.stream("q")
    next(stream)
    stream.close()
    assert cancelled.pieces_generated == 1


# --- llama.cpp on the real SmolLM2 ------------------------------------------------------


@pytest.mark.model
def test_smollm2_tokenize(smollm2: LlamaCppRuntime) -> None:
    assert smollm2.context_length == 2048
    tokens = smollm2.tokenize("Hello world")
    assert 1 <= len(tokens) <= 3
    # Control tokens in a rendered prompt count as one token each, as the model sees them.
    assert len(smollm2.tokenize("<|im_end|>")) == 1


@pytest.mark.model
def test_smollm2_answers_and_stops_at_end_of_turn(smollm2: LlamaCppRuntime) -> None:
    fmt = chat_format_for(smollm2.info)
    # A question whose first answer token wins by a wide margin: for "What is the capital
    # of France?" the 135M model puts "La" and "The" within 0.13 logits of each other, and
    # llama.cpp's AVX2 and AVX-512 kernels pick different ones.
    prompt = fmt.render(
        "You are a helpful assistant.", "Name the capital city of France in English."
    )

    pieces = list(smollm2.stream(prompt, stop=fmt.stop, max_tokens=200, temperature=0))
    answer = "".join(pieces)

    assert "Paris" in answer
    assert "<|im_end|>" not in answer
    assert "<|im_start|>" not in answer
    assert len(pieces) < 200  # it ended its turn instead of running out of tokens


@pytest.mark.model
def test_smollm2_max_tokens_stop_and_reproducibility(smollm2: LlamaCppRuntime) -> None:
    fmt = chat_format_for(smollm2.info)
    prompt = fmt.render("", "Write a long story about a dragon.")

    full = "".join(smollm2.stream(prompt, max_tokens=24, temperature=0))
    assert len(smollm2.tokenize(full)) <= 24
    assert "".join(smollm2.stream(prompt, max_tokens=24, temperature=0)) == full

    stop = full[len(full) // 2 : len(full) // 2 + 4]
    cut = "".join(smollm2.stream(prompt, stop=[stop], max_tokens=24, temperature=0))
    assert cut == full[: full.index(stop)]


@pytest.mark.model
def test_smollm2_breaking_out_of_the_stream(smollm2: LlamaCppRuntime) -> None:
    prompt = chat_format_for(smollm2.info).render("", "Count from 1 to 500.")
    stream = smollm2.stream(prompt, max_tokens=500, temperature=0)
    first = next(stream)
    stream.close()

    assert first
    # The model is free again at once: a new stream works normally.
    assert "".join(smollm2.stream(prompt, max_tokens=3, temperature=0))


# --- both runtimes on the tiny Llama-2-format model --------------------------------------


@pytest.mark.parametrize("runtime_fixture", ["tiny_ctransformers", "tiny_llama_cpp"])
def test_tiny_model_streams_in_both_runtimes(
    runtime_fixture: str, request: pytest.FixtureRequest
) -> None:
    runtime: LLMRuntime = request.getfixturevalue(runtime_fixture)

    assert runtime.context_length == 256
    assert runtime.tokenize("the world")  # "▁the", "▁world" in the tiny vocabulary
    full = "".join(runtime.stream(PROMPT, max_tokens=16, temperature=0))
    assert full
    # Greedy decoding is reproducible, so a stop sequence taken from the middle of the
    # reply must cut the same reply exactly there.
    assert "".join(runtime.stream(PROMPT, max_tokens=16, temperature=0)) == full
    stop = full[len(full) // 2 : len(full) // 2 + 3]
    assert stop.strip()
    cut = "".join(runtime.stream(PROMPT, stop=[stop], max_tokens=16, temperature=0))
    assert cut == full[: full.index(stop)]
    assert len(list(runtime.stream(PROMPT, max_tokens=3, temperature=0))) <= 3
    sampled = "".join(runtime.stream(PROMPT, max_tokens=8, temperature=0.8))
    assert sampled


@pytest.mark.parametrize(
    ("runtime_fixture", "library_object", "generator_method"),
    [
        ("tiny_ctransformers", "_model", "generate"),
        ("tiny_llama_cpp", "_model", "create_completion"),
    ],
)
def test_stopping_the_iteration_stops_generation(
    runtime_fixture: str,
    library_object: str,
    generator_method: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Counted at the library's own token generator, not timed (this machine is shared)."""
    runtime: LLMRuntime = request.getfixturevalue(runtime_fixture)
    library = getattr(runtime, library_object)
    real = getattr(library, generator_method)
    produced: list[object] = []
    closed: list[bool] = []

    def spy(*args: Any, **kwargs: Any) -> Iterator[object]:
        inner = real(*args, **kwargs)
        try:
            for item in inner:
                produced.append(item)
                yield item
        finally:
            inner.close()
            closed.append(True)

    monkeypatch.setattr(library, generator_method, spy)
    assert len(list(runtime.stream(PROMPT, max_tokens=40, temperature=0))) > 10
    assert len(produced) > 10

    produced.clear()
    stream = runtime.stream(PROMPT, max_tokens=40, temperature=0)
    next(stream)
    stream.close()
    assert closed == [True, True]
    assert len(produced) <= 2


def test_prompt_longer_than_the_context_is_refused(
    tiny_ctransformers: CTransformersRuntime,
) -> None:
    with pytest.raises(PromptTooLongError):
        tiny_ctransformers.stream("the " * 300)


def test_ctransformers_tokenizes_non_ascii_text_safely(
    tiny_ctransformers: CTransformersRuntime,
) -> None:
    """ctransformers' own tokenize() would write 3,000+ tokens into 1,001 slots here."""
    tokens = tiny_ctransformers.tokenize("€" * 1000)
    assert len(tokens) >= 3000  # byte fallback: three tokens per character
    assert "".join(tiny_ctransformers.stream("€ " * 20, max_tokens=2, temperature=0)) is not None


# --- ctransformers refusals and the probe ------------------------------------------------


@pytest.mark.model
def test_ctransformers_refuses_smollm2_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError) as refused:
        CTransformersRuntime.load(default_llm_path(), cache_dir=tmp_path)

    message = str(refused.value)
    assert "SmolLM2-135M-Instruct.Q4_1.gguf" in message
    assert "GPT-2 BPE" in message
    assert "llama_cpp" in message
    assert not (tmp_path / CACHE_FILE).exists()  # refused from metadata: no probe was run


def test_probe_of_a_garbage_file(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"GGUF\x03\x00\x00\x00" + os.urandom(256))

    result = probe_runtime("ctransformers", garbage)

    assert not result.ok
    assert result.reason


def test_probe_survives_a_runtime_abort(tmp_path: Path) -> None:
    """ctransformers abort()s (GGML_ASSERT) on a head count that does not divide the
    embedding; in-process this would kill the test run."""
    bad = write_tiny_llama_gguf(tmp_path / "bad-heads.gguf", head_count=3)

    result = probe_runtime("ctransformers", bad, cache_dir=tmp_path / "cache")

    assert not result.ok
    assert result.reason is not None
    assert "crashed" in result.reason
    assert "signal 6" in result.reason
    with pytest.raises(ModelLoadError, match=r"crashed.*use the llama_cpp runtime"):
        CTransformersRuntime.load(bad, cache_dir=tmp_path / "cache")
    # "auto" tried llama.cpp first (it refuses the file too): no advice to go back to it.
    with pytest.raises(ModelLoadError, match="no runtime can load") as refused:
        load_runtime(bad, cache_dir=tmp_path / "cache")
    assert "crashed" in str(refused.value)
    assert "use the llama_cpp runtime" not in str(refused.value)


def test_probe_results_are_cached_per_file_version(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "copy.gguf"
    model.write_bytes(tiny_model.read_bytes())
    cache = tmp_path / "cache"

    first = probe_runtime("ctransformers", model, cache_dir=cache)
    with monkeypatch.context() as patched:
        patched.setattr(probe, "_run_child", _no_child)  # a cached result starts no child
        second = probe_runtime("ctransformers", model, cache_dir=cache)

    assert first.ok and not first.cached
    assert second.ok and second.cached
    entries = json.loads((cache / CACHE_FILE).read_text())
    assert len(entries) == 1
    assert str(model.resolve()) in next(iter(entries))

    os.utime(model, ns=(time.time_ns(), time.time_ns() + 10**9))  # a changed file
    assert not probe_runtime("ctransformers", model, cache_dir=cache).cached


def _no_child(*args: object) -> object:
    raise AssertionError("the probe started a child process")


# --- loading by name and "auto" ----------------------------------------------------------


def test_auto_picks_llama_cpp(tiny_model: Path) -> None:
    runtime = load_runtime(tiny_model, "auto", LoadParams(context_length=4096))
    try:
        assert runtime.name == "llama_cpp"
        assert runtime.context_length == 512  # capped at the model's trained length
    finally:
        runtime.close()


def test_auto_falls_back_to_ctransformers(
    tiny_model: Path, probe_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "runtime_installed", lambda name: name != "llama_cpp")

    runtime = load_runtime(tiny_model, "auto", LoadParams(context_length=128), probe_cache)
    try:
        assert runtime.name == "ctransformers"
        assert runtime.context_length == 128
    finally:
        runtime.close()


@pytest.mark.model
def test_auto_loads_smollm2_with_llama_cpp(monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = load_runtime(default_llm_path(), params=LoadParams(context_length=512))
    try:
        assert runtime.name == "llama_cpp"
    finally:
        runtime.close()

    monkeypatch.setattr(loader, "runtime_installed", lambda name: name != "llama_cpp")
    with pytest.raises(ModelLoadError, match=r"llama_cpp runtime is not installed.*GPT-2 BPE"):
        load_runtime(default_llm_path())


def test_auto_explains_when_no_runtime_can_load(tmp_path: Path) -> None:
    old = tmp_path / "old-ggml.bin"
    old.write_bytes(b"tjgg" + bytes(1024))

    with pytest.raises(ModelLoadError) as refused:
        load_runtime(old, cache_dir=tmp_path)

    message = str(refused.value)
    assert message.startswith("no runtime can load old-ggml.bin")
    assert "GGML" in message  # llama.cpp's reason
    assert "ctransformers cannot load old-ggml.bin" in message


def test_unknown_runtime_name(tiny_model: Path) -> None:
    with pytest.raises(ModelLoadError, match="auto, llama_cpp, ctransformers"):
        load_runtime(tiny_model, "vllm")


def test_missing_file_and_non_model_file(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="model file not found"):
        load_runtime(tmp_path / "missing.gguf")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a model")
    for runtime in ("auto", "llama_cpp", "ctransformers"):
        with pytest.raises(ModelLoadError, match="not a GGUF or GGML model file"):
            load_runtime(notes, runtime)


def test_importing_the_loader_imports_no_heavy_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys, desk_assistant.backends.llm.loader, desk_assistant.backends.llm.probe, "
        "desk_assistant.backends.llm.fake, desk_assistant.backends.llm.chat_format;"
        "print([m for m in ('llama_cpp', 'ctransformers', 'torch', 'gguf', 'PySide6')"
        " if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.stdout.strip() == "[]"
