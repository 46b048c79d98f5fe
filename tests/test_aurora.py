"""Aurora on the lab: the emulated cluster failover, and the failover drill's Aurora path.

The lab seeds three Aurora PostgreSQL clusters (lab/estate.py): prod-analytics-aurora and
hml-reports-aurora with a writer and a reader in two AZs, and hml-analytics-aurora with a writer
only. The drill's refusals must leave the call log without a single write; its happy path must
move the writer to another AZ, measure the recovery and the probe's downtime, and leave evidence.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import Lab, run_playbook

pytestmark = pytest.mark.slow

DRILL = "playbooks/runbooks/failover_drill.yml"


def drill(
    lab: Lab, evidence: Path, extra: dict[str, Any], *, check: bool = False
) -> tuple[Any, dict[str, Any]]:
    """Run the drill once and return the process and its single evidence record."""
    result = run_playbook(
        lab, DRILL, {"evidence_dir": str(evidence), "poll_seconds": 0.5, **extra}, check=check
    )
    records = sorted(evidence.glob("*.json"))
    assert len(records) == 1, (
        f"expected one evidence record\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}"
    )
    return result, json.loads(records[0].read_text())


def writer(lab: Lab, cluster: str) -> tuple[str, str]:
    """The cluster's writer and its AZ."""
    rds = lab.client("rds")
    members = rds.describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0]["DBClusterMembers"]
    name = next(m["DBInstanceIdentifier"] for m in members if m["IsClusterWriter"])
    return name, rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]["AvailabilityZone"]


def assert_refused(lab: Lab, result: Any, record: dict[str, Any], phrase: str) -> None:
    assert result.returncode != 0, result.stdout[-3000:]
    assert record["result"] == "refused", record
    assert phrase in " ".join(record["message"].split()), record["message"]
    assert "refused, nothing was changed" in record["message"]
    assert lab.mutating_calls() == []


# ----------------------------------------------------------------------------- the emulator


def test_lab_seeds_aurora_clusters_like_the_estate(lab: Lab) -> None:
    rds = lab.client("rds")
    clusters = {c["DBClusterIdentifier"]: c for c in rds.describe_db_clusters()["DBClusters"]}
    assert set(lab.state["estate"]["clusters"]) <= set(clusters)
    for name, members in lab.state["estate"]["clusters"].items():
        cluster = clusters[name]
        assert cluster["Engine"] == "aurora-postgresql" and cluster["EngineVersion"].startswith("15.")
        assert cluster["StorageEncrypted"] and cluster["KmsKeyId"] and cluster["BackupRetentionPeriod"] >= 7
        tags = {t["Key"] for t in cluster["TagList"]}
        assert {"Environment", "Service", "Owner", "DataClassification", "Backup"} <= tags
        assert {m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"]} == set(members)
    members = rds.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": ["hml-reports-aurora"]}])
    assert len({i["AvailabilityZone"] for i in members["DBInstances"]}) == 2


def test_lab_refuses_the_failover_of_a_single_member_cluster(lab: Lab) -> None:
    with pytest.raises(ClientError) as refused:
        lab.client("rds").failover_db_cluster(DBClusterIdentifier="hml-analytics-aurora")
    assert refused.value.response["Error"]["Code"] == "InvalidDBClusterStateFault"


# ----------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("extra", "phrase"),
    [
        (
            {"target": "hml-analytics-aurora", "confirm": "hml-analytics-aurora"},
            "cluster hml-analytics-aurora has a single member",
        ),
        (
            {"target": "prod-analytics-aurora", "confirm": "prod-analytics-aurora"},
            "target='prod-analytics-aurora' is production",
        ),
        (
            {"target": "hml-reports-aurora", "confirm": "prod-analytics-aurora"},
            "confirm='prod-analytics-aurora' does not match target='hml-reports-aurora'",
        ),
    ],
    ids=["single-member", "production-without-override", "confirm-names-another-cluster"],
)
def test_aurora_drill_refusals_write_nothing(
    lab: Lab, tmp_path: Path, extra: dict[str, Any], phrase: str
) -> None:
    lab.reset_calls()
    result, record = drill(lab, tmp_path, {"drill": "aurora", "ticket": "CHG-51", **extra})
    assert_refused(lab, result, record, phrase)


def test_aurora_drill_in_check_mode_writes_nothing(lab: Lab, tmp_path: Path) -> None:
    before = writer(lab, "prod-analytics-aurora")
    lab.reset_calls()
    extra = {
        "drill": "aurora",
        "target": "prod-analytics-aurora",
        "confirm": "prod-analytics-aurora",
        "allow_production": True,
        "ticket": "CHG-52",
    }
    result = run_playbook(lab, DRILL, {"evidence_dir": str(tmp_path), **extra}, check=True)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "fail over to prod-analytics-aurora-b (sa-east-1b) the cluster prod-analytics-aurora" in " ".join(
        result.stdout.split()
    )
    assert lab.mutating_calls() == []
    assert writer(lab, "prod-analytics-aurora") == before


# ----------------------------------------------------------------------------- happy path


def test_aurora_drill_moves_the_writer_and_measures_the_recovery(lab: Lab, tmp_path: Path) -> None:
    writer_before, zone_before = writer(lab, "hml-reports-aurora")
    lab.reset_calls()
    started = time.monotonic()
    result, record = drill(
        lab,
        tmp_path,
        {
            "drill": "aurora",
            "target": "hml-reports-aurora",
            "confirm": "hml-reports-aurora",
            "ticket": "CHG-53",
        },
    )
    assert result.returncode == 0, f"{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    assert record["result"] == "succeeded", record
    metrics = record["metrics"]
    assert metrics["writer_before"] == writer_before and metrics["az_before"] == zone_before
    assert (metrics["writer_after"], metrics["az_after"]) == writer(lab, "hml-reports-aurora")
    assert metrics["writer_after"] != writer_before and metrics["az_after"] != zone_before
    assert metrics["primary_moved"] and metrics["az_moved"] and metrics["recovered"]
    assert metrics["probe_baseline_ok"] and metrics["probe_downtime_seconds"] > 0
    assert 0 < metrics["rto_measured_seconds"] <= metrics["rto_objective_seconds"]
    assert metrics["rto_measured_seconds"] < time.monotonic() - started
    assert lab.mutating_calls() == ["rds:FailoverDBCluster"]
    events = lab.client("rds").describe_events(SourceIdentifier="hml-reports-aurora", SourceType="db-cluster")
    assert any(metrics["writer_after"] in e["Message"] for e in events["Events"])
