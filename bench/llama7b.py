"""A Llama-2-7B-shaped model through the app against the raw library: prompt and
generation tokens/s and the time to the first answer word, per runtime and quantization.

What runs: random weights with Llama-2-7B's exact shapes (``_llama7b_gguf.py``: written
once as F16, quantized to Q4_0 and Q4_K_M by llama.cpp's ``llama_model_quantize``, kept
in ``/work/i14-data`` or ``$DESK_ASSISTANT_BENCH_DATA``; made here when missing). One
typical question: a seeded wikiqa question (not yes/no) about one of the articles with
the most questions, which the app does not abstain on, retrieved and packed by the app
with its default settings (``context_budget`` 540, sentence selection). Per
configuration (llama_cpp Q4_0, llama_cpp Q4_K_M, ctransformers Q4_0), on the same
threads, prompt batch and context:

1. **app**: a fresh ``Assistant`` loads the model (the runtime the app uses, timed) and
   answers with ``Assistant.ask`` (greedy, ``--answer-tokens``); the embedder is warmed
   first by one untimed retrieval. It is the first question after loading, so the whole
   prompt is read, as on every new topic (``bench/prefix.py`` times the follow-ups,
   which reuse the held prefix).
2. **raw**: the library itself (``llama_cpp.Llama.create_completion`` /
   ctransformers' ``AutoModelForCausalLM``) loads the same file and completes the very
   prompt string the app sent (captured), greedy, same answer length.

Before each side the file is read through once, so neither pays the disk. How to read
it: *first word* is from the ``ask`` call (retrieval, packing and prompt included) or
from the library call to the first non-empty piece of text; *model TTFT* for the app
starts when retrieval returned (what the raw side does). Prompt tokens/s = prompt
tokens / model TTFT (it includes one generation step). Generation tokens/s =
(tokens - 1) / (last piece - first piece), tokens counted by the app's tokenizer for
both sides. Ratios: app/raw of the rates, raw/app of the times (1 = as fast, higher =
better). One round per configuration: ~700 prompt tokens at a few tokens/s on 2 cores
is minutes per side.

    python bench/llama7b.py --home /work/i14-data/wikiqa-home   # the ready index, copied
    python bench/llama7b.py --only llama_cpp:Q4_0 --answer-tokens 16
    python bench/llama7b.py --quick --model SMALL.gguf   # the script itself, in seconds
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from _common import (
    base_parser,
    log,
    open_engine,
    print_table,
    ratio,
    run_ingest,
    temp_dir,
    timed,
    write_results,
)
from _llama7b_gguf import model_file
from _wikiqa import corpus_files, questions
from ask import Clock, Sample, Stream, engine_once, install_hooks, pick_questions, to_sample

from desk_assistant.errors import DeskAssistantError

CONFIGS = ("llama_cpp:Q4_0", "llama_cpp:Q4_K_M", "ctransformers:Q4_0")


def read_through(path: Path) -> None:
    """Put the file in the page cache, so that no side's first tokens wait for the disk."""
    with path.open("rb") as file:
        while file.read(1 << 24):
            pass


def typical_question(assistant: Any, collection: str, articles: set[str]) -> str:
    """A seeded open question the app answers (does not abstain on)."""
    from desk_assistant.rag.answer import is_relevant

    candidates = pick_questions(questions(), articles, 20)  # seeded order
    floor = assistant.settings.min_relevance
    for question in candidates:
        if is_relevant(assistant.retrieve(question.text, collection), floor):
            return question.text
    raise SystemExit("the app abstains on every candidate question")


@dataclass(slots=True)
class Raw:
    """The library itself, loaded: its prompt's token count and one text piece per
    generated token (possibly empty: part of a character)."""

    load_s: float
    prompt_tokens: int
    pieces: Iterator[str]


def raw_llama_cpp(path: Path, load: dict[str, int], prompt: str, tokens: int) -> Raw:
    from llama_cpp import Llama

    threads = load["threads"]
    llama, seconds = timed(
        lambda: Llama(
            model_path=str(path),
            n_ctx=load["context"],
            n_threads=threads,
            n_threads_batch=threads,
            n_batch=load["batch"],
            seed=0,
            verbose=False,
        )
    )
    count = len(llama.tokenize(prompt.encode("utf-8"), special=True))
    chunks: Any = llama.create_completion(
        prompt, max_tokens=tokens, temperature=0, seed=0, stream=True
    )
    choices = (chunk["choices"][0] for chunk in chunks)
    # The last chunk only says why it stopped: it is no token.
    return Raw(seconds, count, (c["text"] for c in choices if c["text"] or not c["finish_reason"]))


def raw_ctransformers(path: Path, load: dict[str, int], prompt: str, tokens: int) -> Raw:
    from ctransformers import AutoModelForCausalLM

    from desk_assistant.backends.llm.ctransformers_runtime import _cpu_library

    llm, seconds = timed(
        lambda: AutoModelForCausalLM.from_pretrained(
            str(path),
            model_type="llama",
            local_files_only=True,
            context_length=load["context"],
            threads=load["threads"],
            batch_size=load["batch"],
            lib=_cpu_library(),  # the build the app loads (avx2 here)
        )
    )
    ids = llm.tokenize(prompt)  # English text: fewer tokens than characters, no overflow
    generated = llm.generate(
        ids,
        top_k=1,  # greedy, as the app asks it
        repetition_penalty=1.0,
        batch_size=load["batch"],
        threads=load["threads"],
        seed=0,
        reset=True,
    )
    pieces = (llm.detokenize([token]) for token, _ in zip(generated, range(tokens), strict=False))
    return Raw(seconds, len(ids), pieces)


def raw_sample(raw: Raw) -> Sample:
    """Time the library's stream; its tokens are counted as they come, not re-tokenized."""
    stream = Stream(Clock.now())
    count = 0
    for piece in raw.pieces:
        count += 1
        stream.add(piece)
    sample = to_sample(stream, lambda _text: count)
    sample.prompt_tokens = raw.prompt_tokens
    return sample


def side(sample: Sample, load_s: float, first_word_s: float) -> dict[str, float]:
    return {
        "load_s": load_s,
        "first_word_s": first_word_s,
        "model_ttft_s": sample.ttft_s,
        "prompt_tokens": sample.prompt_tokens,
        "prompt_tokens_per_s": ratio(sample.prompt_tokens, sample.ttft_s),
        "generated_tokens": sample.tokens,
        "generation_tokens_per_s": sample.tokens_per_s,
    }


def measure(home: Path, config: str, question: str, args: Any, collection: str) -> dict[str, Any]:
    runtime, quant = config.split(":")
    path = args.model or model_file(quant)
    overrides = {
        "runtime": runtime,
        "model_path": path,
        "threads": args.threads,
        "prompt_batch": args.batch,
        "context_length": args.context,
        "max_answer_tokens": args.answer_tokens,
        "temperature": 0.0,
        "context_budget": args.budget,
    }
    with open_engine(home, **overrides) as (assistant, parts):
        assistant.retrieve(question, collection)  # the embedder loads before the clock
        read_through(path)
        log(f"{config}: app loading {path.name}")
        model, load_s = timed(lambda: parts.runtime)
        hooks = install_hooks(parts)
        log(f"{config}: app asking {question!r}")
        app = engine_once(assistant, model, hooks, question, collection=collection)
        prompt = hooks.prompts[-1]
        log(f"  app: {app.prompt_tokens:.0f} prompt tokens, TTFT {app.ttft_s:.1f} s")
    # The app's model is freed before the library loads its own copy (llama.cpp repacks
    # Q4 weights into its own memory: two copies of a 7B model would not both fit).
    read_through(path)
    log(f"{config}: raw library")
    load = {"threads": args.threads, "batch": args.batch, "context": args.context}
    opener = raw_llama_cpp if runtime == "llama_cpp" else raw_ctransformers
    raw_run = opener(path, load, prompt, args.answer_tokens)
    raw = raw_sample(raw_run)
    log(f"  raw: {raw.prompt_tokens:.0f} prompt tokens, TTFT {raw.ttft_s:.1f} s")
    app_side = side(app, load_s, app.retrieval_s + app.ttft_s)
    raw_side = side(raw, raw_run.load_s, raw.ttft_s)
    return {
        "file": path.name,
        "file_gb": round(path.stat().st_size / 1e9, 2),
        "app": app_side,
        "raw": raw_side,
        "ratios": {
            "model_ttft raw/app": ratio(raw.ttft_s, app.ttft_s),
            "prompt_tokens_per_s app/raw": ratio(
                app_side["prompt_tokens_per_s"], raw_side["prompt_tokens_per_s"]
            ),
            "generation_tokens_per_s app/raw": ratio(app.tokens_per_s, raw.tokens_per_s),
        },
        "texts": {"app": app.text, "raw": raw.text},
        "samples": {"app": asdict(app), "raw": asdict(raw)},
    }


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--home", type=Path, help="a data folder with wikiqa indexed (copied)")
    parser.add_argument("--only", action="append", choices=CONFIGS, help="one configuration")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=512, help="prompt batch (prompt_batch)")
    parser.add_argument("--context", type=int, default=4096, help="context window")
    parser.add_argument("--answer-tokens", type=int, default=24)
    parser.add_argument(
        "--budget", type=int, default=540, help="context_budget: passage tokens in the prompt"
    )
    parser.add_argument("--articles", type=int, default=3)
    parser.add_argument(
        "--model", type=Path, help="another GGUF for every configuration (to check the script)"
    )
    args = parser.parse_args()
    configs = args.only or (CONFIGS[:1] if args.quick else CONFIGS)
    files, articles = corpus_files(args.articles)
    results: dict[str, Any] = {}
    failures: dict[str, str] = {}
    with temp_dir("llama7b") as scratch:
        home = scratch / "home"
        if args.home:
            shutil.copytree(args.home, home)
        with open_engine(home) as (assistant, parts):
            collection = parts.settings.collection
            if not args.home:
                run_ingest(assistant, files, collection)
            question = typical_question(assistant, collection, articles)
        for config in configs:
            try:
                results[config] = measure(home, config, question, args, collection)
            except (DeskAssistantError, RuntimeError, OSError, ValueError) as exc:
                # A runtime that cannot load the file is a result, not the end of the run.
                log(f"{config}: {type(exc).__name__}: {exc}")
                failures[config] = f"{type(exc).__name__}: {exc}"
                continue
            results[config]["loadavg_after"] = list(os.getloadavg())
    rows = []
    for config, result in results.items():
        for name in ("app", "raw"):
            s = result[name]
            rows.append(
                [
                    config,
                    name,
                    f"{s['load_s']:.1f}",
                    f"{s['prompt_tokens']:.0f}",
                    f"{s['prompt_tokens_per_s']:.2f}",
                    f"{s['generation_tokens_per_s']:.2f}",
                    f"{s['model_ttft_s']:.1f}",
                    f"{s['first_word_s']:.1f}",
                ]
            )
    print_table(
        f"Llama-2-7B shapes, {args.threads} threads, batch {args.batch}, context "
        f"{args.context}, budget {args.budget}, {args.answer_tokens} answer tokens",
        [
            "configuration",
            "side",
            "load s",
            "prompt tokens",
            "prompt tok/s",
            "gen tok/s",
            "model TTFT s",
            "first word s",
        ],
        rows,
    )
    if not results:
        raise SystemExit(f"nothing measured: {failures}")
    print_table(
        "app / raw (1 = as fast, higher = better)",
        ["configuration", *next(iter(results.values()))["ratios"]],
        [[c, *(f"{v:.2f}" for v in r["ratios"].values())] for c, r in results.items()],
    )
    write_results(
        "llama7b",
        {
            "question": question,
            "settings": {
                "context_budget": args.budget,
                "threads": args.threads,
                "prompt_batch": args.batch,
                "context_length": args.context,
                "answer_tokens": args.answer_tokens,
            },
            "configs": results,
            "failures": failures,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
