"""Reusing the model's state for the prompt's shared prefix: only new tokens are read, and
the answer is the same whether the cache was warm or cold."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tiny_gguf import write_tiny_llama_gguf

from desk_assistant.backends.defaults import default_llm_path
from desk_assistant.backends.llm.base import FileRuntime, LoadParams
from desk_assistant.backends.llm.chat_format import PROMPT_FAMILIES, chat_format_for, family_format
from desk_assistant.backends.llm.ctransformers_runtime import CTransformersRuntime
from desk_assistant.backends.llm.fake import FakeRuntime
from desk_assistant.backends.llm.kv_state import KVState, checkpoint_positions, segments
from desk_assistant.backends.llm.llama_cpp_runtime import LlamaCppRuntime
from desk_assistant.rag.packing import PackedPassage
from desk_assistant.rag.prompt import SYSTEM_PROMPT, shared_prefixes, system_message, user_message
from desk_assistant.records import Passage

# --- the bookkeeping -----------------------------------------------------------------


def test_checkpoints_are_prefixes_that_tokenize_alike() -> None:
    tokens = [1, 5, 6, 7, 8, 9]
    prefixes = [[1, 5], [1, 5, 6, 7], [1, 5, 60], [1, 5, 6, 7, 8, 9], [], [1, 5]]
    # [1, 5, 60] tokenizes differently on its own; the whole prompt and nothing are not
    # places to split; duplicates collapse.
    assert checkpoint_positions(tokens, prefixes) == (2, 4)


def test_reuse_needs_the_same_tokens_and_the_same_segments() -> None:
    state = KVState()
    state.extend([1, 5])
    state.extend([6, 7])
    assert state.checkpoints == [2, 4]
    assert state.reusable([1, 5, 6, 7, 8], [2, 4]) == 4
    assert state.reusable([1, 5, 6, 70, 8], [2, 4]) == 2  # the passages changed
    assert state.reusable([1, 5, 6, 7, 8], [4]) == 0  # same tokens, built in other segments
    assert state.reusable([2, 5, 6, 7, 8], [2, 4]) == 0
    assert state.reusable([1, 5, 6, 7, 8, 9], [2, 4, 5]) == 4
    state.keep(2)
    assert (state.tokens, state.checkpoints) == ([1, 5], [2])
    assert segments(2, [2, 4, 5]) == [(2, 4), (4, 5)]
    assert segments(0, []) == []


def _passage(text: str, path: str = "/docs/lease.pdf") -> Passage:
    return Passage("c1", path, 2, None, 0, len(text), text, 1.0, 0.6)


@pytest.mark.parametrize("family", PROMPT_FAMILIES)
def test_shared_prefixes_of_every_prompt_format(family: str) -> None:
    fmt = family_format(family, FakeRuntime(["x"]).info)
    system = system_message([PackedPassage(1, _passage("The rent is 900 a month."), "The rent")])
    history = [("What is the deposit?", "Two months of rent.")]
    prompt = fmt.render(system, user_message("And the rent?"), history)
    instructions, passages, turn = shared_prefixes(fmt, system, history)
    assert prompt.startswith(instructions) and prompt.startswith(passages)
    assert prompt.startswith(turn)
    assert instructions.rstrip().endswith(SYSTEM_PROMPT.rstrip())
    assert "The rent" in passages and "deposit" not in passages
    assert "Two months of rent." in turn and "And the rent?" not in turn


def test_a_question_alone_has_the_instructions_as_its_prefix() -> None:
    fmt = chat_format_for(FakeRuntime(["x"]).info)
    first, second = shared_prefixes(fmt, system_message([]))
    assert first == second or SYSTEM_PROMPT in first


# --- real models ---------------------------------------------------------------------

INSTRUCTIONS = "Answer from the passages in one short sentence.\n\n"
PASSAGES = (
    "Passages:\n[1] The tenant must give two months' notice in writing. The landlord "
    "must give twelve months' notice. The deposit is 1,800 euros, returned within 30 days.\n"
)
QUESTIONS = ("What notice must the tenant give?", "How large is the deposit?")


def _counting(runtime: FileRuntime, method: str) -> list[int]:
    """Record how many tokens each evaluation call of the library's model reads."""
    counts: list[int] = []
    model = runtime._model
    original = getattr(model, method)

    def evaluate(tokens: Any, *args: Any, **kwargs: Any) -> Any:
        counts.append(len(tokens))
        return original(tokens, *args, **kwargs)

    setattr(model, method, evaluate)
    return counts


def _ask(runtime: FileRuntime, prompt: str, prefixes: list[str]) -> str:
    return "".join(runtime.stream(prompt, max_tokens=24, temperature=0, prefixes=prefixes))


def _render(system: str, question: str) -> str:
    return f"{system}Question: {question}\nAnswer:"


def _check_reuse_and_determinism(load: Callable[[], FileRuntime], method: str) -> None:
    first, second = (_render(INSTRUCTIONS + PASSAGES, q) for q in QUESTIONS)
    prefixes = [INSTRUCTIONS, INSTRUCTIONS + PASSAGES]
    warm = load()
    counts = _counting(warm, method)
    answer_first = _ask(warm, first, prefixes)
    read_first = sum(counts)
    counts.clear()
    answer_second = _ask(warm, second, prefixes)
    prompt_tokens = len(warm._prompt_tokens(second))
    shared = len(warm._prompt_tokens(INSTRUCTIONS + PASSAGES))
    # Only the question (and then one token per generated token) was read again.
    assert counts[0] == prompt_tokens - shared
    assert sum(counts) < read_first
    again = _ask(warm, second, prefixes)  # the same question again: the same answer
    warm.close()

    cold = load()
    assert _ask(cold, second, prefixes) == answer_second == again
    assert _ask(cold, first, prefixes) == answer_first
    cold.close()


@pytest.mark.model
def test_llama_cpp_reads_only_new_tokens_and_answers_alike() -> None:
    def load() -> FileRuntime:
        return LlamaCppRuntime.load(default_llm_path(), LoadParams(context_length=1024, threads=1))

    _check_reuse_and_determinism(load, "eval")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_llama_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


def test_ctransformers_reads_only_new_tokens_and_answers_alike(
    tiny_model: Path, tmp_path: Path
) -> None:
    def load() -> FileRuntime:
        return CTransformersRuntime.load(
            tiny_model, LoadParams(context_length=512, threads=1), cache_dir=tmp_path
        )

    _check_reuse_and_determinism(load, "eval")


def test_a_prompt_without_checkpoints_starts_afresh(tiny_model: Path) -> None:
    runtime = LlamaCppRuntime.load(tiny_model, LoadParams(context_length=512, threads=1))
    counts = _counting(runtime, "eval")
    prompt = INSTRUCTIONS + PASSAGES + "Question: why?"
    _ask(runtime, prompt, [INSTRUCTIONS])
    counts.clear()
    _ask(runtime, prompt, [])  # e.g. a question rewritten by the model in between
    assert counts[0] == len(runtime._prompt_tokens(prompt))
    runtime.close()


def test_prompt_batch_and_gpu_layers_reach_llama_cpp(tiny_model: Path, tmp_path: Path) -> None:
    from desk_assistant.backends.registry import RUNTIMES
    from desk_assistant.settings import load_settings

    settings = load_settings(
        tmp_path, model_path=tiny_model, runtime="llama_cpp", prompt_batch=64, gpu_layers=3
    )
    runtime = RUNTIMES["llama_cpp"](settings)
    assert isinstance(runtime, LlamaCppRuntime)
    # A CPU build accepts the layer count and runs every layer on the CPU.
    assert runtime._model.model_params.n_gpu_layers == 3
    assert runtime._model.context_params.n_batch == 64
    runtime.close()


def test_the_model_check_says_whether_the_runtime_can_use_a_graphics_card(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import llama_cpp

    from desk_assistant.models.check import gpu_offload

    # What llama.cpp's build says (False for the CPU wheel these machines compile).
    assert gpu_offload("llama_cpp") is bool(llama_cpp.llama_supports_gpu_offload())
    monkeypatch.setattr(llama_cpp, "llama_supports_gpu_offload", lambda: True)
    assert gpu_offload("llama_cpp") is True
    # ctransformers cannot tell without loading a model; a server runtime has no layers.
    assert gpu_offload("ctransformers") is None
    assert gpu_offload("openai") is None
