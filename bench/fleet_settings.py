#!/usr/bin/env python3
"""Benchmark: playbooks/fleet.yml on the lab fleet, first run, no-change rerun, and each setting.

One command (about 10-20 minutes on a 2-core machine)::

    .venv/bin/python bench/fleet_settings.py
    .venv/bin/python bench/fleet_settings.py --repeat 3     # medians of three reruns per setting

It brings up a lab of its own with the podman fleet (three systemd containers), converges the
fleet once with ansible.cfg as it is, then reruns it without changes: once as configured, then
with one setting changed at a time, so each figure is that setting's effect on a rerun:

- pipelining off (``ANSIBLE_PIPELINING=False``);
- one fork (``ANSIBLE_FORKS=1``) instead of ansible.cfg's 20;
- no fact cache (memory cache: every play gathers facts again).

Reported per run: wall and CPU seconds (CPU of ansible-playbook and its children, less
sensitive to other jobs on the machine than wall time) and the recap's changed and failed
counts. The target: a no-change rerun takes at most a quarter of the first run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from lab import ACCESS_KEY_ID, SECRET_ACCESS_KEY  # noqa: E402 - the lab package lives at ROOT

BIN = Path(sys.executable).parent
RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)
VARIANTS: dict[str, dict[str, str]] = {
    "rerun, as configured": {},
    "rerun, pipelining off": {"ANSIBLE_PIPELINING": "False"},
    "rerun, 1 fork": {"ANSIBLE_FORKS": "1"},
    "rerun, no fact cache": {"ANSIBLE_CACHE_PLUGIN": "ansible.builtin.memory"},
}


def lab_up(folder: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "CAREOPS_LAB_DIR": str(folder),
        "CAREOPS_LAB_PREFIX": f"fb{os.getpid()}",
        "CONTAINERS_CONF": str(ROOT / "lab" / "containers.conf"),
    }
    subprocess.run([sys.executable, "-m", "lab", "up"], cwd=ROOT, env=env, check=True)
    state = json.loads((folder / "state.json").read_text())
    if not state["fleet"]["hosts"]:
        raise SystemExit(f"the lab has no fleet: {state['fleet']['skipped']}")
    return state


def lab_down(folder: Path) -> None:
    env = {
        **os.environ,
        "CAREOPS_LAB_DIR": str(folder),
        "CONTAINERS_CONF": str(ROOT / "lab" / "containers.conf"),
    }
    subprocess.run([sys.executable, "-m", "lab", "down"], cwd=ROOT, env=env, check=False, capture_output=True)


def agent_mirror(folder: Path) -> dict[str, str]:
    """The lab's stand-in CloudWatch agent package, and the variables that point the role at it."""
    mirror = folder / "mirror"
    subprocess.run([sys.executable, "-m", "lab.agent_standin", "--out", str(mirror)], cwd=ROOT, check=True)
    return {
        "cloudwatch_agent_deb_url": f"file://{mirror}/amazon-cloudwatch-agent.deb",
        "cloudwatch_agent_deb_sha256": (mirror / "amazon-cloudwatch-agent.deb.sha256").read_text().split()[0],
        "cloudwatch_agent_controller_cache_dir": str(folder / "agent-cache"),
    }


def run_fleet(state: dict[str, Any], folder: Path, overrides: dict[str, str]) -> dict[str, Any]:
    """One run of playbooks/fleet.yml against the lab fleet; time, CPU and recap counts."""
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": state["endpoint"],
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_REGION": state["region"],
        "CONTAINERS_CONF": str(ROOT / "lab" / "containers.conf"),
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_INVENTORY_CACHE_CONNECTION": str(folder / "inventory-cache"),
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(folder / "fact-cache"),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        **overrides,
    }
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            "inventories/lab",
            "playbooks/fleet.yml",
            "-e",
            json.dumps(json.loads((folder / "agent.json").read_text())),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    recap = RECAP.findall(done.stdout)
    if done.returncode != 0 or not recap:
        print(done.stdout[-4000:], done.stderr[-2000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"fleet.yml failed with {done.returncode} ({overrides or 'as configured'})")
    return {
        "seconds": round(wall, 1),
        "cpu_seconds": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1),
        "changed": sum(int(r[2]) for r in recap),
        "failed": sum(int(r[4]) for r in recap),
        "hosts": len(recap),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="reruns per setting (the median is reported)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="careops-fleet-bench-"))
    results: dict[str, Any] = {}
    try:
        state = lab_up(folder)
        (folder / "agent.json").write_text(json.dumps(agent_mirror(folder)))
        results["first run (converge)"] = run_fleet(state, folder, {})
        print(f"first run (converge): {results['first run (converge)']}", flush=True)
        for label, overrides in VARIANTS.items():
            runs = [run_fleet(state, folder, overrides) for _ in range(args.repeat)]
            median = statistics.median(r["seconds"] for r in runs)
            results[label] = next(r for r in runs if r["seconds"] == median) | {
                "runs": [r["seconds"] for r in runs]
            }
            print(f"{label}: {results[label]}", flush=True)
    finally:
        lab_down(folder)
    first = results["first run (converge)"]["seconds"]
    print(json.dumps(results, indent=2))
    print()
    print("| Run | Hosts | Wall (s) | CPU (s) | Changed | Failed | Wall / first run |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, run in results.items():
        print(
            f"| {label} | {run['hosts']} | {run['seconds']} | {run['cpu_seconds']} | {run['changed']} "
            f"| {run['failed']} | {run['seconds'] / first:.2f} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    rerun = results["rerun, as configured"]
    ok = rerun["changed"] == 0 and rerun["seconds"] <= first / 4
    verdict = "met" if ok else "NOT met"
    print(
        f"target (a no-change rerun changes nothing and takes at most a quarter of the first run): {verdict}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
