#!/usr/bin/env python3
"""Benchmark: the production dynamic inventory at 5,000 instances, cold and warm, side by side.

One command (about 10-15 minutes on a 2-core machine, most of it moto creating and listing
instances)::

    .venv/bin/python bench/inventory_scale.py                    # 5,000 instances, own lab
    .venv/bin/python bench/inventory_scale.py --instances 500 --rounds 5

It brings up a lab of its own (AWS side only, in a temporary folder), launches the instances
with production tags in both regions of inventories/production/careops_ec2.yml, and builds that
inventory two ways from the same file:

- careops_ec2 (what careops uses): the warm build reads the composed hosts from its cache;
- amazon.aws.aws_ec2 (the same options, ``host_vars`` dropped): the warm build reads the
  DescribeInstances answers from its cache and composes every host again.

Each is built cold (empty cache), then warm ``--rounds`` times, rotating the two plugins, with
two consumers: ``ansible all --list-hosts`` (what a playbook run pays to load the inventory)
and ``ansible-inventory --list`` (the same, plus printing every host's variables). For each
build it reports wall and CPU time, hosts found, and the calls the lab logged. The targets: a
warm build makes no DescribeInstances call and takes less than 3 s. Cold times are moto's, not
AWS's: moto lists 5,000 instances in tens of seconds, AWS pages them (1,000 per page) in a few;
use the call counts to reason about AWS, not the time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "tests"))
from conftest import Lab, start_lab  # noqa: E402 - the lab's own start-up, from the tests

BIN = Path(sys.executable).parent
INVENTORY = ROOT / "inventories" / "production" / "careops_ec2.yml"
SERVICES = ["main-app", "auth", "background-jobs", "reports", "financial-api"]


def seed(lab: Lab, count: int, batch: int = 250) -> float:
    """Launch `count` production instances: four fifths in the primary region, the rest in DR."""
    started = time.monotonic()
    # The estate's app subnets are /24s; the default VPC's /20 subnets hold thousands.
    state = lab.state
    plan = {
        state["region"]: count - count // 5,
        state["dr_region"]: count // 5,
    }
    for region, wanted in plan.items():
        ec2 = lab.client("ec2", region)
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


def lab_env(lab: Lab, site: Path) -> dict[str, str]:
    """The lab's environment, with the raised read timeout (``site``) for ansible-inventory."""
    return lab.env | {"PYTHONPATH": str(site)}


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


def sources(workdir: Path) -> dict[str, Path]:
    """The production file for each plugin, with its cache in workdir (never in .cache/)."""
    config = yaml.safe_load(INVENTORY.read_text())
    config["cache_connection"] = str(workdir / "cache")
    aws = {k: v for k, v in config.items() if k != "host_vars"} | {"plugin": "amazon.aws.aws_ec2"}
    paths = {"careops_ec2": workdir / "careops_ec2.yml", "aws_ec2": workdir / "aws_ec2.yml"}
    paths["careops_ec2"].write_text(yaml.safe_dump(config, sort_keys=False))
    paths["aws_ec2"].write_text(yaml.safe_dump(aws, sort_keys=False))
    return paths


def build(
    lab: Lab,
    workdir: Path,
    source: Path,
    consumer: str = "list",
    extra_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Load an inventory once (``list``: ansible-inventory --list; ``hosts``: ansible all
    --list-hosts); time it and count the AWS calls it made."""
    lab.reset_calls()
    command = (
        [str(BIN / "ansible-inventory"), "-i", str(source), "--list"]
        if consumer == "list"
        else [str(BIN / "ansible"), "-i", str(source), "all", "--list-hosts"]
    )
    listed, wall, cpu = timed(command, workdir, lab_env(lab, workdir / "site") | (extra_env or {}))
    calls = Counter(f"{c['service']}:{c['action']}" for c in lab.calls())
    if consumer == "list":
        hosts = len(json.loads(listed).get("_meta", {}).get("hostvars", {}))
    else:
        # "  hosts (N):" then one host a line.
        hosts = sum(1 for line in listed.splitlines()[1:] if line.strip())
    return {"seconds": round(wall, 2), "cpu_seconds": round(cpu, 2), "hosts": hosts, "calls": dict(calls)}


def awx_script(lab: Lab, workdir: Path, source: Path) -> Path:
    """The inventory as an AWX job receives it: the synced hosts, printed by a script."""
    exported, _wall, _cpu = timed(
        [str(BIN / "ansible-inventory"), "-i", str(source), "--list", "--export"],
        workdir,
        lab_env(lab, workdir / "site"),
    )
    script = workdir / "awx-hosts"
    script.write_text(f"#! /usr/bin/env python3\nprint({exported.strip()!r})\n")
    script.chmod(0o700)
    return script


def median(runs: list[dict[str, Any]], key: str) -> float:
    return round(statistics.median(r[key] for r in runs), 2)


Row = tuple[str, str, str, dict[str, Any]]


def measure(lab: Lab, workdir: Path, paths: dict[str, Path], args: argparse.Namespace) -> list[Row]:
    """Cold builds of both plugins, then warm ones in rotating order, then the AWX and empty rows."""
    rows: list[Row] = []
    for plugin in ("careops_ec2", "aws_ec2"):
        print(f"cold build, {plugin}")
        rows.append((plugin, "cold", "list", build(lab, workdir, paths[plugin])))
    kinds = [(plugin, consumer) for plugin in ("careops_ec2", "aws_ec2") for consumer in ("hosts", "list")]
    for number in range(max(args.rounds, args.aws_rounds)):
        # Rotate the order, so neither plugin always runs first on a machine that is warming up.
        for plugin, consumer in kinds[number % 4 :] + kinds[: number % 4]:
            if number >= (args.rounds if plugin == "careops_ec2" else args.aws_rounds):
                continue
            print(f"warm build {number + 1}, {plugin}, {consumer}")
            rows.append((plugin, "warm", consumer, build(lab, workdir, paths[plugin], consumer)))
    # The export reads the warm cache, as an AWX inventory sync within its cache timeout would.
    script = awx_script(lab, workdir, paths["careops_ec2"])
    awx = build(lab, workdir, script, "hosts", {"ANSIBLE_INVENTORY_ENABLED": "ansible.builtin.script"})
    rows.append(("AWX job (synced careops_ec2 JSON, script)", "warm", "hosts", awx))
    (workdir / "empty.yml").write_text("---\nall:\n  hosts: {}\n")
    rows.append(
        ("no host (Ansible's start-up)", "-", "hosts", build(lab, workdir, workdir / "empty.yml", "hosts"))
    )
    return rows


def report(rows: list[Row], args: argparse.Namespace, seed_seconds: float) -> int:
    warm: dict[str, list[dict[str, Any]]] = {}
    for plugin, kind, consumer, run in rows:
        if kind == "warm" and plugin in ("careops_ec2", "aws_ec2"):
            warm.setdefault(f"{plugin} warm {consumer}", []).append(run)
    medians = {
        name: {"seconds": median(runs, "seconds"), "cpu_seconds": median(runs, "cpu_seconds")}
        for name, runs in sorted(warm.items())
    }
    figures = {
        "instances": args.instances,
        "seed_seconds": round(seed_seconds, 1),
        "rows": [{"plugin": p, "build": b, "consumer": c, **r} for p, b, c, r in rows],
        "warm_medians": medians,
        "warm_describe_instances": sum(
            r["calls"].get("ec2:DescribeInstances", 0) for _p, b, _c, r in rows if b == "warm"
        ),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg()[0],
    }
    print(json.dumps(figures, indent=2))
    print()
    print("| Plugin | Build | Consumer | Hosts | Wall (s) | CPU (s) | DescribeInstances | Other AWS calls |")
    print("|---|---|---|---:|---:|---:|---:|---|")
    for plugin, kind, consumer, run in rows:
        other = (
            ", ".join(f"{k} {v}" for k, v in sorted(run["calls"].items()) if k != "ec2:DescribeInstances")
            or "none"
        )
        shown = "ansible all --list-hosts" if consumer == "hosts" else "ansible-inventory --list"
        print(
            f"| {plugin} | {kind} | {shown} | {run['hosts']} | {run['seconds']} | {run['cpu_seconds']} "
            f"| {run['calls'].get('ec2:DescribeInstances', 0)} | {other} |"
        )
    print()
    for name, value in medians.items():
        print(f"median {name}: {value['seconds']} s wall, {value['cpu_seconds']} s CPU")
    ours, theirs = medians.get("careops_ec2 warm hosts"), medians.get("aws_ec2 warm hosts")
    if ours and theirs:
        print(f"ratio careops_ec2 / aws_ec2, warm, playbook load: {ours['seconds'] / theirs['seconds']:.3f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    if any(run["hosts"] < args.instances for plugin, _b, _c, run in rows if plugin != rows[-1][0]):
        print("FAILED: a build found fewer hosts than were launched; see the warnings of ansible-inventory")
        return 2
    ok = figures["warm_describe_instances"] == 0 and bool(ours) and ours["seconds"] < 3
    verdict = "met" if ok else "NOT met"
    print(f"target (warm careops_ec2: no DescribeInstances, playbook load under 3 s): {verdict}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3, help="warm builds of each kind (medians)")
    parser.add_argument(
        "--aws-rounds", type=int, default=1, help="warm aws_ec2 builds (each costs minutes at 5,000)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="careops-bench-"))
    workdir = folder / "work"
    (workdir / "site").mkdir(parents=True)
    (workdir / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    paths = sources(workdir)
    with start_lab(folder, f"bench{os.getpid()}", "--no-fleet") as lab:
        print(f"seeding {args.instances} instances")
        seed_seconds = seed(lab, args.instances)
        rows = measure(lab, workdir, paths, args)
    return report(rows, args, seed_seconds)


if __name__ == "__main__":
    sys.exit(main())
