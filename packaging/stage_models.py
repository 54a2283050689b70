"""Prepare what the frozen bundle carries besides code, on every platform:

    python packaging/stage_models.py STAGE_DIR [COMMIT]

writes STAGE_DIR/models (the default GGUF, and the default embedding model exported to
ONNX, under the names desk_assistant.backends.defaults looks for in a bundle) and
STAGE_DIR/build-info.json (versions and the models' SHA-256, for --version). Run in the
build environment (torch and onnx are needed for the export, not in the bundle).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from desk_assistant.backends import defaults
from desk_assistant.backends.onnx_export import export
from desk_assistant.provenance import record_build


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__, file=sys.stderr)
        return 2
    stage = Path(argv[0]).resolve()
    if stage.exists():
        shutil.rmtree(stage)
    llm = stage / defaults.BUNDLED_LLM
    llm.parent.mkdir(parents=True)
    shutil.copyfile(defaults.default_llm_path(), llm)
    export(defaults.default_embedding_dir(), stage / defaults.BUNDLED_EMBEDDING)
    info = record_build(llm.parent, stage / "build-info.json", argv[1] if len(argv) > 1 else None)
    for model in info["models"]:
        print(f"{model['sha256']}  {model['file']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
