"""What this installation is: app version, runtimes, bundled models and their hashes.

``desk-assistant --version`` prints it. A frozen build (the installers) reads what its
build recorded in ``build-info.json``: the hashes of the very files it ships, computed
once at build time by ``python -m desk_assistant.provenance MODELS_DIR OUT_FILE``. A pip
install computes the same record on demand and caches the model hashes under the app
home (hashing ~190 MB of models costs about a second).
"""

from __future__ import annotations

import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from desk_assistant import __version__
from desk_assistant.atomic import write_json
from desk_assistant.bundle import build_info
from desk_assistant.models.files import model_sha256
from desk_assistant.paths import AppPaths, default_home
from ingest.hashing import file_sha256

# Files that carry a model's weights (tokenizer and config files are not listed).
_WEIGHTS = (".gguf", ".onnx", ".safetensors", ".bin")
_DISTRIBUTIONS = ("ctransformers", "onnxruntime", "chromadb", "PySide6_Essentials")


def runtimes() -> dict[str, str]:
    from desk_assistant.backends.llm.llama_cpp_runtime import build_description

    found = {"llama.cpp": build_description(), "python": platform.python_version()}
    for name in _DISTRIBUTIONS:
        try:
            found[name.split("_")[0]] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name.split("_")[0]] = "not installed"
    return found


def _weight_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in _WEIGHTS)


def _models_here(cache_dir: Path) -> list[dict[str, Any]]:
    """The default models of a pip install, hashed once and then from the cache."""
    from desk_assistant.backends.defaults import default_embedding_dir, default_llm_path

    models = []
    for root in (default_llm_path(), default_embedding_dir()):
        for path in _weight_files(root):
            # A wheel's folder is called "model": its package names it better.
            folder = root.parent.name if root.name == "model" else root.name
            name = path.name if root.is_file() else f"{folder}/{path.relative_to(root)}"
            models.append({"file": name, "sha256": model_sha256(path, cache_dir)})
    return models


def record_build(models_dir: Path, out: Path, commit: str | None = None) -> dict[str, Any]:
    """Write ``build-info.json`` for a bundle whose models are in ``models_dir``."""
    info = {
        "app": __version__,
        "commit": commit,
        "built": datetime.now(UTC).strftime("%Y-%m-%d"),
        "platform": f"{sys.platform}-{platform.machine()}",
        "runtimes": runtimes(),
        "models": [
            {"file": str(p.relative_to(models_dir).as_posix()), "sha256": file_sha256(p)}
            for p in _weight_files(models_dir)
        ],
    }
    write_json(out, info)
    return info


def describe(cache_dir: Path) -> dict[str, Any]:
    """The record of this installation: the build's own, or one made now (pip install)."""
    recorded = build_info()
    if recorded is not None:
        return {**recorded, "install": "installer"}
    return {
        "app": __version__,
        "install": "pip",
        "runtimes": runtimes(),
        "models": _models_here(cache_dir),
    }


def version_text(home: str | Path | None = None) -> str:
    """What ``--version`` prints; a pip install caches model hashes under ``home``'s cache
    (default: the data folder the app would use)."""
    folder = Path(home).expanduser() if home else default_home()
    info = describe(AppPaths(folder).cache)
    build = ", ".join(
        str(part)
        for part in (
            "installer build" if info["install"] == "installer" else "pip install",
            info.get("built"),
            f"commit {info['commit']}" if info.get("commit") else None,
            info.get("platform"),
        )
        if part
    )
    found = dict(info.get("runtimes", {}))
    lines = [f"desk-assistant {info['app']} ({build})", f"llama.cpp: {found.pop('llama.cpp', '?')}"]
    lines.append(", ".join(f"{name} {version}" for name, version in found.items()))
    lines.append("bundled models (SHA-256):")
    lines.extend(f"  {m['sha256']}  {m['file']}" for m in info.get("models", []))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (2, 3):
        print("usage: python -m desk_assistant.provenance MODELS_DIR OUT_FILE [COMMIT]")
        return 2
    record_build(Path(args[0]), Path(args[1]), args[2] if len(args) == 3 else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
