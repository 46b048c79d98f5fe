#!/usr/bin/env python3
"""Benchmark: the least an inventory of N hosts can cost Ansible, once nothing is templated.

One command (about a minute on a 2-core machine)::

    .venv/bin/python bench/inventory_floor.py                      # 5,000 hosts, 9 and 60 vars
    .venv/bin/python bench/inventory_floor.py --hosts 1000 --rounds 5

bench/inventory_scale.py shows that a warm aws_ec2 build spends most of its time templating
``compose``, ``keyed_groups`` and ``groups`` for every host. This benchmark measures what is
left when that work is already done: it writes an inventory script that prints hosts, groups
and host variables that are already composed (the shape AWX hands a job after an inventory
sync), and times two consumers of it, each ``--rounds`` times, medians reported:

- ``ansible all --list-hosts``: what every playbook run pays to load the inventory;
- ``ansible-inventory --list``: the same load, plus serialising every host's variables.

Both are run with 9 variables per host (what careops' plays read) and with 60 (about what the
aws_ec2 plugin attaches from a DescribeInstances record), and against an empty inventory for
Ansible's own start-up. Nothing here talks to AWS or the lab.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
GROUPS = ("env_production", "role_app", "role_worker", "az_sa_east_1a", "az_sa_east_1b")


def write_inventory(folder: Path, hosts: int, extra_vars: int) -> Path:
    """An executable inventory script printing ``hosts`` composed hosts in five groups."""
    hostvars: dict[str, dict[str, object]] = {}
    members: dict[str, list[str]] = {group: [] for group in GROUPS}
    for index in range(hosts):
        name = f"prod-app-{index:05d}"
        az = "sa-east-1a" if index % 2 else "sa-east-1b"
        role = "app" if index % 3 else "worker"
        record: dict[str, object] = {
            "ansible_host": f"10.{index // 65536}.{index // 256 % 256}.{index % 256}",
            "ec2_instance_id": f"i-{index:017x}",
            "ec2_az": az,
            "environment": "production",
            "role": role,
            "instance_type": "t3.large",
            "image_id": "ami-0123456789abcdef0",
            "asg": "prod-main-asg",
            "careops_canary": index == 0,
        }
        for extra in range(extra_vars - len(record)):
            record[f"ec2_attribute_{extra:02d}"] = f"value-{extra}-{index}"
        hostvars[name] = record
        members["env_production"].append(name)
        members[f"role_{role}"].append(name)
        members[f"az_{az.replace('-', '_')}"].append(name)
    document: dict[str, object] = {"_meta": {"hostvars": hostvars}, "all": {"children": list(GROUPS)}}
    document |= {group: {"hosts": names} for group, names in members.items()}
    data = folder / f"inventory-{hosts}-{extra_vars}.json"
    data.write_text(json.dumps(document))
    script = folder / f"inventory-{hosts}-{extra_vars}.sh"
    script.write_text(f"#!/bin/sh\nexec cat '{data}'\n")
    script.chmod(0o755)
    return script


def timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system of the child) of one successful run."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="careops-inventory-floor-"))
    cases = [("empty inventory", "localhost,", 0)]
    for extra_vars in (9, 60):
        cases.append(
            (
                f"{args.hosts} hosts, {extra_vars} vars",
                str(write_inventory(folder, args.hosts, extra_vars)),
                extra_vars,
            )
        )
    consumers = {
        "ansible --list-hosts": lambda source: [str(BIN / "ansible"), "-i", source, "all", "--list-hosts"],
        "ansible-inventory --list": lambda source: [str(BIN / "ansible-inventory"), "-i", source, "--list"],
    }
    rows = []
    for label, source, _vars in cases:
        for consumer, command in consumers.items():
            runs = [timed(command(source)) for _ in range(args.rounds)]
            rows.append(
                {
                    "inventory": label,
                    "consumer": consumer,
                    "wall": round(statistics.median(w for w, _ in runs), 2),
                    "cpu": round(statistics.median(c for _, c in runs), 2),
                    "walls": [round(w, 2) for w, _ in runs],
                }
            )
            print(f"  {label:24} {consumer:26} {rows[-1]['walls']}", flush=True)
    print(f"\n| Inventory | Consumer | Wall (s), median of {args.rounds} | CPU (s) |")
    print("|---|---|---:|---:|")
    for row in rows:
        print(f"| {row['inventory']} | {row['consumer']} | {row['wall']} | {row['cpu']} |")
    load = [round(x, 2) for x in os.getloadavg()]
    print(f"\n{os.cpu_count()} CPUs, load average {load}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "load_average": load}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
