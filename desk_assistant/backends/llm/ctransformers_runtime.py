"""The ctransformers runtime: Llama-2-era GGUF and GGML files, wrapped defensively.

ctransformers embeds a llama.cpp from September 2023 and is unmaintained, so this module
does three things the library does not:

* refuses, from the file's metadata and before loading, what that llama.cpp cannot read
  (GPT-2 BPE vocabularies, tied embeddings, newer architectures), naming llama_cpp;
* declares that a bad file makes it ``abort()`` rather than raise, so ``load`` (in
  ``FileRuntime``) loads a file in-process only after a child-process probe survived it;
* tokenizes into a buffer sized for the worst case: ``LLM.tokenize`` (also used by
  ``LLM.__call__``) allocates ``len(text) + 1`` ints and the C side writes every token
  without a bound, overflowing the heap for text with more tokens than characters (any
  non-ASCII text that falls back to byte tokens).
"""

from __future__ import annotations

import codecs
import ctypes
from collections.abc import Iterator
from pathlib import Path

from desk_assistant.backends.llm.base import (
    FileRuntime,
    Generation,
    LoadParams,
    context_size,
    default_threads,
)
from desk_assistant.backends.llm.gguf_info import ModelInfo
from desk_assistant.errors import ModelLoadError

# The architectures whose GGUF files ctransformers' llama.cpp can both parse and run.
SUPPORTED_ARCHITECTURES = frozenset({"llama"})
_VOCABULARY_NAMES = {"gpt2": "GPT-2 BPE", "bert": "WordPiece (BERT)", "rwkv": "RWKV"}
# Upper bound on SentencePiece tokens per UTF-8 byte: a space becomes "▁" (3 bytes), and
# byte fallback emits one token per byte; plus BOS and the leading "▁".
_TOKENS_PER_BYTE, _EXTRA_TOKENS = 3, 8
USE_LLAMA_CPP = " — use the llama_cpp runtime"


def _cpu_library() -> str | None:
    """Which of ctransformers' builds (avx2, avx, basic) this CPU runs, on Linux.

    Left to itself, ctransformers asks py-cpuinfo, which spawns a Python subprocess: 1.3 s
    of every load and every probe here. The kernel lists the same flags; elsewhere
    (None) the library detects them itself.
    """
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            if "avx2" in flags:
                return "avx2"
            return "avx" if {"avx", "f16c"} <= flags else "basic"
    return None


class CTransformersRuntime(FileRuntime):
    """A Llama-family GGUF or GGML model loaded in this process by ctransformers."""

    name = "ctransformers"
    library = distribution = "ctransformers"
    crashes_on_bad_files = True  # it abort()s on metadata it does not expect

    @staticmethod
    def refusal(info: ModelInfo) -> str | None:
        if info.file_format != "gguf":
            return None  # GGML files carry too little metadata to judge: the probe decides
        if info.tokenizer_model != "llama":
            vocabulary = _VOCABULARY_NAMES.get(
                info.tokenizer_model or "", repr(info.tokenizer_model)
            )
            return (
                f"its vocabulary is {vocabulary} (ctransformers supports only SentencePiece "
                "'llama' vocabularies in GGUF)"
            )
        if info.architecture not in SUPPORTED_ARCHITECTURES:
            return f"its architecture {info.architecture!r} is newer than ctransformers"
        if info.tied_embeddings:
            return (
                "it has no separate output.weight tensor (tied embeddings), which "
                "ctransformers cannot load"
            )
        return None

    @classmethod
    def cannot_load(cls, path: str | Path, info: ModelInfo, reason: str) -> ModelLoadError:
        prefix = f"ctransformers cannot load {Path(path).name}"
        message = reason if reason.startswith(prefix) else f"{prefix}: {reason}"
        if info.file_format == "gguf":
            message += USE_LLAMA_CPP
        return ModelLoadError(message)

    @classmethod
    def _open(cls, path: str | Path, params: LoadParams, info: ModelInfo) -> CTransformersRuntime:
        from ctransformers import AutoModelForCausalLM

        try:
            model = AutoModelForCausalLM.from_pretrained(
                str(path),
                model_type="llama",  # ignored for GGUF; GGML files are loaded as LLaMA
                local_files_only=True,
                context_length=context_size(params, info),
                threads=params.threads or default_threads(),
                batch_size=params.batch,  # its own default, 8, reads prompts far slower
                gpu_layers=params.gpu_layers,
                lib=_cpu_library(),
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise cls.cannot_load(path, info, str(exc)) from exc
        return cls(model, info, params.seed, params.batch)

    @property
    def context_length(self) -> int:
        return int(self._model.context_length)

    def _encode(self, text: str, add_bos: bool) -> list[int]:
        data = text.encode("utf-8")
        buffer = (ctypes.c_int * (_TOKENS_PER_BYTE * len(data) + _EXTRA_TOKENS))()
        count = self._model.ctransformers_llm_tokenize(data, add_bos, buffer)
        return list(buffer[:count])

    def tokenize(self, text: str) -> list[int]:
        return self._encode(text, add_bos=False)

    def _prompt_tokens(self, prompt: str) -> list[int]:
        # This tokenizer does not parse special-token text, so a leading BOS text (from
        # a template the tokenizer does not prepend BOS for) becomes the BOS token here.
        bos = self._info.bos_token
        add_bos = self._info.add_bos_token
        if bos and prompt.startswith(bos):
            prompt, add_bos = prompt[len(bos) :], True
        return self._encode(prompt, add_bos)

    def _rewind(self, length: int) -> None:
        # ctransformers writes the KV cache at the position of its token list's end.
        del self._model._context[length:]

    def _evaluate(self, segment: list[int]) -> None:
        self._model.eval(segment, batch_size=self._batch)

    def _pieces(self, request: Generation) -> Iterator[str]:
        # The checkpoints' segments first (see kv_state), then the rest of the prompt;
        # reset=False keeps ctransformers from matching a prefix of its own.
        done = self._read_prefix(request.tokens, request.checkpoints)
        # ctransformers divides logits by the temperature: 0 would give NaNs, so greedy
        # decoding is top_k=1 instead. Its default repetition penalty (1.1) is turned off
        # to match llama.cpp's: answers quote passages, which a penalty discourages.
        temperature = request.temperature
        sampling = {"top_k": 1} if temperature <= 0 else {"temperature": temperature}
        generated = self._model.generate(
            request.tokens[done:],
            seed=self._seed,
            repetition_penalty=1.0,
            batch_size=self._batch,
            reset=False,
            **sampling,
        )
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            for count, token in enumerate(generated, start=1):
                text = decoder.decode(self._model.detokenize([token], decode=False))
                if text:
                    yield text
                if count >= request.budget:
                    break
        finally:
            generated.close()  # stops ctransformers between two tokens

    def close(self) -> None:
        # ctransformers frees the model in LLM.__del__; dropping our reference runs it.
        self._model = None
