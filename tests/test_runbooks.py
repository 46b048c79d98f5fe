"""The incident runbooks against the lab: happy paths, cut-over and rollback, and every refusal.

Each refusal test proves two things: the operator reads a message that names the variable and
what would be acceptable, and the run made no AWS write at all (the lab's call log).

The runs use a secret key other than the lab's default ``lab``: Ansible masks the value of every
no_log parameter in module results, and ``lab`` occurs inside ``available``, so with that key every
status the runbooks wait for reads ``avai********le`` and no wait could ever end.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Lab, run_playbook

RUNBOOKS = "playbooks/runbooks"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rlab(lab: Lab) -> Lab:
    """The session lab (its throw-away keys are long enough that Ansible's masking never hits)."""
    return lab


def runbook(
    rlab: Lab, name: str, evidence: Path, extra: dict[str, Any], inventory: str = "inventories/lab"
) -> tuple[Any, dict[str, Any]]:
    """Run one runbook and return the process and its single evidence record."""
    result = run_playbook(
        rlab,
        f"{RUNBOOKS}/{name}.yml",
        {"evidence_dir": str(evidence), **extra},
        inventory=inventory,
    )
    records = sorted(evidence.glob("*.json"))
    assert len(records) == 1, (
        f"expected one evidence record\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}"
    )
    return result, json.loads(records[0].read_text())


def flat(text: str) -> str:
    return " ".join(text.split())


def assert_refused(rlab: Lab, result: Any, record: dict[str, Any], *phrases: str) -> None:
    """Refused: non-zero exit, a result of refused, the phrases in the message, no AWS write."""
    assert result.returncode != 0, result.stdout[-3000:]
    assert record["result"] == "refused", record
    for phrase in phrases:
        assert phrase in flat(record["message"]), record["message"]
        assert phrase.split("'")[0].split("=")[0] in flat(result.stdout)
    assert "refused, nothing was changed" in record["message"].lower()
    assert rlab.mutating_calls() == []


def assert_succeeded(result: Any, record: dict[str, Any]) -> None:
    assert result.returncode == 0, f"{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    assert record["result"] == "succeeded", record
    assert next(p["name"] for p in record["phases"]) == "Preflight"
    assert all(p["ended_at"] for p in record["phases"])
    assert record["ticket"] and record["actor"] and record["run_id"]


def iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


# ----------------------------------------------------------------------------- refusals


def test_pitr_refuses_a_missing_confirmation(rlab: Lab, tmp_path: Path) -> None:
    rlab.reset_calls()
    result, record = runbook(rlab, "pitr_restore", tmp_path, {"source_db": "prod-auth", "ticket": "INC-1"})
    assert_refused(rlab, result, record, "missing required arguments: confirm", "set confirm=prod-auth")


def test_pitr_refuses_a_confirmation_naming_another_resource(rlab: Lab, tmp_path: Path) -> None:
    rlab.reset_calls()
    result, record = runbook(
        rlab,
        "pitr_restore",
        tmp_path,
        {"source_db": "prod-auth", "confirm": "prod-billing", "ticket": "INC-1"},
    )
    assert_refused(rlab, result, record, "confirm='prod-billing' does not match source_db='prod-auth'")


def test_pitr_refuses_a_cutover_without_its_own_confirmation(rlab: Lab, tmp_path: Path) -> None:
    rlab.reset_calls()
    extra = {"source_db": "prod-auth", "confirm": "prod-auth", "ticket": "INC-1", "cutover": "true"}
    result, record = runbook(rlab, "pitr_restore", tmp_path, extra)
    assert_refused(rlab, result, record, "confirm_cutover is missing", "set confirm_cutover=prod-auth")


@pytest.mark.parametrize(
    ("restore_time", "phrase"),
    [
        ("2020-01-01T00:00:00Z", "is before the earliest restorable time of prod-auth"),
        ("future", "is in the future"),
        ("2026-12-03T10:15:00", "is not an ISO 8601 time with a UTC offset"),
    ],
    ids=["outside-window", "in-future", "no-utc-offset"],
)
def test_pitr_refuses_a_bad_restore_time(rlab: Lab, tmp_path: Path, restore_time: str, phrase: str) -> None:
    if restore_time == "future":
        restore_time = iso(dt.datetime.now(dt.UTC) + dt.timedelta(hours=2))
    rlab.reset_calls()
    extra = {
        "source_db": "prod-auth",
        "confirm": "prod-auth",
        "ticket": "INC-1",
        "restore_time": restore_time,
    }
    result, record = runbook(rlab, "pitr_restore", tmp_path, extra)
    assert_refused(rlab, result, record, f"restore_time='{restore_time}'", phrase)


def test_pitr_refuses_an_unknown_source(rlab: Lab, tmp_path: Path) -> None:
    rlab.reset_calls()
    extra = {"source_db": "prod-nonexistent", "confirm": "prod-nonexistent", "ticket": "INC-1"}
    result, record = runbook(rlab, "pitr_restore", tmp_path, extra)
    assert_refused(rlab, result, record, "source_db='prod-nonexistent' could not be read")


def test_pitr_refuses_a_target_that_exists(rlab: Lab, tmp_path: Path) -> None:
    rlab.reset_calls()
    extra = {"source_db": "prod-auth", "confirm": "prod-auth", "ticket": "INC-1", "target_db": "prod-billing"}
    result, record = runbook(rlab, "pitr_restore", tmp_path, extra)
    assert_refused(rlab, result, record, "target_db='prod-billing' already exists")


@pytest.mark.parametrize(
    ("extra", "phrase"),
    [
        # Another database, not a restore of the source: cutting it over would serve the wrong data.
        (
            {"restored_db": "prod-billing"},
            "restored_db='prod-billing' is not an instance restored from prod-auth",
        ),
        (
            {"restored_db": "prod-auth-pitr-202612010000"},
            "restored_db='prod-auth-pitr-202612010000' does not exist",
        ),
        (
            {"restored_db": "prod-billing", "cutover": False},
            "restored_db (an instance an earlier run restored) is only for cutover=true",
        ),
    ],
    ids=["not-a-restore-of-the-source", "unknown", "without-cutover"],
)
def test_pitr_cutover_of_an_earlier_restore_refuses_another_instance(
    rlab: Lab, tmp_path: Path, extra: dict[str, Any], phrase: str
) -> None:
    rlab.reset_calls()
    base = {"source_db": "prod-auth", "confirm": "prod-auth", "ticket": "INC-1", "cutover": True}
    result, record = runbook(rlab, "pitr_restore", tmp_path, base | {"confirm_cutover": "prod-auth"} | extra)
    assert_refused(rlab, result, record, phrase)


def test_pitr_refuses_a_source_without_automated_backups(rlab: Lab, tmp_path: Path) -> None:
    rlab.reset_calls()
    extra = {"source_db": "hml-scheduling", "confirm": "hml-scheduling", "ticket": "INC-1"}
    result, record = runbook(rlab, "pitr_restore", tmp_path, extra)
    assert_refused(rlab, result, record, "hml-scheduling keeps no automated backups")


def test_pitr_refuses_an_account_outside_the_allow_list(rlab: Lab, tmp_path: Path) -> None:
    rlab.reset_calls()
    extra = {"source_db": "prod-auth", "confirm": "prod-auth", "ticket": "INC-1"}
    result, record = runbook(rlab, "pitr_restore", tmp_path, extra, inventory="inventories/production")
    assert_refused(rlab, result, record, "account 123456789012", "not in careops_allowed_account_ids")


def test_drill_refuses_production_without_the_override(rlab: Lab, tmp_path: Path) -> None:
    rlab.reset_calls()
    extra = {"drill": "rds", "target": "prod-auth", "confirm": "prod-auth", "ticket": "CHG-7"}
    result, record = runbook(rlab, "failover_drill", tmp_path, extra)
    assert_refused(rlab, result, record, "target='prod-auth' is production", "needs allow_production=true")


def test_drill_refuses_a_single_az_database(rlab: Lab, tmp_path: Path) -> None:
    rlab.reset_calls()
    extra = {
        "drill": "rds",
        "target": "hml-clinical-records",
        "confirm": "hml-clinical-records",
        "ticket": "CHG-7",
    }
    result, record = runbook(rlab, "failover_drill", tmp_path, extra)
    assert_refused(rlab, result, record, "target='hml-clinical-records' is single-AZ")


def test_drill_refuses_to_start_while_a_stop_alarm_is_in_alarm(rlab: Lab, tmp_path: Path) -> None:
    cloudwatch = rlab.client("cloudwatch")
    alarm = "prod-clinical-records-cpu-high"
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="test: stop condition")
    try:
        rlab.reset_calls()
        extra = {
            "drill": "rds",
            "target": "prod-clinical-records",
            "confirm": "prod-clinical-records",
            "allow_production": "true",
            "ticket": "CHG-7",
        }
        result, record = runbook(rlab, "failover_drill", tmp_path, extra)
        assert_refused(rlab, result, record, f"stop alarm(s) {alarm} in ALARM")
    finally:
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="test done")


def test_drill_refuses_aurora_where_no_cluster_exists(rlab: Lab, tmp_path: Path) -> None:
    rlab.reset_calls()
    extra = {"drill": "aurora", "target": "prod-aurora", "confirm": "prod-aurora", "ticket": "CHG-7"}
    result, record = runbook(rlab, "failover_drill", tmp_path, extra)
    assert_refused(rlab, result, record, "no Aurora cluster named 'prod-aurora'")


def test_snapshot_refuses_an_unknown_target(rlab: Lab, tmp_path: Path) -> None:
    rlab.reset_calls()
    extra = {"targets": ["prod-auth", "prod-ghost"], "ticket": "CHG-8"}
    result, record = runbook(rlab, "snapshot", tmp_path, extra)
    assert_refused(rlab, result, record, "targets prod-ghost are neither DB instances")


# ----------------------------------------------------------------------------- happy paths


def test_snapshot_then_restore_from_it(rlab: Lab, tmp_path: Path) -> None:
    """Snapshot by tags (RDS and EBS), tagged and available; then restore that snapshot and verify it."""
    result, record = runbook(
        rlab,
        "snapshot",
        tmp_path / "snap",
        {
            "selector": {"Environment": "homologation", "Service": "main-app"},
            "ticket": "CHG-9",
            "poll_seconds": 1,
        },
    )
    assert_succeeded(result, record)
    made = record["metrics"]["snapshots"]
    rds_snapshot = next(s for s in made if s.startswith("careops-hml-clinical-records-"))
    assert any(s.startswith("snap-") for s in made), made
    tags = {
        t["Key"]: t["Value"]
        for t in rlab.client("rds").describe_db_snapshots(DBSnapshotIdentifier=rds_snapshot)["DBSnapshots"][
            0
        ]["TagList"]
    }
    assert tags["careops:run-id"] == record["run_id"]
    assert tags["careops:ticket"] == "CHG-9"

    rlab.reset_calls()
    result, record = runbook(
        rlab,
        "restore_snapshot",
        tmp_path / "restore",
        {
            "source_db": "hml-clinical-records",
            "snapshot_id": rds_snapshot,
            "confirm": "hml-clinical-records",
            "ticket": "INC-9",
            "poll_seconds": 1,
        },
    )
    assert_succeeded(result, record)
    metrics = record["metrics"]
    assert metrics["restored_db"].startswith("hml-clinical-records-snap-")
    assert [v["rows"] > 0 for v in metrics["verification"]] == [True, True]
    writes = rlab.mutating_calls()
    assert "rds:RestoreDBInstanceFromDBSnapshot" in writes
    assert all(w in ("rds:RestoreDBInstanceFromDBSnapshot", "rds:AddTagsToResource") for w in writes), writes


def test_pitr_restore_with_cutover_then_rollback(rlab: Lab, tmp_path: Path) -> None:
    """Restore two days back (a -03:00 offset), verify, cut over, prove the name serves it, roll back."""
    rds = rlab.client("rds")
    original = rds.describe_db_instances(DBInstanceIdentifier="prod-reports")["DBInstances"][0]
    point = dt.datetime.now(dt.timezone(dt.timedelta(hours=-3))) - dt.timedelta(hours=20)
    rlab.reset_calls()
    result, record = runbook(
        rlab,
        "pitr_restore",
        tmp_path / "cutover",
        {
            "source_db": "prod-reports",
            "restore_time": iso(point),
            "confirm": "prod-reports",
            "cutover": True,
            "confirm_cutover": "prod-reports",
            "ticket": "INC-10",
            "poll_seconds": 1,
        },
    )
    assert_succeeded(result, record)
    metrics = record["metrics"]
    assert metrics["restore_point"] == point.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert all(v["latest_epoch"] <= point.timestamp() for v in metrics["verification"])
    assert all(0 < v["rows"] < 400 for v in metrics["verification"])
    assert metrics["rpo_seconds"] >= 20 * 3600 - 5
    assert metrics["rto_met"] is True
    assert [p["name"] for p in record["phases"]] == ["Preflight", "Restore", "Verify", "Cutover", "Summary"]
    writes = rlab.mutating_calls()
    assert writes.count("rds:ModifyDBInstance") >= 2  # the two renames
    assert "rds:RestoreDBInstanceToPointInTime" in writes and "rds:CreateDBSnapshot" in writes
    assert not any(w.startswith(("rds:DeleteDBInstance", "rds:RebootDBInstance")) for w in writes)

    serving = rds.describe_db_instances(DBInstanceIdentifier="prod-reports")["DBInstances"][0]
    retired = rds.describe_db_instances(DBInstanceIdentifier=metrics["retired_db"])["DBInstances"][0]
    assert serving["DbiResourceId"] != original["DbiResourceId"]
    assert retired["DbiResourceId"] == original["DbiResourceId"]
    assert serving["DBName"] == metrics["restored_db"].replace("-", "_")

    rlab.reset_calls()
    result, record = runbook(
        rlab,
        "pitr_restore",
        tmp_path / "rollback",
        {
            "source_db": "prod-reports",
            "rollback": True,
            "retired_db": metrics["retired_db"],
            "confirm": "prod-reports",
            "ticket": "INC-10",
            "poll_seconds": 1,
        },
    )
    assert_succeeded(result, record)
    back = rds.describe_db_instances(DBInstanceIdentifier="prod-reports")["DBInstances"][0]
    assert back["DbiResourceId"] == original["DbiResourceId"]
    restored = rds.describe_db_instances(DBInstanceIdentifier=metrics["restored_db"])["DBInstances"][0]
    assert restored["DbiResourceId"] == serving["DbiResourceId"]
    assert not any(w.startswith(("rds:Restore", "rds:Delete", "rds:Reboot")) for w in rlab.mutating_calls())


def test_failover_drill_on_a_multi_az_database(rlab: Lab, tmp_path: Path) -> None:
    before = rlab.client("rds").describe_db_instances(DBInstanceIdentifier="prod-pharmacy-stock")[
        "DBInstances"
    ][0]
    rlab.reset_calls()
    started = time.monotonic()
    result, record = runbook(
        rlab,
        "failover_drill",
        tmp_path,
        {
            "drill": "rds",
            "target": "prod-pharmacy-stock",
            "confirm": "prod-pharmacy-stock",
            "allow_production": "true",
            "ticket": "CHG-11",
            "poll_seconds": 0.5,
        },
    )
    assert_succeeded(result, record)
    metrics = record["metrics"]
    assert metrics["az_before"] == before["AvailabilityZone"]
    assert metrics["az_after"] == before["SecondaryAvailabilityZone"]
    assert metrics["primary_moved"] is True
    assert metrics["probe_baseline_ok"] is True
    # The lab refuses connections for transition_seconds (1) during the reboot.
    assert 0.5 <= metrics["probe_downtime_seconds"] <= 10
    assert metrics["rto_measured_seconds"] <= metrics["rto_objective_seconds"]
    assert metrics["rto_measured_seconds"] < time.monotonic() - started
    assert rlab.mutating_calls() == ["rds:RebootDBInstance"]


def test_instance_loss_drill_on_an_auto_scaling_group(rlab: Lab, tmp_path: Path) -> None:
    rlab.reset_calls()
    result, record = runbook(
        rlab,
        "failover_drill",
        tmp_path,
        {
            "drill": "asg",
            "target": "prod-main-asg",
            "confirm": "prod-main-asg",
            "allow_production": "true",
            "ticket": "CHG-12",
            "poll_seconds": 0.5,
        },
    )
    assert_succeeded(result, record)
    metrics = record["metrics"]
    assert metrics["terminated_instance"] in metrics["instances_before"]
    assert metrics["terminated_instance"] not in metrics["healthy_instances_after"]
    assert len(metrics["healthy_instances_after"]) == metrics["desired_capacity"] == 2
    assert metrics["healthy_targets_after"] == {"prod-main-tg": 2}
    assert rlab.mutating_calls() == ["autoscaling:TerminateInstanceInAutoScalingGroup"]


def test_every_runbook_spec_lists_the_common_inputs() -> None:
    """AWX surveys are compared with these specs: each must carry the inputs every runbook takes."""
    specs = Path(__file__).resolve().parent.parent / RUNBOOKS / "specs"
    for name in ("snapshot", "pitr_restore", "restore_snapshot", "failover_drill"):
        import yaml  # noqa: PLC0415 - only this test reads YAML

        options = yaml.safe_load((specs / f"{name}.yml").read_text())["argument_specs"]["main"]["options"]
        assert options["ticket"]["required"] is True, name
        assert {"evidence_dir", "evidence_s3_bucket", "evidence_log_group", "aws_region"} <= set(options), (
            name
        )
        assert all(option.get("description") for option in options.values()), name
