"""A full disk during ingestion: the message names the full folder and says nothing was
lost, which is true: after space is freed, everything indexed before is there and the
rest is indexed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from faults import TESTS, Crash, DataLost, Ledger, environment, make_corpus

pytestmark = [pytest.mark.slow, pytest.mark.model]

SIZE_MB = 24
# A user and mount namespace of its own: the tmpfs exists only for the scenario, and no
# root is needed where unprivileged user namespaces are allowed.
UNSHARE = ("unshare", "--user", "--map-root-user", "--mount")


def _namespace_mount_works() -> str | None:
    """Why a private tmpfs cannot be mounted here, or None when it can."""
    if shutil.which("unshare") is None:
        return "the unshare command is not installed"
    probe = subprocess.run(
        [*UNSHARE, "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode:
        return f"no mount namespace for this user here ({probe.stderr.strip()})"
    return None


def test_a_full_disk_stops_ingestion_with_a_clear_message_and_loses_nothing(
    tmp_path: Path, ledger: Ledger
) -> None:
    reason = _namespace_mount_works()
    if reason:
        pytest.skip(f"a size-limited file system cannot be made: {reason}")
    corpus = tmp_path / "corpus"
    make_corpus(corpus, 24)
    mount = tmp_path / "small-disk"
    mount.mkdir()
    script = TESTS / "reliability" / "disk_full_scenario.py"
    shell = (
        f'mount -t tmpfs -o size={SIZE_MB}m tmpfs "$1" && '
        f'exec "{sys.executable}" "{script}" "$1" "$2"'
    )
    with ledger.fault("disk full during ingestion"):
        done = subprocess.run(
            [*UNSHARE, "sh", "-c", shell, "scenario", str(mount), str(corpus)],
            capture_output=True,
            text=True,
            timeout=1800,
            env=environment(),
            check=False,
        )
        if done.returncode:
            raise Crash(f"the scenario failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.splitlines()[-1])
        message = result["message"]
        assert f"The disk that holds {mount / 'home'} is full" in message, message
        assert "Nothing was lost" in message and "Errno" not in message
        if result["kept"]:
            raise DataLost(f"documents indexed before the disk was full are gone: {result}")
        if result["indexed"] != result["files"]:
            raise DataLost(f"after space was freed only {result['indexed']} files are indexed")
