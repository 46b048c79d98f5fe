#!/usr/bin/env python3
"""Benchmark: playbooks/fleet.yml on the lab fleet, first run, no-change rerun, and each setting.

One command (about 15 minutes a round on a 2-core machine)::

    .venv/bin/python bench/fleet_settings.py                # 3 rounds, medians
    .venv/bin/python bench/fleet_settings.py --rounds 1     # one round, for a quick look

Each round brings up a lab of its own with a fresh podman fleet (three systemd containers that
have never been converged), converges it once with ansible.cfg as it is (the first run), then
reruns it without changes: as configured, and with one setting changed at a time, so each
figure is that setting's effect on a rerun:

- pipelining off (``ANSIBLE_PIPELINING=False``);
- one fork (``ANSIBLE_FORKS=1``) instead of ansible.cfg's 20;
- no fact cache (memory cache: every play gathers facts again).

The reruns of a round run in a rotated order (round 2 starts with the second setting, and so
on), so that a change in the machine's load during a round does not always fall on the same
setting. The lab is taken down after each round. Reported per setting: the median over rounds
of wall and CPU seconds (CPU of ansible-playbook and its children, less sensitive to other jobs
on the machine than wall time), each round's wall time, the recap's changed and failed counts,
and the load average when each run started. The target: a no-change rerun takes at most a
quarter of the first run.
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
FIRST = "first run (converge)"
AS_CONFIGURED = "rerun, as configured"
VARIANTS: dict[str, dict[str, str]] = {
    AS_CONFIGURED: {},
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
    load = os.getloadavg()[0]
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
        "load": round(load, 2),
    }


def run_round(number: int, rounds: int, results: dict[str, list[dict[str, Any]]]) -> None:
    """One fresh lab: the first run, then every rerun setting in this round's rotated order."""
    folder = Path(tempfile.mkdtemp(prefix="careops-fleet-bench-"))
    try:
        state = lab_up(folder)
        (folder / "agent.json").write_text(json.dumps(agent_mirror(folder)))
        labels = list(VARIANTS)
        order = labels[number % len(labels) :] + labels[: number % len(labels)]
        for label in [FIRST, *order]:
            run = run_fleet(state, folder, VARIANTS.get(label, {}))
            results.setdefault(label, []).append(run)
            print(f"round {number + 1}/{rounds}, {label}: {run}", flush=True)
    finally:
        lab_down(folder)


def summarise(results: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    first = statistics.median(r["seconds"] for r in results[FIRST])
    summary = {}
    for label, runs in results.items():
        wall = statistics.median(r["seconds"] for r in runs)
        summary[label] = {
            "seconds": round(wall, 1),
            "cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in runs), 1),
            "runs": [r["seconds"] for r in runs],
            "load": [r["load"] for r in runs],
            "changed": max(r["changed"] for r in runs),
            "failed": max(r["failed"] for r in runs),
            "hosts": runs[0]["hosts"],
            "of_first": round(wall / first, 2),
        }
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rounds", type=int, default=3, help="fresh labs, each with every run (medians reported)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results: dict[str, list[dict[str, Any]]] = {}
    for number in range(args.rounds):
        run_round(number, args.rounds, results)
    summary = summarise(results)
    print(json.dumps({"started": started, "rounds": args.rounds, "summary": summary}, indent=2))
    print()
    print(f"Started {started}, {args.rounds} round(s); medians over rounds.")
    print()
    print(
        "| Run | Hosts | Wall (s), median | Each round (s) | CPU (s), median | Changed | Failed | Of first |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    for label, run in summary.items():
        rounds = ", ".join(f"{s:g}" for s in run["runs"])
        print(
            f"| {label} | {run['hosts']} | {run['seconds']} | {rounds} | {run['cpu_seconds']} "
            f"| {run['changed']} | {run['failed']} | {run['of_first']:.2f} |"
        )
    print()
    print("Load average (1 min) when each run started:")
    for label, run in summary.items():
        print(f"- {label}: {', '.join(f'{load:.1f}' for load in run['load'])}")
    if args.json:
        args.json.write_text(
            json.dumps({"started": started, "rounds": args.rounds, "runs": results}, indent=2)
        )
    rerun = summary[AS_CONFIGURED]
    ok = rerun["changed"] == 0 and rerun["of_first"] <= 0.25
    verdict = "met" if ok else "NOT met"
    print(
        f"target (a no-change rerun changes nothing and takes at most a quarter of the first run): {verdict}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
