"""What the settings dialog says about each setting, in a user's words.

The typed settings (``desk_assistant.settings``) give each field a short technical
description, which the CLI and the README use. The dialog speaks to someone who never
heard of BM25 or tokens: a plain label, a sentence of help, and choices named for what
they do. A field added to ``Settings`` and not described here still appears, in
Advanced > Other, under its own description.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Tab = Literal["Basic", "Advanced"]


@dataclass(frozen=True, slots=True)
class Wording:
    tab: Tab
    section: str
    label: str
    help: str
    choices: dict[str, str] = field(default_factory=dict)  # value -> what it is called


WORDING: dict[str, Wording] = {
    "model_path": Wording(
        "Basic",
        "Answers",
        "Language model",
        "The model file (GGUF) that writes the answers. Empty: the small built-in model. "
        "File > Models… adds, downloads and describes models.",
    ),
    "max_answer_tokens": Wording(
        "Basic",
        "Answers",
        "Longest answer (tokens)",
        "How long an answer may get; a token is about three quarters of a word. Longer "
        "answers take longer to write.",
    ),
    "top_k": Wording(
        "Basic",
        "Answers",
        "Passages read per answer",
        "How many passages of your documents the model reads before it answers. More "
        "can help with broad questions, but every passage makes the answer slower.",
    ),
    "strict_grounding": Wording(
        "Basic",
        "Answers",
        "Answer only from my documents",
        "When none of your documents is about the question, say so instead of letting "
        "the model answer from what it learnt elsewhere.",
    ),
    "home": Wording(
        "Basic",
        "Storage",
        "Data folder",
        "Where your index, chats, settings and downloaded models are kept.",
    ),
    "runtime": Wording(
        "Advanced",
        "Running the model",
        "Engine",
        "The program that runs the model file. Automatic picks one that can load it.",
        {
            "auto": "Automatic (recommended)",
            "llama_cpp": "llama.cpp (every current GGUF file)",
            "ctransformers": "ctransformers (2023-era Llama 2 files)",
            "openai": "A model server (address below)",
        },
    ),
    "threads": Wording(
        "Advanced",
        "Running the model",
        "Processor threads",
        "How many processor cores the model may use. Auto leaves one free on larger "
        "machines so the rest of the computer stays responsive.",
    ),
    "context_length": Wording(
        "Advanced",
        "Running the model",
        "Model memory (tokens)",
        "How much text the model holds at once: the question, the passages and the "
        "answer. More needs more memory (RAM); the model's own limit applies.",
    ),
    "temperature": Wording(
        "Advanced",
        "Running the model",
        "Variety of wording",
        "0 always takes the most likely word; higher values vary the wording. Keep it "
        "low for factual answers.",
    ),
    "context_budget": Wording(
        "Advanced",
        "Running the model",
        "Room for passages (tokens)",
        "How much of the model's memory the passages may fill. Less is faster on a slow "
        "computer, more lets long passages in whole.",
    ),
    "sentence_selection": Wording(
        "Advanced",
        "Running the model",
        "Only the sentences that matter",
        "Send the model the sentences of each passage nearest the question (and the ones "
        "beside them) instead of whole passages: about half the reading before the first "
        "word, about the same chance that the answer is in what it reads.",
    ),
    "preload_models": Wording(
        "Advanced",
        "Running the model",
        "Load the model when the window opens",
        "The first answer then starts sooner. Turn it off on a computer short of memory: "
        "the window then needs far less memory until the first question, which waits for "
        "the model to load.",
    ),
    "prompt_batch": Wording(
        "Advanced",
        "Running the model",
        "Words read per step",
        "How many tokens of the question and passages the model reads at once. The "
        "default suits most computers.",
    ),
    "gpu_layers": Wording(
        "Advanced",
        "Running the model",
        "Layers on the graphics card",
        "How many of the model's layers run on a graphics card. Only a GPU build of the "
        "model runtime uses it (see the README); with the standard one everything runs "
        "on the processor.",
    ),
    "embedding_variant": Wording(
        "Advanced",
        "Reading documents",
        "Faster, slightly coarser indexing",
        "With an ONNX model (the installers' built-in one): a compact version that "
        "indexes faster and finds nearly the same passages. Automatic uses it, unless your "
        "collections were indexed at full precision: then they stay so and need no "
        "re-indexing. Collections indexed with the other version must be indexed again.",
        {
            "auto": "Automatic (recommended)",
            "fp32": "Full precision",
            "int8": "Compact (faster)",
        },
    ),
    "min_relevance": Wording(
        "Advanced",
        "Finding passages",
        "Relevance needed to answer",
        "Below this, the documents count as not holding the answer. Raise it if answers "
        "come from unrelated passages; lower it if it says 'not in your documents' too often.",
    ),
    "fusion": Wording(
        "Advanced",
        "Finding passages",
        "Combining the two searches",
        "Passages are found by matching words and by similar meaning; this is how the two "
        "lists become one.",
        {
            "convex": "Weighted scores (recommended)",
            "rrf": "Ranks only",
        },
    ),
    "dense_weight": Wording(
        "Advanced",
        "Finding passages",
        "Weight of similar meaning",
        "With weighted scores: how much similar meaning counts against matching words "
        "(0.5: as much).",
    ),
    "reranker_model": Wording(
        "Advanced",
        "Finding passages",
        "Re-ranking model",
        "A cross-encoder model folder that sorts the passages found once more: more "
        "precise, but slower. Empty: off.",
    ),
    "rerank_depth": Wording(
        "Advanced",
        "Finding passages",
        "Passages to re-rank",
        "How many of the passages found the re-ranking model reads.",
    ),
    "embedding_model": Wording(
        "Advanced",
        "Reading documents",
        "Model for similar meaning",
        "The model folder that finds passages by meaning. Empty: the built-in one. "
        "Collections indexed with another model must be indexed again.",
    ),
    "chunk_size": Wording(
        "Advanced",
        "Reading documents",
        "Passage length (tokens)",
        "Documents are cut into passages of about this length. Applies to files indexed "
        "from now on.",
    ),
    "chunk_overlap": Wording(
        "Advanced",
        "Reading documents",
        "Passage overlap (tokens)",
        "How much each passage repeats of the one before, so that no sentence is cut off "
        "from its context. Smaller than the passage length.",
    ),
    "embed_batch_size": Wording(
        "Advanced",
        "Reading documents",
        "Passages indexed at once",
        "Larger batches index a little faster and use more memory.",
    ),
    "max_file_mb": Wording(
        "Advanced",
        "Reading documents",
        "Skip files larger than (MB)",
        "Larger files are listed as skipped, with the reason.",
    ),
    "parse_timeout": Wording(
        "Advanced",
        "Reading documents",
        "Give up on a file after (s)",
        "A file that takes longer to read is skipped with the reason; a damaged or "
        "hostile file cannot stall indexing.",
    ),
    "parse_memory_mb": Wording(
        "Advanced",
        "Reading documents",
        "Memory for reading one file (MB)",
        "A file that needs more is skipped with the reason, instead of filling the memory.",
    ),
    "parse_workers": Wording(
        "Advanced",
        "Reading documents",
        "Files read at once",
        "More reads many small files faster on a computer with many cores.",
    ),
    "llm_url": Wording(
        "Advanced",
        "Servers",
        "Model server",
        "Address of a server that runs the model (llama.cpp server, vLLM, Ollama: e.g. "
        "http://host:8080/v1), used when the engine is “A model server”. Empty: none.",
    ),
    "llm_model": Wording(
        "Advanced",
        "Servers",
        "Model on the server",
        "Which of the server's models answers. Empty: the server's only model.",
    ),
    "llm_timeout": Wording(
        "Advanced",
        "Servers",
        "Wait for the model server (s)",
        "How long to wait for the model server's next words before giving up.",
    ),
    "chroma_url": Wording(
        "Advanced",
        "Servers",
        "Vector database server",
        "Address of a Chroma server to keep the index on (e.g. http://server:8000). "
        "Empty: kept in the data folder on this computer.",
    ),
    "chroma_timeout": Wording(
        "Advanced",
        "Servers",
        "Wait for the vector database (s)",
        "How long to wait for the Chroma server before it counts as away; indexing is "
        "tried again later.",
    ),
    "min_support": Wording(
        "Advanced",
        "Checking answers",
        "Support needed by a sentence",
        "How closely a sentence of an answer must match a sentence of your documents to "
        "count as backed by them; a sentence below it is underlined. Higher flags more.",
    ),
    "followup_rewrite": Wording(
        "Advanced",
        "Checking answers",
        "Follow-up questions",
        "How a follow-up such as 'And for the landlord?' becomes a whole question before "
        "the search: by a rule (fast; better with the built-in model) or by the model.",
        {"rule": "By a rule (recommended)", "model": "By the language model"},
    ),
    "chat_history_tokens": Wording(
        "Advanced",
        "Checking answers",
        "Earlier conversation read (tokens)",
        "How much of the chat's earlier questions and answers the model reads with a new "
        "question. More helps follow-ups and leaves less room for passages.",
    ),
    "summary_section_tokens": Wording(
        "Advanced",
        "Checking answers",
        "Document read per summary step (tokens)",
        "How much of a document the model reads at a time when it summarizes it (less "
        "when its memory is smaller). More means fewer, slower steps.",
    ),
    "summary_reduce": Wording(
        "Advanced",
        "Checking answers",
        "Summary of the whole document",
        "How the sections' summaries become one: their sentences that the document backs, "
        "picked to cover it (best with the built-in model), or combined by the model "
        "(better with a large one).",
        {
            "auto": "Picked with the built-in model, else combined (recommended)",
            "extract": "Picked from the sections' summaries",
            "model": "Combined by the language model",
        },
    ),
    "ca_bundle": Wording(
        "Advanced",
        "Servers",
        "Trusted certificates",
        "A file of CA certificates (PEM) to trust for HTTPS servers. Empty: the system's.",
    ),
}
OTHER_SECTION = "Other"


def gpu_offload_help(runtime: str | None, supported: bool | None) -> str:
    """The help under "Layers on the graphics card", with what the installed runtime can
    do when it can tell (llama.cpp's build says whether it was made with GPU support)."""
    base = WORDING["gpu_layers"].help
    if runtime is None or supported is None:
        return base
    if supported:
        return f"{base} The installed {runtime} can use a graphics card."
    return (
        f"{base} The installed {runtime} runs on the processor only, so this setting has "
        "no effect until a GPU build is installed."
    )
