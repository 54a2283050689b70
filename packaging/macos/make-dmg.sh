#!/usr/bin/env bash
# Pack the PyInstaller .app as a disk image (run on macOS by the release workflow):
#
#   packaging/macos/make-dmg.sh "dist/Desk Assistant.app" VERSION OUT_DIR
#
# The image holds the app and a link to /Applications: drag one onto the other. User
# data lives in ~/Library/Application Support/desk-assistant, never in the app, so
# replacing the app with a newer one keeps library, chats and settings.
# Not signed or notarised: on first start, right-click the app and choose Open.
set -euo pipefail
APP=$1
VERSION=$2
OUT=$3
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
cp -R "$APP" "$staging/"
ln -s /Applications "$staging/Applications"
hdiutil create -volname "Desk Assistant $VERSION" -srcfolder "$staging" -ov -format UDZO \
    "$OUT/desk-assistant-$VERSION-macos-$(uname -m).dmg"
