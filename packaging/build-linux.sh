#!/usr/bin/env bash
# Build the Linux installers from this checkout:
#
#   packaging/build-linux.sh OUT_DIR
#
# writes into OUT_DIR
#   desk-assistant_VERSION_amd64.deb             Debian/Ubuntu package (/opt/desk-assistant)
#   desk-assistant-VERSION-linux-x86_64.tar.gz   the same app for any distribution
# and a .sha256 file next to each.
#
# It creates its own build environment outside the repository (scripts/bootstrap.sh into
# $DESK_ASSISTANT_BUILD_DIR/venv, default ~/.cache/desk-assistant-build; reused while the
# pins are unchanged), adds PyInstaller and the ONNX exporter, exports the embedding
# model to ONNX, freezes the app with packaging/desk-assistant.spec, records versions
# and model hashes in build-info.json, then packs. Nothing is downloaded at run time by
# what it builds. Needs: Python 3.11, a C++ compiler and cmake (llama.cpp compiles once),
# dpkg-deb.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 OUT_DIR" >&2
    exit 2
fi
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
WORK=${DESK_ASSISTANT_BUILD_DIR:-$HOME/.cache/desk-assistant-build}
VENV=$WORK/venv
STAGE=$WORK/stage
DIST=$WORK/dist
py=("$VENV/bin/python")
step() { printf '\n== %s (%ds)\n' "$1" "$SECONDS" >&2; }

step "build environment in $VENV"
DESK_ASSISTANT_VENV=$VENV "$ROOT/scripts/bootstrap.sh"
"${py[@]}" -m pip install --quiet --disable-pip-version-check \
    --constraint "$ROOT/constraints.txt" --constraint "$ROOT/packaging/build-constraints.txt" \
    pyinstaller pyinstaller-hooks-contrib onnx onnxscript
# The code comes from this checkout, whichever checkout the reused venv was made from.
export PYTHONPATH=$ROOT
VERSION=$("${py[@]}" -c "import desk_assistant; print(desk_assistant.__version__)")
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)

step "bundled models"
"${py[@]}" "$ROOT/packaging/stage_models.py" "$STAGE" "$COMMIT"

step "PyInstaller"
DESK_ASSISTANT_STAGE=$STAGE "${py[@]}" -m PyInstaller --noconfirm --log-level WARN \
    --distpath "$DIST" --workpath "$WORK/pyinstaller" "$ROOT/packaging/desk-assistant.spec"
BUNDLE=$DIST/desk-assistant
# A frozen app that cannot answer --version is not worth packing.
"$BUNDLE/desk-assistant" --version >/dev/null

step "portable .tar.gz"
name=desk-assistant-$VERSION-linux-x86_64
rm -rf "${DIST:?}/$name"
mkdir -p "$DIST/$name"
cp -a "$BUNDLE/." "$DIST/$name/"
cp "$ROOT/assets/desk-assistant.desktop" "$ROOT/assets/icons/desk-assistant.svg" \
    "$ROOT/packaging/linux/README-portable.txt" "$DIST/$name/"
tar -C "$DIST" -czf "$OUT/$name.tar.gz" "$name"

step ".deb"
"$ROOT/packaging/linux/make-deb.sh" "$BUNDLE" "$VERSION" "$OUT"

step "checksums"
cd "$OUT"
for artefact in "desk-assistant_${VERSION}_amd64.deb" "$name.tar.gz"; do
    sha256sum "$artefact" >"$artefact.sha256"
    du -h "$artefact" | sed 's/^/  /' >&2
done
step "done: $OUT"
