#!/usr/bin/env python3
"""Benchmark: the incident runbooks' own overhead on the lab, apart from the emulated AWS waits.

One command (about 18 minutes on an idle 2-core machine with the defaults: 8 rows, two
transition settings, 3 rounds, 10 to 50 s a run)::

    .venv/bin/python bench/runbook_overhead.py                                # every case, 3 rounds
    .venv/bin/python bench/runbook_overhead.py --rounds 1 --cases snapshot    # a quick check
    .venv/bin/python bench/runbook_overhead.py --transition 10 --json out.json

It brings up a lab of its own (AWS side and PostgreSQL, no fleet: no case needs it, the
instance-loss drill included, whose auto scaling group runs emulated instances), then runs each
case at transition 0 s and at ``--transition`` seconds, one after the other, for ``--rounds``
rounds, alternating which setting goes first. The lab keeps an RDS resource in its transitional
state (creating, modifying, renaming, rebooting, failing-over, snapshot creating) for the
transition time, changed between runs through ``/lab-api/settings``. At 0 s nothing waits, so the
wall time of a run is the runbook's overhead: Ansible start-up and the inventory build, one
Python process per module call, the emulator's answers and the SQL checks.

The decomposition is checked, not assumed. The lab's call log names every call that starts a
transition (RestoreDBInstanceToPointInTime, ModifyDBInstance, CreateDBSnapshot, ...); the
difference between the two settings' median wall times must come to about that count times the
transition. Not exactly: the transition's clock starts at the call, so the runbook's own work
between the call and its first poll (the next task's start-up, a second or two) hides behind it,
and each wait ends up to one poll interval plus one poll after the resource settled. The band
allows both, per transition, and run-to-run noise on top; the extra status polls at the longer
setting (AWS calls, both settings) show that each wait really happened. A row outside the band
says the runbook waits for something the count misses, or stops waiting early. A longer
``--transition`` (10 or 20 s) narrows the band relative to the wait.

Per row it reports the median wall time at each setting, the CPU seconds of ansible-playbook
and its children (``RUSAGE_CHILDREN``; the async connection probe of the drills detaches and
is not counted), the emulator's CPU over the run, the run's time inside the play (evidence
record), the transitions, the check, and the load average at the start of every run.

Every run must succeed: exit code 0 and an evidence record that says ``succeeded``. A failed run
stops the benchmark with its output tail and is never timed. Each run restores what it
creates under a fresh name (restored instances, snapshots) and the benchmark deletes those
afterwards, resets the tags the runbooks add to existing instances, and then compares the lab with
its state before the first run; a cut-over is always followed by its rollback. The drills move a
primary or a writer to the other AZ, so every round (two drills per case) ends where it began.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "tests"))
from conftest import Lab, run_playbook, start_lab  # noqa: E402 - the lab's own start-up, from the tests

from lab import SECRET_ACCESS_KEY  # noqa: E402 - the lab package lives at ROOT

RUNBOOKS = "playbooks/runbooks"
SPECS = ROOT / RUNBOOKS / "specs"
# A ticket as runbook_preflight accepts it (letters, then groups with at least one digit).
TICKET = "CHG-BENCH-1"
# The lab's poll intervals in tests: the int-typed runbooks (snapshot, restores) poll at 1 s,
# the drills at 0.5 s in-process.
POLL_SECONDS = 1
DRILL_POLL_SECONDS = 0.5
# Most one task may cost: one module process (Python, Ansible, boto3) on an idle core takes about
# a second; the bound leaves room for a busy one. A wait overshoots by at most one poll of this
# cost (plus its interval), and hides at most one such task behind the transition before it.
TASK_COST_SECONDS = 2.0
# Calls after which the lab holds an RDS resource in a transitional state (lab/emulator.py).
# A cluster failover holds the cluster and two members at once: one wait, one call.
TRANSITION_ACTIONS = frozenset(
    {
        "CreateDBInstance",
        "RestoreDBInstanceToPointInTime",
        "RestoreDBInstanceFromDBSnapshot",
        "ModifyDBInstance",
        "RebootDBInstance",
        "CreateDBSnapshot",
        "CopyDBSnapshot",
        "CreateDBCluster",
        "CreateDBClusterSnapshot",
        "CopyDBClusterSnapshot",
        "FailoverDBCluster",
    }
)
# Statuses the runbooks wait for: Ansible masks every no_log value wherever it occurs in module
# results, so a secret key inside one of them ("lab" in "available") would make no wait end.
WAITED_STATUSES = ("available", "completed", "InService", "Healthy", "healthy")


class BenchError(RuntimeError):
    """A run failed or the lab was left changed: the benchmark stops and shows why."""


# ----------------------------------------------------------------------------- cases


@dataclass
class Context:
    """What one step's extra vars are made of: fresh names, times, and the step before."""

    target_db: str
    restore_time: str
    snapshot_id: str
    previous: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    """One runbook run, reported as one row."""

    row: str
    runbook: str
    extra_vars: Callable[[Context], dict[str, Any]]


@dataclass(frozen=True)
class Case:
    """A selectable case: its steps run in order at one transition setting."""

    description: str
    source: str
    steps: tuple[Step, ...]


def _snapshot(_c: Context) -> dict[str, Any]:
    return {"targets": ["prod-clinical-records"], "ticket": TICKET, "poll_seconds": POLL_SECONDS}


def _pitr(c: Context, source: str, cutover: bool) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "source_db": source,
        "confirm": source,
        "restore_time": c.restore_time,
        "target_db": c.target_db,
        "ticket": TICKET,
        "poll_seconds": POLL_SECONDS,
    }
    if cutover:
        extra |= {"cutover": True, "confirm_cutover": source}
    return extra


def _rollback(c: Context) -> dict[str, Any]:
    retired = c.previous.get("metrics", {}).get("retired_db")
    if not retired:
        raise BenchError(f"the cut-over's evidence names no retired_db to roll back: {c.previous}")
    return {
        "source_db": "prod-reports",
        "rollback": True,
        "retired_db": retired,
        "confirm": "prod-reports",
        "ticket": TICKET,
        "poll_seconds": POLL_SECONDS,
    }


def _restore_snapshot(c: Context) -> dict[str, Any]:
    return {
        "source_db": "prod-scheduling",
        "snapshot_id": c.snapshot_id,
        "confirm": "prod-scheduling",
        "target_db": c.target_db,
        "ticket": TICKET,
        "poll_seconds": POLL_SECONDS,
    }


def _drill(kind: str, target: str, production: bool) -> Callable[[Context], dict[str, Any]]:
    def extra(_c: Context) -> dict[str, Any]:
        values: dict[str, Any] = {
            "drill": kind,
            "target": target,
            "confirm": target,
            "ticket": TICKET,
            "poll_seconds": DRILL_POLL_SECONDS,
        }
        return values | ({"allow_production": True} if production else {})

    return extra


CASES: dict[str, Case] = {
    "snapshot": Case(
        "manual snapshot of one DB instance",
        "prod-clinical-records",
        (Step("snapshot", "snapshot", _snapshot),),
    ),
    "pitr": Case(
        "point-in-time restore one hour back, verified, no cut-over",
        "prod-auth",
        (Step("pitr_restore verified", "pitr_restore", lambda c: _pitr(c, "prod-auth", cutover=False)),),
    ),
    "pitr_cutover": Case(
        "point-in-time restore with cut-over, then its rollback",
        "prod-reports",
        (
            Step("pitr_restore cut-over", "pitr_restore", lambda c: _pitr(c, "prod-reports", cutover=True)),
            Step("pitr_restore rollback", "pitr_restore", _rollback),
        ),
    ),
    "restore_snapshot": Case(
        "restore from a manual DB snapshot, verified, no cut-over",
        "prod-scheduling",
        (Step("restore_snapshot", "restore_snapshot", _restore_snapshot),),
    ),
    "drill_rds": Case(
        "Multi-AZ failover drill",
        "prod-billing",
        (Step("failover_drill rds", "failover_drill", _drill("rds", "prod-billing", production=True)),),
    ),
    "drill_aurora": Case(
        "Aurora cluster failover drill",
        "hml-reports-aurora",
        (Step("failover_drill aurora", "failover_drill", _drill("aurora", "hml-reports-aurora", False)),),
    ),
    "drill_asg": Case(
        "instance-loss drill (no RDS transition: the control row)",
        "prod-main-asg",
        (Step("failover_drill asg", "failover_drill", _drill("asg", "prod-main-asg", production=True)),),
    ),
}


@cache
def spec_options(runbook: str) -> frozenset[str]:
    """Input names the runbook's argument spec accepts."""
    spec = yaml.safe_load((SPECS / f"{runbook}.yml").read_text())
    return frozenset(spec["argument_specs"]["main"]["options"])


def check_cases_against_specs(names: list[str]) -> None:
    """Refuse, before the lab starts, a case whose extra vars a runbook's spec does not know."""
    dummy = Context("x", "2026-01-01T00:00:00Z", "x", {"metrics": {"retired_db": "x"}})
    for name in names:
        for step in CASES[name].steps:
            unknown = set(step.extra_vars(dummy)) - spec_options(step.runbook)
            if unknown:
                raise BenchError(f"{step.row}: {sorted(unknown)} not in {SPECS / step.runbook}.yml")


# ----------------------------------------------------------------------------- runs


@dataclass
class Run:
    """One timed, successful run."""

    row: str
    transition: float
    round_number: int
    wall_seconds: float
    cpu_seconds: float
    emulator_cpu_seconds: float
    play_seconds: float
    load_average: float
    transitions: int
    transition_calls: dict[str, int]
    aws_calls: int
    aws_writes: int
    run_id: str


def emulator_cpu(pid: int) -> float:
    """User + system seconds of the lab's server process so far (it is not our child)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tail(done: subprocess.CompletedProcess) -> str:
    return f"--- stdout (tail) ---\n{done.stdout[-4000:]}\n--- stderr (tail) ---\n{done.stderr[-2000:]}"


@dataclass
class Bench:
    """The lab, the run counter and the lab's state before the first run."""

    lab: Lab
    folder: Path
    timeout: int
    stamp: str = field(default_factory=lambda: time.strftime("%H%M%S"))
    count: int = 0
    snapshot_id: str = ""
    baseline: dict[str, Any] = field(default_factory=dict)
    cleanups: Counter[str] = field(default_factory=Counter)

    def set_transition(self, seconds: float) -> None:
        answer = self.lab.api("settings", {"transition_seconds": seconds})
        if float(answer["transition_seconds"]) != seconds:
            raise BenchError(f"the lab did not take transition_seconds={seconds}: {answer}")

    def fresh_name(self, source: str) -> str:
        return f"{source}-bench-{self.stamp}-{self.count}"

    def execute(
        self, runbook: str, extra: dict[str, Any], label: str
    ) -> tuple[subprocess.CompletedProcess, Path]:
        """Run a runbook as an operator would from a shell, with an empty inventory cache."""
        self.count += 1
        evidence = self.folder / "evidence" / f"{self.count:03d}-{label.replace(' ', '-')}"
        # A fresh cache per run: every run builds the inventory (the lab's cache lasts 60 s,
        # shorter than a run), so no run is faster for following another closely.
        env = {**self.lab.env, "ANSIBLE_INVENTORY_CACHE_CONNECTION": str(self.folder / f"inv-{self.count}")}
        try:
            done = run_playbook(
                replace(self.lab, env=env),
                f"{RUNBOOKS}/{runbook}.yml",
                {"evidence_dir": str(evidence), **extra},
                timeout=self.timeout,
            )
        except subprocess.TimeoutExpired as error:
            raise BenchError(f"{label}: no end after {self.timeout} s; the lab is left as it was") from error
        return done, evidence

    def run(self, step: Step, context: Context, transition: float, round_: int) -> tuple[Run, dict[str, Any]]:
        """One timed run; a run that did not succeed raises with its output tail."""
        extra = step.extra_vars(context)
        self.lab.reset_calls()
        load = os.getloadavg()[0]
        server_before = emulator_cpu(self.lab.state["pid"])
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        done, evidence = self.execute(step.runbook, extra, step.row)
        wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        server = emulator_cpu(self.lab.state["pid"]) - server_before
        calls = self.lab.calls()
        records = sorted(evidence.glob("*.json"))
        record = json.loads(records[0].read_text()) if len(records) == 1 else {}
        if done.returncode != 0 or record.get("result") != "succeeded":
            raise BenchError(
                f"{step.row} at transition {transition} s failed (rc {done.returncode}, "
                f"{len(records)} evidence record(s), result {record.get('result')!r}, "
                f"message {record.get('message')!r}); not timed.\n{tail(done)}"
            )
        started_transitions = Counter(
            c["action"]
            for c in calls
            if c["service"] == "rds" and c["action"] in TRANSITION_ACTIONS and c.get("status", 500) < 400
        )
        measured = Run(
            row=step.row,
            transition=transition,
            round_number=round_,
            wall_seconds=round(wall, 2),
            cpu_seconds=round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 2),
            emulator_cpu_seconds=round(server, 2),
            play_seconds=round(float(record.get("duration_seconds", 0)), 2),
            load_average=round(load, 2),
            transitions=sum(started_transitions.values()),
            transition_calls=dict(started_transitions),
            aws_calls=len(calls),
            aws_writes=sum(1 for c in calls if c["mutating"]),
            run_id=record["run_id"],
        )
        return measured, record

    def warm_up(self) -> float:
        """One refused run, untimed in the results: fills the page cache and costs no AWS write."""
        started = time.monotonic()
        done, evidence = self.execute("snapshot", {"targets": ["prod-ghost"], "ticket": TICKET}, "warm-up")
        records = [json.loads(p.read_text()) for p in evidence.glob("*.json")]
        # Refused for the unknown target, so that the run got as far as the RDS reads (boto3 loaded).
        refused = [r.get("result") for r in records] == ["refused"] and "prod-ghost" in records[0]["message"]
        if done.returncode == 0 or not refused:
            raise BenchError(f"the warm-up run was not refused for its unknown target.\n{tail(done)}")
        return time.monotonic() - started

    # ------------------------------------------------------------------------- lab state

    def rds(self) -> Any:
        return self.lab.client("rds")

    def fingerprint(self) -> dict[str, Any]:
        """What the runs must leave as they found it: instances (by resource ID) with their tags,
        and every DB, cluster and EBS snapshot."""
        rds, ec2 = self.rds(), self.lab.client("ec2")
        instances = {}
        for page in rds.get_paginator("describe_db_instances").paginate():
            for db in page["DBInstances"]:
                tags = rds.list_tags_for_resource(ResourceName=db["DBInstanceArn"])["TagList"]
                instances[db["DBInstanceIdentifier"]] = {
                    "resource_id": db["DbiResourceId"],
                    "arn": db["DBInstanceArn"],
                    "protected": db.get("DeletionProtection", False),
                    "tags": {t["Key"]: t["Value"] for t in tags},
                }
        snapshots = {
            s["DBSnapshotIdentifier"]
            for page in rds.get_paginator("describe_db_snapshots").paginate()
            for s in page["DBSnapshots"]
        }
        cluster_snapshots = {
            s["DBClusterSnapshotIdentifier"]
            for page in rds.get_paginator("describe_db_cluster_snapshots").paginate()
            for s in page["DBClusterSnapshots"]
        }
        volume_snapshots = {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
        return {
            "instances": instances,
            "snapshots": snapshots,
            "cluster_snapshots": cluster_snapshots,
            "volume_snapshots": volume_snapshots,
        }

    def restore_lab(self) -> None:
        """Delete what the last case created, put back the tags it added, and prove the lab is as
        it was before the first run."""
        rds, now, base = self.rds(), self.fingerprint(), self.baseline
        for name, was in base["instances"].items():
            current = now["instances"].get(name)
            if current is None or current["resource_id"] != was["resource_id"]:
                raise BenchError(
                    f"{name} is {'gone' if current is None else 'another instance'} after the case: "
                    "a cut-over was not rolled back"
                )
            added = sorted(set(current["tags"]) - set(was["tags"]))
            if added:
                rds.remove_tags_from_resource(ResourceName=was["arn"], TagKeys=added)
                self.cleanups[f"tags {', '.join(added)} removed from {name}"] += 1
            changed = {k: v for k, v in was["tags"].items() if current["tags"].get(k) != v}
            if changed:
                rds.add_tags_to_resource(
                    ResourceName=was["arn"], Tags=[{"Key": k, "Value": v} for k, v in changed.items()]
                )
                self.cleanups[f"tags {', '.join(sorted(changed))} reset on {name}"] += 1
        for name in sorted(set(now["instances"]) - set(base["instances"])):
            if now["instances"][name]["protected"]:
                rds.modify_db_instance(
                    DBInstanceIdentifier=name, DeletionProtection=False, ApplyImmediately=True
                )
            rds.delete_db_instance(
                DBInstanceIdentifier=name, SkipFinalSnapshot=True, DeleteAutomatedBackups=True
            )
            self.cleanups["restored instance deleted"] += 1
        left = self.fingerprint()
        for snapshot in sorted(left["snapshots"] - base["snapshots"]):
            rds.delete_db_snapshot(DBSnapshotIdentifier=snapshot)
            self.cleanups["DB snapshot deleted"] += 1
        for snapshot in sorted(left["cluster_snapshots"] - base["cluster_snapshots"]):
            rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=snapshot)
            self.cleanups["cluster snapshot deleted"] += 1
        ec2 = self.lab.client("ec2")
        for snapshot in sorted(left["volume_snapshots"] - base["volume_snapshots"]):
            ec2.delete_snapshot(SnapshotId=snapshot)
            self.cleanups["EBS snapshot deleted"] += 1
        final = self.fingerprint()
        if final != base:
            differs = [key for key in base if final[key] != base[key]]
            raise BenchError(f"the lab differs from its state before the runs after clean-up: {differs}")

    def prepare_snapshot(self) -> str:
        """A manual snapshot of the restore_snapshot case's source, made before the baseline."""
        self.set_transition(0)
        name = f"prod-scheduling-bench-source-{self.stamp}"
        self.rds().create_db_snapshot(DBInstanceIdentifier="prod-scheduling", DBSnapshotIdentifier=name)
        status = self.rds().describe_db_snapshots(DBSnapshotIdentifier=name)["DBSnapshots"][0]["Status"]
        if status != "available":
            raise BenchError(f"the restore_snapshot case's source snapshot {name} is {status}")
        return name

    def primaries(self) -> dict[str, str]:
        """Where the drilled primaries are: each round's two drills must bring them back."""
        rds = self.rds()
        db = rds.describe_db_instances(DBInstanceIdentifier="prod-billing")["DBInstances"][0]
        cluster = rds.describe_db_clusters(DBClusterIdentifier="hml-reports-aurora")["DBClusters"][0]
        writer = next(m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"] if m["IsClusterWriter"])
        return {"prod-billing": db["AvailabilityZone"], "hml-reports-aurora": writer}


# ----------------------------------------------------------------------------- report


def summarise(runs: list[Run], transition: float) -> list[dict[str, Any]]:
    """Per row: medians at both settings, transitions, and the decomposition check."""
    rows: list[dict[str, Any]] = []
    for row in dict.fromkeys(r.row for r in runs):
        zero = [r for r in runs if r.row == row and r.transition == 0]
        long = [r for r in runs if r.row == row and r.transition == transition]
        if not zero or not long:
            continue
        wall0 = statistics.median(r.wall_seconds for r in zero)
        wall_t = statistics.median(r.wall_seconds for r in long)
        counts = sorted({r.transitions for r in zero + long})
        n = int(statistics.median(r.transitions for r in long))
        delta = wall_t - wall0
        expected = n * transition
        poll = DRILL_POLL_SECONDS if row.startswith("failover_drill") else POLL_SECONDS
        # Run-to-run noise: a tenth of the overhead, at least a second.
        noise = max(1.0, 0.1 * wall0)
        low = expected - n * min(TASK_COST_SECONDS, transition) - noise
        high = expected + n * (poll + TASK_COST_SECONDS) + noise
        rows.append(
            {
                "row": row,
                "runs_per_setting": len(zero),
                "wall_0": round(wall0, 1),
                "wall_t": round(wall_t, 1),
                "play_0": round(statistics.median(r.play_seconds for r in zero), 1),
                "cpu_0": round(statistics.median(r.cpu_seconds for r in zero), 1),
                "cpu_t": round(statistics.median(r.cpu_seconds for r in long), 1),
                "emulator_cpu_0": round(statistics.median(r.emulator_cpu_seconds for r in zero), 1),
                "transitions": n,
                "transition_counts_seen": counts,
                "transition_calls": long[0].transition_calls,
                "delta": round(delta, 1),
                "expected_delta": round(expected, 1),
                "band": [round(low, 1), round(high, 1)],
                "check": "ok" if low <= delta <= high else "OUT OF BAND",
                "aws_calls_0": int(statistics.median(r.aws_calls for r in zero)),
                "aws_calls_t": int(statistics.median(r.aws_calls for r in long)),
                "load": [min(r.load_average for r in zero + long), max(r.load_average for r in zero + long)],
            }
        )
    return rows


def print_table(rows: list[dict[str, Any]], transition: float) -> None:
    """The summary as a Markdown table, then what started each row's transitions."""
    t = f"{transition:g}"
    columns: list[tuple[str, str, Callable[[dict[str, Any]], str]]] = [
        ("Run", "---", lambda r: r["row"]),
        ("rounds", "---:", lambda r: str(r["runs_per_setting"])),
        ("overhead = wall at 0 s", "---:", lambda r: f"{r['wall_0']} s"),
        (f"wall at {t} s", "---:", lambda r: f"{r['wall_t']} s"),
        ("in the play at 0 s", "---:", lambda r: f"{r['play_0']} s"),
        (f"CPU 0 s / {t} s", "---:", lambda r: f"{r['cpu_0']} / {r['cpu_t']} s"),
        ("emulator CPU", "---:", lambda r: f"{r['emulator_cpu_0']} s"),
        (f"AWS calls 0 s / {t} s", "---:", lambda r: f"{r['aws_calls_0']} / {r['aws_calls_t']}"),
        (
            "transitions",
            "---:",
            lambda r: (
                str(r["transitions"])
                + ("" if len(r["transition_counts_seen"]) == 1 else f" (seen {r['transition_counts_seen']})")
            ),
        ),
        (f"wall {t} s - wall 0 s", "---:", lambda r: f"{r['delta']} s"),
        (f"transitions x {t} s", "---:", lambda r: f"{r['expected_delta']} s"),
        ("check [band]", "---", lambda r: f"{r['check']} [{r['band'][0]}, {r['band'][1]}]"),
        ("load average", "---", lambda r: f"{r['load'][0]}-{r['load'][1]}"),
    ]
    print("| " + " | ".join(c[0] for c in columns) + " |")
    print("|" + "|".join(c[1] for c in columns) + "|")
    for row in rows:
        print("| " + " | ".join(c[2](row) for c in columns) + " |")
    print()
    print(
        f"Band: transitions x ({t} s - up to {TASK_COST_SECONDS:g} s of the runbook's own work hidden behind "
        f"each) to transitions x ({t} s + one poll interval + {TASK_COST_SECONDS:g} s), "
        "plus a tenth of the overhead (at least 1 s) for noise."
    )
    for row in rows:
        calls = ", ".join(f"{k} {v}" for k, v in sorted(row["transition_calls"].items())) or "none"
        print(f"- {row['row']}: transitions started by {calls}")


# ----------------------------------------------------------------------------- main


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs per case and setting (default 3)")
    parser.add_argument(
        "--transition", type=float, default=5.0, help="the longer transition, seconds (default 5)"
    )
    parser.add_argument(
        "--cases",
        default=",".join(CASES),
        help=f"comma-separated, from {', '.join(CASES)} (default: all)",
    )
    parser.add_argument("--timeout", type=int, default=900, help="seconds one run may take")
    parser.add_argument("--no-warm-up", action="store_true", help="skip the untimed refused run first")
    parser.add_argument("--json", type=Path, help="also write every run and the summary to this file")
    args = parser.parse_args(argv)
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in args.cases if c not in CASES]
    if unknown or not args.cases:
        parser.error(f"unknown case(s) {unknown}; choose from {', '.join(CASES)}")
    if args.transition <= 0 or args.rounds < 1:
        parser.error("--transition must be above 0 and --rounds at least 1")
    return args


def an_hour_ago() -> str:
    """The point-in-time restores' restore_time: inside every source's window, in UTC."""
    return (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def measure(bench: Bench, args: argparse.Namespace) -> list[Run]:
    """Every case at both settings, round after round, the order alternating."""
    runs: list[Run] = []
    drilled = bench.primaries()
    for round_ in range(1, args.rounds + 1):
        settings = [0.0, args.transition] if round_ % 2 else [args.transition, 0.0]
        for name in args.cases:
            case = CASES[name]
            for transition in settings:
                bench.set_transition(transition)
                context = Context(
                    target_db=bench.fresh_name(case.source),
                    restore_time=an_hour_ago(),
                    snapshot_id=bench.snapshot_id,
                )
                for step in case.steps:
                    measured, record = bench.run(step, context, transition, round_)
                    context.previous = record
                    runs.append(measured)
                    print(
                        f"round {round_}/{args.rounds} {step.row:<24} at {transition:g} s: "
                        f"{measured.wall_seconds:6.1f} s wall, {measured.cpu_seconds:5.1f} s CPU, "
                        f"{measured.transitions} transition(s), load {measured.load_average}",
                        flush=True,
                    )
                bench.set_transition(0)
                bench.restore_lab()
        if bench.primaries() != drilled:
            raise BenchError(f"the drills left primaries at {bench.primaries()}, not {drilled}")
    return runs


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started = time.monotonic()
    check_cases_against_specs(args.cases)
    if any(SECRET_ACCESS_KEY in status for status in WAITED_STATUSES):
        raise BenchError("the lab's secret key occurs in a status the runbooks wait for; see lab/__init__.py")
    folder = Path(tempfile.mkdtemp(prefix="careops-bench-runbooks-"))
    failed, warm = True, None
    try:
        with start_lab(
            folder / "lab", f"rbench{os.getpid()}", "--no-fleet", "--transition-seconds", "0"
        ) as lab:
            bench = Bench(lab=lab, folder=folder, timeout=args.timeout)
            print(f"lab up at {lab.endpoint} in {time.monotonic() - started:.1f} s (no fleet)", flush=True)
            bench.snapshot_id = bench.prepare_snapshot()
            if not args.no_warm_up:
                warm = round(bench.warm_up(), 1)
            if warm is not None:
                print(f"warm-up (a refused run, no AWS write): {warm} s wall", flush=True)
            bench.baseline = bench.fingerprint()
            runs = measure(bench, args)
        failed = False
    except BenchError as error:
        print(f"FAILED: {error}", file=sys.stderr)
        print(f"runs' evidence kept in {folder / 'evidence'}", file=sys.stderr)
        return 1
    finally:
        if not failed:
            shutil.rmtree(folder, ignore_errors=True)
    rows = summarise(runs, args.transition)
    total = time.monotonic() - started
    print()
    print_table(rows, args.transition)
    print()
    print("Clean-up after the runs (the benchmark's, not the runbooks'):")
    for what, times in sorted(bench.cleanups.items()):
        print(f"- {what}: {times} time(s)")
    print(f"\nbenchmark wall time {total:.0f} s; {os.cpu_count()} CPUs; warm-up {warm} s")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "transition_seconds": args.transition,
                    "rounds": args.rounds,
                    "cases": args.cases,
                    "warm_up_seconds": warm,
                    "wall_seconds": round(total, 1),
                    "cpus": os.cpu_count(),
                    "summary": rows,
                    "runs": [asdict(r) for r in runs],
                },
                indent=2,
            )
        )
    return 0 if all(r["check"] == "ok" for r in rows) else 2


if __name__ == "__main__":
    sys.exit(main())
