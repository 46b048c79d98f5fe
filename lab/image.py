"""Build the Debian 12 systemd image that the lab fleet and the molecule scenarios run.

No container registry is reachable from the machines this project runs on, so the image is
made from scratch: debootstrap a minimal Debian rootfs from the machine's own apt mirror,
then ``podman import`` it. The result is cached in podman's storage under a tag that
includes a hash of the package list, so a changed list builds a new image and an unchanged
one costs nothing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

LOG = logging.getLogger("lab.image")

ROOT = Path(__file__).resolve().parent.parent
CONTAINERS_CONF = ROOT / "lab" / "containers.conf"
IMAGE_REPO = "localhost/careops-debian12"
SUITE = "bookworm"
PACKAGES = (
    "python3",
    "python3-apt",
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "sudo",
    "procps",
    "iproute2",
    "ca-certificates",
    "gnupg",
)
DEFAULT_MIRROR = "http://deb.debian.org/debian"


def podman_env() -> dict[str, str]:
    """Environment for every podman call: the project-local containers.conf, always."""
    env = dict(os.environ)
    env["CONTAINERS_CONF"] = str(CONTAINERS_CONF)
    return env


def podman(*args: str, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess:
    """Run podman with the project's configuration."""
    return subprocess.run(["podman", *args], env=podman_env(), check=check, text=True, capture_output=capture)


def image_tag() -> str:
    """The image reference for the current package list."""
    digest = hashlib.sha256(" ".join((SUITE, *PACKAGES)).encode()).hexdigest()[:12]
    return f"{IMAGE_REPO}:{digest}"


def apt_mirror() -> str:
    """The Debian mirror this machine's apt already uses (deb822 or one-line sources)."""
    sources = [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]
    for path in sources:
        try:
            text = path.read_text()
        except OSError:
            continue
        for match in re.finditer(r"(?m)^(?:URIs:\s*|deb\s+(?:\[[^]]*\]\s*)?)(\S+)", text):
            uri = match.group(1).rstrip("/")
            if uri.endswith("/debian"):
                return uri
    return DEFAULT_MIRROR


def image_exists(tag: str) -> bool:
    return podman("image", "exists", tag, check=False).returncode == 0


def build_image(force: bool = False) -> str:
    """Build the image if it is missing and return its tag.

    Raises ``RuntimeError`` with the reason when the host cannot build it.
    """
    tag = image_tag()
    if not force and image_exists(tag):
        LOG.info("image %s already built", tag)
        return tag
    for tool in ("podman", "debootstrap"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed; run scripts/bootstrap.sh as root")
    mirror = apt_mirror()
    LOG.info("building %s with debootstrap from %s (1-2 minutes)", tag, mirror)
    with tempfile.TemporaryDirectory(prefix="careops-rootfs-") as rootfs:
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(PACKAGES)}",
                SUITE,
                rootfs,
                mirror,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        _prepare_rootfs(Path(rootfs), mirror)
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            ["podman", "import", "--change", "CMD=/sbin/init", "-", tag],
            stdin=tar.stdout,
            env=podman_env(),
            check=True,
            capture_output=True,
        )
        tar.wait()
    podman("tag", tag, f"{IMAGE_REPO}:latest")
    LOG.info("built %s", tag)
    return tag


def _prepare_rootfs(rootfs: Path, mirror: str) -> None:
    """Make the rootfs behave like a small cloud instance once systemd boots in it."""
    (rootfs / "etc/apt/sources.list").write_text(
        f"deb {mirror} {SUITE} main\n"
        f"deb {mirror} {SUITE}-updates main\n"
        f"deb {mirror}-security {SUITE}-security main\n"
    )
    # Units that cannot work in an unprivileged container and only slow or fail the boot.
    wants = rootfs / "etc/systemd/system"
    for unit in (
        "systemd-remount-fs.service",
        "getty@tty1.service",
        "console-getty.service",
        "systemd-udevd.service",
        "systemd-udev-trigger.service",
    ):
        link = wants / unit
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")
    (rootfs / "etc/machine-id").write_text("")
    # Package caches make the image larger without helping a converge.
    shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
    (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
