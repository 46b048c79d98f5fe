"""The lab fleet: systemd containers registered as EC2 instances in the emulated account.

Each container gets an instance record with the tags production instances carry, plus
``LabContainer`` naming the container. The lab inventory selects instances by that tag and
reaches them with the podman connection, so playbooks take the same inventory path as in
production (careops_ec2 over aws_ec2, tag-based groups) and only the transport differs.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab import image
from lab.estate import PRIMARY

LOG = logging.getLogger("lab.fleet")

LABEL = "io.careops.lab"


@dataclass(frozen=True)
class Member:
    suffix: str
    environment: str
    service: str
    zone: str
    http_tokens: str
    canary: bool = False

    def tags(self, name: str) -> list[dict[str, str]]:
        short = "prod" if self.environment == "production" else "hml"
        tags = {
            "Name": f"{short}-{self.service}",
            "Environment": self.environment,
            "Service": self.service,
            "Owner": "platform-team",
            "DataClassification": "health" if self.environment == "production" else "synthetic",
            "Backup": "none",
            "LabContainer": name,
            "elasticbeanstalk:environment-name": f"{short}-{self.service}",
            "Canary": "true" if self.canary else "false",
        }
        return [{"Key": k, "Value": v} for k, v in tags.items()]


MEMBERS = (
    Member("prod-app-a", "production", "main-app", "a", "required", canary=True),
    Member("prod-app-b", "production", "main-app", "b", "required"),
    Member("hml-app-a", "homologation", "main-app", "a", "optional"),
)


def unavailable_reason() -> str | None:
    """Why the fleet cannot run on this host, or None when it can."""
    if shutil.which("podman") is None:
        return "podman is not installed (run scripts/bootstrap.sh as root)"
    if os.geteuid() != 0:
        return "the lab fleet needs root for systemd containers with podman on this host"
    probe = image.podman("info", "--format", "{{.Host.OCIRuntime.Name}}", check=False)
    if probe.returncode != 0:
        return f"podman does not work here: {probe.stderr.strip()[:200]}"
    return None


def run_args(name: str, tag: str) -> list[str]:
    """podman run arguments for one systemd host (shared with molecule's settings)."""
    args = ["run", "-d", "--name", name, "--hostname", name, "--label", f"{LABEL}=1"]
    # On hybrid cgroup hosts systemd in the container otherwise misses that a stopped
    # service's processes are gone and waits out its 90 s stop timeout.
    if Path("/sys/fs/cgroup/unified").is_dir():
        args += ["-v", "/sys/fs/cgroup/unified:/sys/fs/cgroup/unified:rw"]
    return [*args, tag, "/sbin/init"]


def start(
    prefix: str, ec2: Any, subnets: dict[str, str], security_groups: dict[str, str], image_id: str
) -> list[dict[str, str]]:
    """Start every member and register it; returns name, instance id and AZ of each."""
    tag = image.build_image()
    hosts = []
    for member in MEMBERS:
        name = f"{prefix}-{member.suffix}"
        image.podman("rm", "-f", name, check=False)
        image.podman(*run_args(name, tag))
        short = "prod" if member.environment == "production" else "hml"
        instance = ec2.run_instances(
            ImageId=image_id,
            InstanceType="m6i.large" if member.environment == "production" else "t3.medium",
            MinCount=1,
            MaxCount=1,
            SubnetId=subnets[f"app-{member.zone}"],
            SecurityGroupIds=[security_groups[f"{short}-app"]],
            MetadataOptions={
                "HttpTokens": member.http_tokens,
                "HttpPutResponseHopLimit": 2,
                "HttpEndpoint": "enabled",
            },
            TagSpecifications=[{"ResourceType": "instance", "Tags": member.tags(name)}],
        )["Instances"][0]
        hosts.append({"name": name, "instance_id": instance["InstanceId"], "zone": f"{PRIMARY}{member.zone}"})
        LOG.info("fleet host %s is %s", name, instance["InstanceId"])
    for host in hosts:
        wait_booted(host["name"])
    return hosts


def wait_booted(name: str) -> None:
    """Wait until systemd in the container has finished starting (running or degraded)."""
    result = image.podman(
        "exec", name, "timeout", "60", "systemctl", "is-system-running", "--wait", check=False
    )
    state = result.stdout.strip()
    if state not in ("running", "degraded"):
        raise RuntimeError(f"container {name} did not boot: systemd says {state!r}")


def stop(names: list[str]) -> None:
    for name in names:
        image.podman("rm", "-f", "-t", "2", name, check=False)


def running(names: list[str]) -> list[str]:
    result = image.podman("ps", "--format", "{{.Names}}", check=False)
    alive = set(result.stdout.split())
    return [name for name in names if name in alive]


def exec_in(name: str, *command: str) -> subprocess.CompletedProcess:
    return image.podman("exec", name, *command, check=False)
