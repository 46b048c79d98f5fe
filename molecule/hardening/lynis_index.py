"""Measure the Lynis hardening index of a podman container, without installing Lynis in it.

The index must describe the host's real posture, so nothing here changes what Lynis looks at:
the default profile is used as shipped (no skipped tests), and Lynis is not installed through
the container's package manager. Its files are copied in from the controller's Debian package
for the duration of the audit and removed afterwards; only Lynis' own log and report stay.

Usage:
    python molecule/hardening/lynis_index.py CONTAINER...   audit running containers, one by one
    python molecule/hardening/lynis_index.py --fresh        audit a throw-away container of the
                                                            lab image (the "before" number)
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "localhost/careops-debian12:latest"
STAGE = "/opt/careops-lynis"


def podman(*args: str, check: bool = True, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """Run podman with the project's containers.conf (runc, lowered ulimits)."""
    env = dict(os.environ, CONTAINERS_CONF=str(ROOT / "lab" / "containers.conf"))
    return subprocess.run(["podman", *args], env=env, check=check, input=stdin, capture_output=True)


def lynis_tarball() -> bytes:
    """Pack the controller's Lynis package files (a Debian package) under one staging folder."""
    listed = subprocess.run(["dpkg", "-L", "lynis"], check=True, capture_output=True, text=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for line in listed.stdout.splitlines():
            path = Path(line)
            if not path.is_file() or path.is_symlink():
                continue
            # Lynis run from its own folder finds ./include, ./db, ./plugins and ./default.prf.
            # The Debian package spreads them over /usr/share/lynis and /etc/lynis.
            if line in {"/usr/sbin/lynis", "/etc/lynis/default.prf"}:
                arcname = f"lynis/{path.name}"
            elif line.startswith("/usr/share/lynis/"):
                arcname = "lynis/" + line.removeprefix("/usr/share/lynis/")
            elif line.startswith("/etc/lynis/plugins/"):
                arcname = "lynis/plugins/" + path.name
            else:
                continue
            tar.add(line, arcname=arcname, recursive=False)
    return buf.getvalue()


def audit(container: str) -> int:
    """Copy Lynis in, run a full audit with the shipped profile, return the hardening index."""
    podman("exec", "-i", container, "mkdir", "-p", STAGE)
    podman("exec", "-i", container, "tar", "-C", STAGE, "-x", stdin=lynis_tarball())
    base = f"{STAGE}/lynis"
    script = (
        f"cd {base} && ./lynis audit system --quick --no-colors --quiet "
        "--logfile /var/log/lynis.log --report-file /var/log/lynis-report.dat >/dev/null 2>&1; "
        f"rm -rf {STAGE}; grep '^hardening_index=' /var/log/lynis-report.dat"
    )
    out = podman("exec", container, "sh", "-c", script).stdout.decode()
    match = re.search(r"hardening_index=(\d+)", out)
    if not match:
        raise RuntimeError(f"no hardening index in the Lynis report of {container}")
    return int(match.group(1))


def fresh_index() -> int:
    """Audit an untouched container of the lab image, booted like the molecule instances."""
    name = f"careops-lynis-{uuid.uuid4().hex[:8]}"
    volume = ["-v", "/sys/fs/cgroup/unified:/sys/fs/cgroup/unified:rw"]
    if not Path("/sys/fs/cgroup/unified").is_dir():
        volume = []
    podman("run", "-d", "--name", name, *volume, IMAGE, "/sbin/init")
    try:
        podman("exec", name, "systemctl", "is-system-running", "--wait", check=False)
        return audit(name)
    finally:
        podman("rm", "-f", "-t", "0", name, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("containers", nargs="*", help="running containers to audit")
    parser.add_argument("--fresh", action="store_true", help="audit a fresh container of the lab image")
    args = parser.parse_args()
    if not args.fresh and not args.containers:
        parser.error("give container names or --fresh")
    targets = ["fresh lab image"] if args.fresh else args.containers
    for target in targets:
        started = time.monotonic()
        index = fresh_index() if args.fresh else audit(target)
        seconds = time.monotonic() - started
        sys.stdout.write(f"lynis hardening_index={index} target={target} seconds={seconds:.0f}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
