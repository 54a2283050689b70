#!/usr/bin/env bash
# Pack a frozen bundle as a Debian package (called by packaging/build-linux.sh):
#
#   packaging/linux/make-deb.sh BUNDLE_DIR VERSION OUT_DIR
#
# Layout: the app in /opt/desk-assistant (the executable at
# /opt/desk-assistant/desk-assistant), the launcher /usr/bin/desk-assistant, a desktop
# entry and an icon. Every file belongs to the package, so `dpkg -r` removes all of it,
# and none of it is the user's: data lives in ~/.local/share/desk-assistant, which
# removal (and purge) never touches.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUNDLE=$1
VERSION=$2
OUT=$3

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
install -d "$root/DEBIAN" "$root/opt/desk-assistant" "$root/usr/bin" \
    "$root/usr/share/applications" "$root/usr/share/icons/hicolor/scalable/apps" \
    "$root/usr/share/doc/desk-assistant"
cp -a "$BUNDLE/." "$root/opt/desk-assistant/"
ln -s /opt/desk-assistant/desk-assistant "$root/usr/bin/desk-assistant"
install -m 644 "$ROOT/assets/desk-assistant.desktop" "$root/usr/share/applications/"
install -m 644 "$ROOT/assets/icons/desk-assistant.svg" \
    "$root/usr/share/icons/hicolor/scalable/apps/"
install -m 644 "$HERE/copyright" "$root/usr/share/doc/desk-assistant/copyright"
# Read-only for everyone but root: the app never writes into its install folder.
chmod -R u=rwX,go=rX "$root/opt" "$root/usr"

size_kb=$(du -sk --apparent-size "$root" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@SIZE@/$size_kb/" "$HERE/control.in" >"$root/DEBIAN/control"
dpkg-deb --root-owner-group -Zxz --build "$root" "$OUT/desk-assistant_${VERSION}_amd64.deb" >/dev/null
