#!/usr/bin/env bash
# Create (or reuse) the virtual environment and install Desk Assistant into it.
#
#   scripts/bootstrap.sh          the app
#   scripts/bootstrap.sh dev      the app plus test and lint tools
#
# Versions are pinned by constraints.txt. The environment is reused while constraints.txt,
# pyproject.toml and the chosen extras are unchanged (a stamp file records their hash), so
# the slow part - llama-cpp-python compiles from source, ~15 minutes on 2 cores - runs
# once per lock change, never on every call.
#
# Environment: DESK_ASSISTANT_VENV (default ./.venv), PYTHON (default python3, 3.11 or
# 3.12), DESK_ASSISTANT_TORCH_INDEX (a package index for the CPU build of torch, e.g.
# https://download.pytorch.org/whl/cpu on machines where PyPI would give a CUDA build).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${DESK_ASSISTANT_VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}
EXTRAS=${1:-}
TORCH_VERSION=$(sed -n 's/^torch==\(.*\)$/\1/p' "$ROOT/constraints.txt")

stamp=$(cat "$ROOT/constraints.txt" "$ROOT/pyproject.toml" <(echo "extras=$EXTRAS") | sha256sum | cut -c1-16)
if [[ -x "$VENV/bin/python" && -f "$VENV/.desk-assistant-stamp" && "$(cat "$VENV/.desk-assistant-stamp")" == "$stamp" ]]; then
    exit 0
fi

echo "Installing Desk Assistant into $VENV (the first time takes ~20 minutes: llama.cpp compiles)" >&2
"$PYTHON" -m venv "$VENV"
pip=("$VENV/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install --quiet --upgrade pip setuptools wheel
# torch first and explicitly: left to the resolver, plain PyPI gives Linux a CUDA build
# of several GB. A CPU wheel found locally (pip's find-links) or on the given index wins.
torch_args=()
if [[ -n "${DESK_ASSISTANT_TORCH_INDEX:-}" ]]; then
    torch_args=(--index-url "$DESK_ASSISTANT_TORCH_INDEX")
fi
"${pip[@]}" install "${torch_args[@]}" "torch==$TORCH_VERSION"
target="$ROOT"
if [[ -n "$EXTRAS" ]]; then
    target="$ROOT[$EXTRAS]"
fi
"${pip[@]}" install --constraint "$ROOT/constraints.txt" --editable "$target"
echo "$stamp" > "$VENV/.desk-assistant-stamp"
