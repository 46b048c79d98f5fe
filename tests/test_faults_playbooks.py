"""Throttling and 5xx survived: the audit and a runbook finish correctly with 20% of calls failing.

AWS throttles a whole-account audit and answers 5xx now and then; a playbook that half-applies
then is worse than one that never ran. The lab fails a share of AWS requests before they take
effect (``fault_rate`` 0.2, 80% of them throttling errors in each protocol's spelling, the rest
503s). Every play applies ``careops_aws_environment`` (botocore standard retry mode, ten
attempts) from the inventory, and these tests prove that is enough: with faults injected, the
audit finds every deliberate drift and the PITR runbook restores and verifies, while the source
stays untouched. A runbook that fails after its first write must leave the source as it was and
say which resources now exist.

The retry environment is checked statically for every play that calls AWS (controller plays
with AWS modules or roles that use them; fleet plays run on hosts that call no AWS API), since a
play without it would only fail here when the dice say so.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, Lab, run_playbook

sys.path.insert(0, str(ROOT / "scripts"))
import iam_from_calls as iam


def _safe(lab: Lab) -> Lab:
    """The session lab with keys Ansible's no_log masking cannot find inside results ("lab")."""
    return Lab(state=lab.state, env=iam.masking_safe_env(lab.env))


FAULTS = {"fault_rate": 0.2, "throttle_share": 0.8, "seed": 20261203}
PITR = "playbooks/runbooks/pitr_restore.yml"

# Attributes of a source instance that a restore must not change.
SOURCE_FIELDS = (
    "DBInstanceIdentifier",
    "DBInstanceStatus",
    "DBInstanceArn",
    "Endpoint",
    "MultiAZ",
    "BackupRetentionPeriod",
    "DeletionProtection",
    "DBParameterGroups",
    "VpcSecurityGroups",
    "TagList",
)


def _committed(playbook: str) -> None:
    if playbook not in iam.committed_playbooks():
        pytest.skip(f"{playbook} is not committed yet")


@pytest.mark.parametrize("playbook", iam.committed_playbooks() or ["(none committed)"])
def test_every_play_applies_the_retry_environment(playbook: str) -> None:
    if playbook == "(none committed)":
        pytest.skip("no playbook is committed yet")
    plays = yaml.safe_load((ROOT / playbook).read_text())
    missing = [
        play.get("name", f"play {index}")
        for index, play in enumerate(plays)
        if _calls_aws(play) and "careops_aws_environment" not in str(play.get("environment", ""))
    ]
    assert missing == [], (
        f'{playbook}: plays without `environment: "{{{{ careops_aws_environment | default({{}}) }}}}"`, '
        f"so their AWS calls get botocore's legacy retries only: {missing}"
    )


def _calls_aws(play: dict[str, Any]) -> bool:
    """Whether a controller play calls AWS: AWS modules in it, or roles that ship or use them."""
    if play.get("hosts") != "localhost":
        return False  # fleet plays: their tasks run on the hosts, which call no AWS API
    text = json.dumps(play)
    roles = set(re.findall(r'"(?:role|name)": "([a-z_]+)"', text))
    for role in roles & {p.name for p in (ROOT / "roles").iterdir()}:
        folder = ROOT / "roles" / role
        text += "".join(f.read_text() for f in folder.glob("tasks/*.yml"))
        text += "careops_" if (folder / "library").is_dir() else ""
    return bool(re.search(r"amazon\.aws\.|community\.aws\.|group/aws|careops_", text))


@pytest.fixture
def faulty(lab: Lab) -> Iterator[Lab]:
    lab.api("settings", FAULTS)
    try:
        yield lab
    finally:
        lab.api("settings", {"fault_rate": 0})


def _injected(lab: Lab) -> dict[str, int]:
    return lab.api("faults")["injected"]


def _source(lab: Lab, identifier: str) -> dict[str, Any]:
    instance = lab.client("rds").describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    return {field: instance.get(field) for field in SOURCE_FIELDS}


@pytest.mark.slow
def test_audit_finds_every_drift_under_faults(faulty: Lab, tmp_path: Path) -> None:
    _committed("playbooks/audit.yml")
    result = run_playbook(_safe(faulty), "playbooks/audit.yml", {"report_dir": str(tmp_path / "reports")})
    injected = _injected(faulty)
    assert injected["throttle"] > 0
    assert injected["unavailable"] > 0
    assert result.returncode == 0, f"the audit failed under faults {injected}:\n{result.stdout[-4000:]}"
    findings_file = next((tmp_path / "reports").rglob("findings.json"))
    text = findings_file.read_text()
    for marker in (
        "Throttl",
        "RequestLimitExceeded",
        "SlowDown",
        "ServiceUnavailable",
        "lab fault injection",
    ):
        assert marker not in text, f"a fault reached the findings as data: {marker}"
    failing = {
        finding.get(key)
        for finding in json.loads(text)
        if finding.get("status") == "FAIL"
        for key in ("resource_name", "resource_id")
    }
    missed = [d for d in _drift_resources(faulty) if d not in failing]
    assert missed == [], f"under faults the audit missed deliberate drift on {missed}"


def _drift_resources(lab: Lab) -> list[str]:
    """Resources of the deliberate drift, by the name the audit reports them under.

    Left out: the account-level IMDS default (reported per account and region, not by name) and
    the fleet host's instance (the lab registers it under a per-lab container name).
    """
    return sorted(
        {
            item["resource"]
            for item in lab.state["drift"]
            if item["resource"] != "account" and not item["what"].startswith("instance ")
        }
    )


@pytest.mark.slow
def test_runbook_restores_and_verifies_under_faults(faulty: Lab, tmp_path: Path) -> None:
    _committed(PITR)
    inputs = iam.run_inputs(PITR, "flt") | {"evidence_dir": str(tmp_path / "evidence")}
    before = _source(faulty, inputs["source_db"])
    result = run_playbook(_safe(faulty), PITR, inputs)
    injected = _injected(faulty)
    faulty.api("settings", {"fault_rate": 0})
    assert sum(injected.values()) > 0
    assert result.returncode == 0, f"pitr_restore failed under faults {injected}:\n{result.stdout[-4000:]}"
    restored = faulty.client("rds").describe_db_instances(DBInstanceIdentifier=inputs["target_db"])
    assert restored["DBInstances"][0]["DBInstanceStatus"] == "available"
    assert _source(faulty, inputs["source_db"]) == before, "the source changed during a restore"


@pytest.mark.slow
def test_runbook_failing_midway_leaves_the_source_and_says_what_exists(lab: Lab, tmp_path: Path) -> None:
    """Verification fails after the restore has created the new instance (a write happened)."""
    _committed(PITR)
    inputs = iam.run_inputs(PITR, "mid") | {
        "evidence_dir": str(tmp_path / "evidence"),
        # More rows than the lab's table holds: the smoke test fails after the restore.
        "verify_checks": [{"table": "records", "min_rows": 10**9, "timestamp_column": "created_at"}],
    }
    before = _source(lab, inputs["source_db"])
    lab.reset_calls()
    result = run_playbook(_safe(lab), PITR, inputs)
    writes = lab.mutating_calls()
    assert result.returncode != 0, "verification with impossible checks should fail the run"
    assert any("RestoreDBInstance" in w for w in writes), f"the run failed before its first write: {writes}"
    assert _source(lab, inputs["source_db"]) == before, "a failed restore changed the source"
    output = result.stdout + result.stderr
    assert inputs["target_db"] in output, "the failure does not say that the restored instance exists"
    evidence = [p.read_text() for p in (tmp_path / "evidence").rglob("*") if p.is_file()]
    assert any(inputs["target_db"] in text and "failed" in text for text in evidence), (
        "the evidence record of the failed run does not name the restored instance"
    )
