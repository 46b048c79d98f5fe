"""The snapshot runbook's DR copy and its retention clean-up, on the lab.

DB and Aurora cluster snapshots are copied to the DR region encrypted with a KMS key of that
region, tagged with the run and ticket, and waited on; a key the DR region does not have is
refused before any write. The clean-up deletes this runbook's old snapshots and their DR copies,
found by tag, and nothing else: an untagged snapshot of the same database and another tool's
copy in the DR region, both as old, must survive it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Lab, run_playbook

pytestmark = pytest.mark.slow

SNAPSHOT = "playbooks/runbooks/snapshot.yml"
TARGETS = ["prod-pharmacy-stock", "hml-reports-aurora"]


def snapshot_run(lab: Lab, evidence: Path, extra: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Run the snapshot runbook once and return the process and its single evidence record."""
    result = run_playbook(lab, SNAPSHOT, {"evidence_dir": str(evidence), "poll_seconds": 1, **extra})
    records = sorted(evidence.glob("*.json"))
    assert len(records) == 1, (
        f"one evidence record expected\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}"
    )
    return result, json.loads(records[0].read_text())


def tags_of(item: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in item.get("TagList", [])}


def age(lab: Lab, region: str, snapshot: str, kind: str = "instance") -> None:
    lab.api("age-snapshot", {"region": region, "snapshot": snapshot, "kind": kind, "days": 3})


@pytest.mark.parametrize(
    ("key", "phrase"),
    [
        ("alias/no-such-key", "dr_kms_key_id=alias/no-such-key cannot encrypt copies in us-east-1"),
        (
            "arn:aws:kms:sa-east-1:123456789012:key/0b5e8f62-4c1d-4a8e-9a37-2f1c6d0e9b11",
            "is a key of sa-east-1, not of dr_region=us-east-1",
        ),
    ],
    ids=["unknown-alias", "key-of-another-region"],
)
def test_dr_copy_refuses_a_key_the_dr_region_cannot_use(
    lab: Lab, tmp_path: Path, key: str, phrase: str
) -> None:
    lab.reset_calls()
    extra = {"targets": TARGETS, "ticket": "CHG-70", "dr_copy": True, "dr_kms_key_id": key}
    result, record = snapshot_run(lab, tmp_path, extra)
    assert result.returncode != 0, result.stdout[-3000:]
    assert record["result"] == "refused", record
    assert phrase in " ".join(record["message"].split()), record["message"]
    assert lab.mutating_calls() == []


def test_dr_copy_then_cleanup_of_the_originals_and_copies_only(lab: Lab, tmp_path: Path) -> None:
    primary, dr = lab.state["region"], lab.state["dr_region"]
    rds, rds_dr = lab.client("rds"), lab.client("rds", dr)
    dr_key = lab.client("kms", dr).describe_key(KeyId="alias/homecare-rds")["KeyMetadata"]["Arn"]

    result, record = snapshot_run(
        lab,
        tmp_path / "copy",
        {"targets": TARGETS, "ticket": "CHG-71", "dr_copy": True, "dr_kms_key_id": "alias/homecare-rds"},
    )
    assert result.returncode == 0, f"{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    assert record["result"] == "succeeded", record
    db_snap, cluster_snap = record["metrics"]["snapshots"]
    copies = {c["identifier"]: c for c in record["metrics"]["dr_copies"]}
    assert set(copies) == {db_snap, cluster_snap}
    assert record["metrics"]["dr_kms_key_arn"] == dr_key
    db_copy = rds_dr.describe_db_snapshots(DBSnapshotIdentifier=db_snap)["DBSnapshots"][0]
    cluster_copy = rds_dr.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=cluster_snap)[
        "DBClusterSnapshots"
    ][0]
    for copy in (db_copy, cluster_copy):
        assert copy["Status"] == "available" and copy["KmsKeyId"] == dr_key
        assert tags_of(copy)["careops:run-id"] == record["run_id"]
        assert tags_of(copy)["careops:ticket"] == "CHG-71"
    assert db_copy["Encrypted"] and cluster_copy["StorageEncrypted"]

    # Others' snapshots of the same sources, as old as this runbook's: the clean-up must keep them.
    rds.create_db_snapshot(DBInstanceIdentifier="prod-pharmacy-stock", DBSnapshotIdentifier="manual-keep-me")
    rds_dr.copy_db_snapshot(
        SourceDBSnapshotIdentifier=db_copy["DBSnapshotArn"].replace(dr, primary),
        TargetDBSnapshotIdentifier="other-tool-copy",
        KmsKeyId=dr_key,
        SourceRegion=primary,
    )
    for region, name, kind in (
        (primary, db_snap, "instance"),
        (primary, cluster_snap, "cluster"),
        (dr, db_snap, "instance"),
        (dr, cluster_snap, "cluster"),
        (primary, "manual-keep-me", "instance"),
        (dr, "other-tool-copy", "instance"),
    ):
        age(lab, region, name, kind)

    lab.reset_calls()
    result, record = snapshot_run(
        lab,
        tmp_path / "cleanup",
        {
            "targets": TARGETS,
            "ticket": "CHG-72",
            "cleanup_older_than_days": 2,
            "confirm_cleanup": ",".join(TARGETS),
        },
    )
    assert result.returncode == 0, f"{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    assert set(record["metrics"]["deleted"]) == {
        f"{db_snap} in {primary}",
        f"{cluster_snap} in {primary}",
        f"{db_snap} in {dr}",
        f"{cluster_snap} in {dr}",
    }
    deletes = [w for w in lab.mutating_calls() if w.startswith("rds:Delete")]
    assert sorted(deletes) == ["rds:DeleteDBClusterSnapshot"] * 2 + ["rds:DeleteDBSnapshot"] * 2
    left_here = {
        s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    }
    left_dr = {
        s["DBSnapshotIdentifier"] for s in rds_dr.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    }
    assert "manual-keep-me" in left_here and "other-tool-copy" in left_dr
    assert db_snap not in left_here | left_dr
