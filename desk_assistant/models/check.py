"""What a model file is and whether it will load: the settings dialog's model check.

Reading the header says what the file is (architecture, quantization, context length)
and which runtimes may load it; a probe then loads it for real in a child process, so a
file that would crash a runtime costs a child, not the app.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from desk_assistant.backends.defaults import default_llm_path
from desk_assistant.backends.llm.loader import FILE_RUNTIMES, runtime_installed
from desk_assistant.backends.llm.probe import probe_runtime
from desk_assistant.backends.registry import SERVER_RUNTIMES
from desk_assistant.errors import DeskAssistantError
from desk_assistant.models.describe import describe


@dataclass(frozen=True, slots=True)
class ModelCheck:
    path: str
    summary: str  # what the file is, in one line
    runtime: str | None  # the runtime that will load it
    verified: bool  # a probe loaded it and generated a token
    problem: str | None  # why it cannot be used, if it cannot
    remote: bool = False  # a model server answers: the file is not used
    # Whether the runtime's installed build can put layers on a graphics card (None:
    # it cannot tell, or no runtime was chosen).
    gpu_offload: bool | None = None

    def describe(self) -> str:
        if self.remote:
            return self.summary
        if self.problem:
            return f"{self.summary}\n⚠ {self.problem}" if self.summary else f"⚠ {self.problem}"
        how = "checked by loading it" if self.verified else "judged from its header"
        return f"{self.summary}\nLoads with {self.runtime} ({how})."


def check_model(path: Path | None, runtime: str, cache_dir: Path, *, probe: bool) -> ModelCheck:
    """Describe ``path`` (None: the built-in model) and, with ``probe``, load it in a child."""
    if runtime in SERVER_RUNTIMES:
        note = "The model server (llm_url) answers; the model file is not used."
        return ModelCheck(str(path or ""), note, runtime, False, None, remote=True)
    return _check_file(path, runtime, cache_dir, probe=probe)


def _check_file(path: Path | None, runtime: str, cache_dir: Path, *, probe: bool) -> ModelCheck:
    shown = str(path or "")
    target = path or default_llm_path()
    if not target.is_file():
        return ModelCheck(shown, "", None, False, f"there is no file at {target}")
    try:
        about = describe(target, cache_dir, with_sha256=False)
    except DeskAssistantError as exc:
        return ModelCheck(shown, "", None, False, str(exc))
    parts = [
        about.name or target.name,
        about.parameters,
        about.architecture,
        about.quantization,
        f"context {about.context_length} tokens" if about.context_length else None,
    ]
    summary = " · ".join(p for p in parts if p)
    if path is None:
        summary = f"Built-in: {summary}"
    candidates = about.loadable_by if runtime == "auto" else (runtime,)
    refusals = {r.runtime: r.reason for r in about.runtimes if not r.can_load}
    if not candidates or (runtime != "auto" and runtime in refusals):
        reasons = "; ".join(f"{name}: {why}" for name, why in refusals.items())
        return ModelCheck(shown, summary, None, False, f"no runtime can load it ({reasons})")
    chosen = candidates[0]
    gpu = gpu_offload(chosen)
    if not probe:
        return ModelCheck(shown, summary, chosen, False, None, gpu_offload=gpu)
    result = probe_runtime(chosen, target, cache_dir=cache_dir)
    if not result.ok:
        problem = f"{chosen} could not load it: {result.reason}"
        return ModelCheck(shown, summary, chosen, False, problem, gpu_offload=gpu)
    return ModelCheck(shown, summary, chosen, True, None, gpu_offload=gpu)


def gpu_offload(runtime: str) -> bool | None:
    """Whether ``runtime``'s installed build can run model layers on a graphics card."""
    if runtime not in FILE_RUNTIMES or not runtime_installed(runtime):
        return None
    return FILE_RUNTIMES[runtime].gpu_offload()
