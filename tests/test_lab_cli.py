"""The lab's command line: up, status, down, and the fleet skipped where podman cannot run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT


def _lab(folder: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "CAREOPS_LAB_DIR": str(folder),
        "CAREOPS_LAB_PREFIX": f"cli{os.getpid()}",
        "PATH": path if path is not None else os.environ.get("PATH", ""),
    }
    return subprocess.run(
        [sys.executable, "-m", "lab", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_without_podman_the_aws_side_still_comes_up(tmp_path: Path) -> None:
    # A PATH with the tools the lab needs but no podman, as on a machine without it.
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("runuser", "initdb", "pg_ctl"):
        found = shutil.which(tool)
        if found:
            (bare / tool).symlink_to(found)
    folder = tmp_path / "lab"
    try:
        up = _lab(folder, "up", path=str(bare))
        assert up.returncode == 0, up.stdout + up.stderr
        assert "fleet skipped: podman is not installed" in up.stdout
        state = json.loads((folder / "state.json").read_text())
        assert state["fleet"] == {"hosts": [], "skipped": state["fleet"]["skipped"]}
        assert "podman" in state["fleet"]["skipped"]
        assert len(state["estate"]["databases"]) == 8
        again = _lab(folder, "up")
        assert "already up" in again.stdout
        status = _lab(folder, "status")
        assert status.returncode == 0
        assert "fleet:     skipped (podman is not installed" in status.stdout
    finally:
        down = _lab(folder, "down")
    assert "lab: down" in down.stdout
    assert not (folder / "state.json").exists()
    assert _lab(folder, "status").returncode == 1
    assert "not running" in _lab(folder, "down").stdout


def test_a_lab_whose_owner_died_stops_itself(tmp_path: Path) -> None:
    owner = subprocess.Popen(["sleep", "300"])
    folder = tmp_path / "orphan"
    try:
        up = _lab(folder, "up", "--no-fleet", "--exit-with", str(owner.pid))
        assert up.returncode == 0, up.stdout + up.stderr
        server_pid = json.loads((folder / "state.json").read_text())["pid"]
    finally:
        owner.kill()
        owner.wait()
    deadline = time.monotonic() + 30
    while _running(server_pid):
        assert time.monotonic() < deadline, "the lab outlived the process that owned it"
        time.sleep(0.5)
    assert not (folder / "state.json").exists()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers signal 0; its state letter says it has exited.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"
