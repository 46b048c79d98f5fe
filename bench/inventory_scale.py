#!/usr/bin/env python3
"""Benchmark: the production dynamic inventory at 5,000 instances, cold and warm cache.

One command (about 3-6 minutes on a 2-core machine, most of it moto creating and listing
instances)::

    .venv/bin/python bench/inventory_scale.py               # 5,000 instances, own lab
    .venv/bin/python bench/inventory_scale.py --instances 500 --warm-runs 5

It brings up a lab of its own (AWS side only, in a temporary folder), launches the instances
with production tags in both regions of inventories/production/aws_ec2.yml, then builds that
inventory with ``ansible-inventory --list``:

- cold: empty inventory cache, so the aws_ec2 plugin lists every instance;
- warm: the same command again, answered from the jsonfile cache (timeout 300 s).

For each build it reports wall time, hosts found, and the EC2 calls the lab logged
(DescribeInstances, and any other). The targets: a warm build makes no AWS call and takes less
than 3 s. Cold times are moto's, not AWS's: moto lists 5,000 instances in tens of seconds, AWS
pages them (1,000 per page) in a few; use the call counts to reason about AWS, not the time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from lab import ACCESS_KEY_ID, SECRET_ACCESS_KEY  # noqa: E402 - the lab package lives at ROOT

BIN = Path(sys.executable).parent
INVENTORY = ROOT / "inventories" / "production" / "aws_ec2.yml"
SERVICES = ["main-app", "auth", "background-jobs", "reports", "financial-api"]


def api(endpoint: str, action: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback lab endpoint
        f"{endpoint}/lab-api/{action}", data=data, method="POST" if data is not None else "GET"
    )
    with urllib.request.urlopen(request, timeout=120) as reply:  # noqa: S310
        return json.load(reply)


def lab_up(folder: Path) -> dict[str, Any]:
    env = {**os.environ, "CAREOPS_LAB_DIR": str(folder), "CAREOPS_LAB_PREFIX": f"bench{os.getpid()}"}
    subprocess.run([sys.executable, "-m", "lab", "up", "--no-fleet"], cwd=ROOT, env=env, check=True)
    return json.loads((folder / "state.json").read_text())


def lab_down(folder: Path) -> None:
    env = {**os.environ, "CAREOPS_LAB_DIR": str(folder)}
    subprocess.run([sys.executable, "-m", "lab", "down"], cwd=ROOT, env=env, check=False, capture_output=True)


def client(endpoint: str, region: str) -> Any:
    return boto3.client(
        "ec2",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )


def seed(state: dict[str, Any], count: int, batch: int = 250) -> float:
    """Launch `count` production instances: four fifths in the primary region, the rest in DR."""
    started = time.monotonic()
    # The estate's app subnets are /24s; the default VPC's /20 subnets hold thousands.
    plan = {
        state["region"]: count - count // 5,
        state["dr_region"]: count // 5,
    }
    for region, wanted in plan.items():
        ec2 = client(state["endpoint"], region)
        zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
        image = (
            state["estate"]["image_id"]
            if region == state["region"]
            else ec2.describe_images()["Images"][0]["ImageId"]
        )
        launched = 0
        while launched < wanted:
            size = min(batch, wanted - launched)
            number = launched // batch
            tags = [
                {"Key": "Environment", "Value": "production"},
                {"Key": "Service", "Value": SERVICES[number % len(SERVICES)]},
                {"Key": "Owner", "Value": "platform"},
                {"Key": "aws:autoscaling:groupName", "Value": f"prod-bench-asg-{number}"},
            ]
            ec2.run_instances(
                ImageId=image,
                InstanceType="t3.small",
                MinCount=size,
                MaxCount=size,
                Placement={"AvailabilityZone": zones[number % 2]},
                TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
            )
            launched += size
            print(f"  {region}: {launched}/{wanted} instances", end="\r", flush=True)
        print()
    return time.monotonic() - started


# moto answers DescribeInstances for thousands of instances in one response that takes it tens
# of seconds (minutes on a busy machine), past botocore's 60 s read timeout: the aws_ec2 plugin
# then retries, gives up, and ansible-inventory exits 0 with a warning and no host. AWS pages
# at 1,000 instances and answers each page in about a second. The benchmark alone raises the
# timeout, through a sitecustomize module that only its ansible-inventory runs load.
SITECUSTOMIZE = """
import botocore.config
botocore.config.Config.OPTION_DEFAULTS["read_timeout"] = 900
"""


def lab_env(state: dict[str, Any], site: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(site),
        "AWS_ENDPOINT_URL": state["endpoint"],
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_REGION": state["region"],
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def timed(command: list[str], workdir: Path, env: dict[str, str]) -> tuple[str, float, float]:
    """Run a command; return its stdout, wall seconds and CPU seconds (user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, check=True, timeout=900
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.stdout, wall, cpu


def build(
    state: dict[str, Any], workdir: Path, source: Path = INVENTORY, extra_env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Build an inventory once; time it and count the AWS calls it made."""
    api(state["endpoint"], "calls/reset", {})
    # The inventory file names a relative cache folder: running in workdir keeps it out of .cache/.
    listed, wall, cpu = timed(
        [str(BIN / "ansible-inventory"), "-i", str(source), "--list"],
        workdir,
        lab_env(state, workdir / "site") | (extra_env or {}),
    )
    calls = Counter(f"{c['service']}:{c['action']}" for c in api(state["endpoint"], "calls")["calls"])
    hosts = len(json.loads(listed).get("_meta", {}).get("hostvars", {}))
    if hosts == 0 and source == INVENTORY:
        print(
            f"  no host from {source.name}: the plugin failed, see ansible-inventory's warnings",
            file=sys.stderr,
        )
    return {"seconds": round(wall, 2), "cpu_seconds": round(cpu, 2), "hosts": hosts, "calls": dict(calls)}


def awx_script(state: dict[str, Any], workdir: Path) -> Path:
    """The inventory as an AWX job receives it: the synced hosts, printed by a script."""
    exported, _wall, _cpu = timed(
        [str(BIN / "ansible-inventory"), "-i", str(INVENTORY), "--list", "--export"],
        workdir,
        lab_env(state, workdir / "site"),
    )
    script = workdir / "awx-hosts"
    script.write_text(f"#! /usr/bin/env python3\nprint({exported.strip()!r})\n")
    script.chmod(0o700)
    return script


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=5000)
    parser.add_argument("--warm-runs", type=int, default=2)
    parser.add_argument("--cold-again", action="store_true", help="rebuild cold once more at the end")
    parser.add_argument("--keep", action="store_true", help="leave the lab up and print its folder")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="careops-bench-"))
    workdir = folder / "work"
    (workdir / "site").mkdir(parents=True)
    (workdir / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    try:
        state = lab_up(folder)
        print(f"seeding {args.instances} instances")
        seed_seconds = seed(state, args.instances)
        cold = build(state, workdir)
        warm = [build(state, workdir) for _ in range(args.warm_runs)]
        # The export reads the warm cache, as an AWX inventory sync within its cache timeout would.
        script = awx_script(state, workdir)
        awx = build(state, workdir, script, {"ANSIBLE_INVENTORY_ENABLED": "ansible.builtin.script"})
        (workdir / "empty.yml").write_text("---\nall:\n  hosts: {}\n")
        empty = build(state, workdir, workdir / "empty.yml")
        cold_again = None
        if args.cold_again:
            shutil.rmtree(workdir / ".cache", ignore_errors=True)
            cold_again = build(state, workdir)
    finally:
        if not args.keep:
            lab_down(folder)
    figures = {
        "instances": args.instances,
        "seed_seconds": round(seed_seconds, 1),
        "cold": cold,
        "cold_again": cold_again,
        "warm": warm,
        "awx_job_script": awx,
        "ansible_startup_no_hosts": empty,
        "warm_median_seconds": statistics.median(w["seconds"] for w in warm),
        "warm_describe_instances": sum(w["calls"].get("ec2:DescribeInstances", 0) for w in warm),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg()[0],
    }
    print(json.dumps(figures, indent=2))
    print()
    print("| Build | Hosts | Wall (s) | CPU (s) | DescribeInstances | Other AWS calls |")
    print("|---|---:|---:|---:|---:|---|")
    rows = [("cold", cold)] + ([("cold, second time", cold_again)] if cold_again else [])
    rows += [(f"warm #{i + 1}", w) for i, w in enumerate(warm)]
    rows += [("AWX job (synced JSON script)", awx), ("ansible-inventory, no hosts", empty)]
    for label, run in rows:
        other = (
            ", ".join(f"{k} {v}" for k, v in sorted(run["calls"].items()) if k != "ec2:DescribeInstances")
            or "none"
        )
        print(
            f"| {label} | {run['hosts']} | {run['seconds']} | {run['cpu_seconds']} "
            f"| {run['calls'].get('ec2:DescribeInstances', 0)} | {other} |"
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    if args.keep:
        print(f"lab left up: CAREOPS_LAB_DIR={folder} .venv/bin/python -m lab down")
    if any(run["hosts"] < args.instances for _label, run in rows[:-1]):
        print("FAILED: a build found fewer hosts than were launched; see the warnings of ansible-inventory")
        return 2
    ok = figures["warm_describe_instances"] == 0 and figures["warm_median_seconds"] < 3
    print(f"target (warm: no DescribeInstances, under 3 s): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
