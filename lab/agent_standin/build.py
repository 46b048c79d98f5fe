"""Build the lab stand-in ``amazon-cloudwatch-agent`` Debian package and publish it to a folder.

The stand-in exists because the lab cannot download the official agent. It is labelled as a
stand-in in its package description and on disk, and implements only the control commands that
``roles/cloudwatch_agent`` calls. The build is reproducible (fixed timestamps and ownership), so
an unchanged payload yields the same SHA-256 and a rerun of the role reports no change.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

LOG = logging.getLogger("lab.agent_standin")

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = Path(__file__).resolve().parent / "payload"
DEFAULT_OUT = ROOT / ".lab" / "mirror" / "cloudwatch-agent"
PACKAGE = "amazon-cloudwatch-agent"
# The "~labstandin" suffix sorts before any real release, so a real package always upgrades it.
VERSION = "0.0.1~labstandin1"
DEB_NAME = f"{PACKAGE}.deb"
# Fixed timestamp for every file in the archive: the same payload gives the same checksum.
SOURCE_DATE_EPOCH = 1767225600
AGENT_HOME = "opt/aws/amazon-cloudwatch-agent"

CONTROL = f"""Package: {PACKAGE}
Version: {VERSION}
Architecture: all
Maintainer: careops lab <careops-lab@invalid>
Depends: python3, systemd
Section: admin
Priority: optional
Description: LAB STAND-IN for the Amazon CloudWatch agent (not the real agent)
 Built by the careops lab so that its Ansible role can be tested without internet
 access. It implements only fetch-config (with a JSON structure check), status and
 stop, and a service that stays running. It collects and sends nothing.
"""

POSTINST = """#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
fi
"""

# Where each payload file goes and with which mode.
LAYOUT: tuple[tuple[str, str, int], ...] = (
    ("amazon-cloudwatch-agent-ctl", f"{AGENT_HOME}/bin/amazon-cloudwatch-agent-ctl", 0o755),
    ("amazon-cloudwatch-agent", f"{AGENT_HOME}/bin/amazon-cloudwatch-agent", 0o755),
    ("amazon-cloudwatch-agent.service", "etc/systemd/system/amazon-cloudwatch-agent.service", 0o644),
    ("LAB-STAND-IN", f"{AGENT_HOME}/LAB-STAND-IN", 0o644),
)


def build(out_dir: Path) -> tuple[Path, str]:
    """Build the package into ``out_dir`` and write ``<deb>.sha256`` beside it.

    Returns the package path and its SHA-256.
    """
    if shutil.which("dpkg-deb") is None:
        raise RuntimeError("dpkg-deb is not installed; it comes with dpkg on Debian")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="careops-standin-") as tmp:
        root = Path(tmp) / "pkg"
        (root / "DEBIAN").mkdir(parents=True)
        (root / "DEBIAN/control").write_text(CONTROL)
        (root / "DEBIAN/postinst").write_text(POSTINST)
        (root / "DEBIAN/postinst").chmod(0o755)
        for source, target, mode in LAYOUT:
            dest = root / target
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(PAYLOAD / source, dest)
            dest.chmod(mode)
        for dirpath in (root / AGENT_HOME / "etc/amazon-cloudwatch-agent.d", root / AGENT_HOME / "logs"):
            dirpath.mkdir(parents=True, exist_ok=True)
        for path in sorted(root.rglob("*"), reverse=True):
            os.utime(path, (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH), follow_symlinks=False)
        os.utime(root, (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH))
        deb = out_dir / DEB_NAME
        env = dict(os.environ, SOURCE_DATE_EPOCH=str(SOURCE_DATE_EPOCH))
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(root), str(deb)],
            check=True,
            capture_output=True,
            env=env,
        )
    digest = hashlib.sha256(deb.read_bytes()).hexdigest()
    (out_dir / f"{DEB_NAME}.sha256").write_text(f"{digest}  {DEB_NAME}\n")
    LOG.info("built lab stand-in %s %s sha256 %s", PACKAGE, VERSION, digest)
    return deb, digest


def main(argv: list[str] | None = None) -> int:
    """Command line entry: build into --out and print the package path and its checksum."""
    parser = argparse.ArgumentParser(
        prog="python -m lab.agent_standin",
        description="Build the LAB STAND-IN amazon-cloudwatch-agent package (not the real agent).",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"mirror folder (default {DEFAULT_OUT})"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    deb, digest = build(args.out.resolve())
    sys.stdout.write(f"{deb} {digest}\n")
    return 0
