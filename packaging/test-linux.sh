#!/usr/bin/env bash
# End-to-end test of the Linux installers, run as root on a Debian/Ubuntu machine:
#
#   packaging/test-linux.sh [OUT_DIR]
#
# 1. clones this repository's HEAD into a scratch folder and builds the installers there
#    with packaging/build-linux.sh (a fresh build environment unless
#    DESK_ASSISTANT_BUILD_DIR names one to reuse);
# 2. installs the .deb, then runs the installed CLI inside a network namespace with no
#    network (unshare -n): --version, ingest of assets/samples, real PDFs and an image
#    that needs OCR, ask (a cited answer), models verify (the probe child re-entering
#    the executable), doctor;
# 3. checks that nothing was written into /opt/desk-assistant;
# 4. starts the installed desktop app under Xvfb, times until its window is shown (three
#    starts), asks a question in it and takes a screenshot (OUT_DIR/window.png);
# 5. removes the package (the data folder must stay), installs it again (the old library
#    must be found), removes it at the end;
# 6. prints sizes and timings.
# Exits non-zero at the first failed check. Needs root (dpkg, apt-get for the Xvfb tools).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EVAL_DOCS=$(cd "$ROOT/.." && pwd)/shared/eval/docs/pdf_samples
SCRATCH=$(mktemp -d /tmp/desk-assistant-package-test.XXXXXX)
OUT=${1:-$SCRATCH/out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
LOG=$OUT/test-linux.log
START=$SECONDS
declare -A FIGURES=()
gui_pid=""
xvfb_pid=""

say() { printf '\n== %s (%ds)\n' "$*" "$((SECONDS - START))"; }
fail() {
    echo "FAILED: $*" >&2
    exit 1
}
cleanup() {
    if [[ -n "$gui_pid" ]]; then kill "$gui_pid" 2>/dev/null || true; fi
    if [[ -n "$xvfb_pid" ]]; then kill "$xvfb_pid" 2>/dev/null || true; fi
    if [[ -z "${KEEP_INSTALLED:-}" ]] && dpkg -s desk-assistant >/dev/null 2>&1; then
        dpkg -r desk-assistant >/dev/null || true
    fi
}
trap cleanup EXIT

[[ $(id -u) == 0 ]] || fail "run as root (it installs the package)"
need=()
command -v Xvfb >/dev/null || need+=(xvfb)
command -v xdotool >/dev/null || need+=(xdotool)
command -v import >/dev/null || need+=(imagemagick)
command -v tesseract >/dev/null || need+=(tesseract-ocr tesseract-ocr-eng)
command -v xdpyinfo >/dev/null || need+=(x11-utils)
command -v bc >/dev/null || need+=(bc)
if ((${#need[@]})); then
    say "installing test tools: ${need[*]}"
    apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi

say "clean clone of $(git -C "$ROOT" rev-parse --short HEAD)"
git clone --quiet "$ROOT" "$SCRATCH/src"
git -C "$SCRATCH/src" checkout --quiet "$(git -C "$ROOT" rev-parse HEAD)"

say "build"
build_start=$SECONDS
BUILD_DIR=${DESK_ASSISTANT_BUILD_DIR:-$SCRATCH/build}
DESK_ASSISTANT_BUILD_DIR=$BUILD_DIR \
    "$SCRATCH/src/packaging/build-linux.sh" "$OUT" >>"$LOG" 2>&1 || fail "build (see $LOG)"
FIGURES[build time]="$((SECONDS - build_start)) s"
deb=$(ls "$OUT"/desk-assistant_*_amd64.deb)
tarball=$(ls "$OUT"/desk-assistant-*-linux-x86_64.tar.gz)
for artefact in "$deb" "$tarball"; do
    (cd "$OUT" && sha256sum --check --quiet "$(basename "$artefact").sha256") ||
        fail "checksum of $artefact"
done

install_deb() {
    apt-get install -y -qq --no-install-recommends "$deb" >>"$LOG" 2>&1 || fail "install $deb"
}

say "install $(basename "$deb")"
install_deb
[[ -x /opt/desk-assistant/desk-assistant ]] || fail "no /opt/desk-assistant/desk-assistant"
[[ $(command -v desk-assistant) == /usr/bin/desk-assistant ]] || fail "no launcher on PATH"
[[ -f /usr/share/applications/desk-assistant.desktop ]] || fail "no desktop entry"
[[ -f /usr/share/icons/hicolor/scalable/apps/desk-assistant.svg ]] || fail "no icon"
touch "$SCRATCH/installed-stamp"

# A user of the installed app: the platform's data folder under their home.
export HOME=$SCRATCH/user
mkdir -p "$HOME"
unset DESK_ASSISTANT_HOME XDG_DATA_HOME XDG_CONFIG_HOME
DATA=$HOME/.local/share/desk-assistant
offline() { unshare -n -- "$@"; }
docs=$SCRATCH/documents
mkdir -p "$docs"
cp -r "$ROOT/assets/samples/." "$docs/"
for pdf in 004-pdflatex-4-pages/pdflatex-4-pages.pdf \
    002-trivial-libre-office-writer/002-trivial-libre-office-writer.pdf \
    009-pdflatex-geotopo/GeoTopo.pdf \
    005-libreoffice-writer-password/libreoffice-writer-password.pdf; do
    [[ -f "$EVAL_DOCS/$pdf" ]] && cp "$EVAL_DOCS/$pdf" "$docs/"
done
# A picture of a page: readable only through OCR (tesseract, found on PATH).
convert -size 1400x300 xc:white -font DejaVu-Sans -pointsize 48 -fill black \
    -annotate +40+120 "The quarterly audit is due on 14 March." \
    -annotate +40+220 "Contact the treasurer for the ledgers." "$docs/scanned-note.png"

say "CLI, offline"
offline desk-assistant --version | tee "$OUT/version.txt"
grep -q "installer build" "$OUT/version.txt" || fail "--version does not describe the build"
grep -q "llama.cpp: llama-cpp-python" "$OUT/version.txt" || fail "--version lacks llama.cpp"
[[ $(grep -cE '^  [0-9a-f]{64}  ' "$OUT/version.txt") -ge 2 ]] || fail "--version lacks hashes"
ingest_start=$SECONDS
offline desk-assistant ingest "$docs" --json >"$OUT/ingest.jsonl"
FIGURES[ingest time]="$((SECONDS - ingest_start)) s for $(find "$docs" -type f | wc -l) files"
tail -1 "$OUT/ingest.jsonl"
failed=$(grep -c '"outcome": "failed"' "$OUT/ingest.jsonl" || true)
protected=$(grep '"outcome": "failed"' "$OUT/ingest.jsonl" | grep -c "password" || true)
[[ $failed == 1 && $protected == 1 ]] || fail "expected only the password-protected PDF to fail"
offline desk-assistant sources
offline desk-assistant search "quarterly audit treasurer" -k 1 --json >"$OUT/ocr.json"
grep -q "scanned-note.png" "$OUT/ocr.json" || fail "OCR text not found (tesseract)"
ask_start=$SECONDS
offline desk-assistant ask "How much is the monthly rent?" --json >"$OUT/answer.json"
FIGURES[first answer]="$((SECONDS - ask_start)) s (model load included)"
cat "$OUT/answer.json"
grep -q '"path": "[^"]*tenancy-agreement.pdf"' "$OUT/answer.json" ||
    fail "the answer does not cite tenancy-agreement.pdf"
offline desk-assistant models verify smollm2-135m-instruct-q4_1 | tee "$OUT/verify.txt" ||
    fail "models verify (the probe child re-entering the executable)"
# A Llama-2-format GGUF (random weights, written with the build environment's gguf) loads
# in both runtimes: llama.cpp's and ctransformers' bundled libraries, in probe children.
PYTHONPATH=$SCRATCH/src/tests "$BUILD_DIR/venv/bin/python" -c \
    "import sys, pathlib, tiny_gguf; tiny_gguf.write_tiny_llama_gguf(pathlib.Path(sys.argv[1]))" \
    "$SCRATCH/tiny-llama.gguf"
offline desk-assistant models add "$SCRATCH/tiny-llama.gguf" --name tiny-llama >/dev/null
offline desk-assistant models verify tiny-llama | tee -a "$OUT/verify.txt"
[[ $(grep -c "loads it" <(offline desk-assistant models verify tiny-llama)) == 2 ]] ||
    fail "the tiny Llama-2 GGUF does not load in both runtimes"
offline desk-assistant doctor || fail "doctor"

say "the install folder is read-only to the app"
written=$(find /opt/desk-assistant -newer "$SCRATCH/installed-stamp" | head -5)
[[ -z "$written" ]] || fail "the app wrote into its install folder: $written"
dpkg --verify desk-assistant || fail "installed files changed"

say "desktop app under Xvfb"
display=:$((90 + RANDOM % 100))
Xvfb "$display" -screen 0 1400x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb_pid=$!
export DISPLAY=$display
for _ in $(seq 50); do
    if xdpyinfo >/dev/null 2>&1; then break; fi
    sleep 0.1
done
timings=()
for run in 1 2 3; do
    launched=$(date +%s.%N)
    # unshare itself, not a shell function, in the background: $! must be the app.
    DESK_ASSISTANT_MAX_ANSWER_TOKENS=60 unshare -n -- desk-assistant >>"$LOG" 2>&1 &
    gui_pid=$!
    window=$(timeout 120 xdotool search --sync --onlyvisible --pid "$gui_pid" \
        --name "^Desk Assistant" | head -1) || fail "the window did not open (see $LOG)"
    shown=$(date +%s.%N)
    timings+=("$(printf '%.2f' "$(echo "$shown - $launched" | bc)")")
    if ((run < 3)); then
        kill "$gui_pid"
        wait "$gui_pid" 2>/dev/null || true
    fi
done
FIGURES[window shown after launch]="${timings[*]} s (runs 1-3)"
# Ask in the window, as a user would (the models load in the background meanwhile).
sleep 4
xdotool windowfocus --sync "$window"
xdotool type --delay 20 "How much is the monthly rent?"
xdotool key ctrl+Return
sleep 45
import -window "$window" "$OUT/window.png"
kill "$gui_pid"
wait "$gui_pid" 2>/dev/null || true
gui_pid=""

say "remove, reinstall"
dpkg -r desk-assistant >>"$LOG"
[[ ! -e /opt/desk-assistant && ! -e /usr/bin/desk-assistant ]] || fail "dpkg -r left files"
[[ -f $DATA/manifest.sqlite3 && -f $DATA/chats.sqlite3 ]] || fail "dpkg -r removed user data"
install_deb
offline desk-assistant sources | grep -q "tenancy-agreement.pdf" || fail "old library lost"
offline desk-assistant search "notice period" -k 1 | grep -q "tenancy-agreement.pdf" ||
    fail "old library not searchable after reinstall"

FIGURES[.deb]="$(du -m "$deb" | cut -f1) MB"
FIGURES[.tar.gz]="$(du -m "$tarball" | cut -f1) MB"
FIGURES[installed, /opt/desk-assistant]="$(du -sm /opt/desk-assistant | cut -f1) MB"
FIGURES[whole test]="$((SECONDS - START)) s"
say "passed"
for key in ".deb" ".tar.gz" "installed, /opt/desk-assistant" "window shown after launch" \
    "first answer" "ingest time" "build time" "whole test"; do
    printf '  %-34s %s\n' "$key" "${FIGURES[$key]}"
done
echo "  artefacts, screenshot and log in $OUT"
