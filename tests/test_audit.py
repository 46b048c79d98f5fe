"""The compliance audit on the lab: it finds every seeded drift, writes nothing, and reports.

The session lab carries the drift listed in its state (``state["drift"]``); each entry names a
resource and the kind of control it breaks. The audit must report a FAIL finding for every one,
make no write call while doing so, and leave the four report files an operator and CI read.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, Lab, run_playbook

sys.path.insert(0, str(ROOT / "scripts"))
import iam_from_calls as iam

# Drift kinds of lab/estate.py and the control family whose findings must name the resource.
FAMILY = {
    "imdsv2": "imdsv2",
    "sg": "network",
    "s3": "data_protection",
    "rds": "data_protection",
    "cloudtrail": "data_protection",
    "logs": "monitoring",
    "cost": "cost",
}
REQUIRED_KEYS = {
    "control_id",
    "prowler",
    "resource_id",
    "resource_arn",
    "resource_type",
    "region",
    "status",
    "severity",
    "message",
    "remediation",
}


@pytest.fixture(scope="module")
def audit_run(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One audit with fail_on=high: its result, its findings and the write calls it made."""
    report_dir = tmp_path_factory.mktemp("audit")
    lab.reset_calls()
    result = run_playbook(lab, "playbooks/audit.yml", {"report_dir": str(report_dir), "fail_on": "high"})
    return {
        "result": result,
        "writes": lab.mutating_calls(),
        "calls": lab.calls(),
        "dir": report_dir,
        "findings": json.loads((report_dir / "findings.json").read_text()),
    }


def _resource_names(lab: Lab, drift: dict[str, str]) -> set[str]:
    """Names a finding may use for a drift entry: the fleet host's instance ID for instances."""
    names = {drift["resource"]}
    for host in lab.state["fleet"]["hosts"]:
        if drift["resource"].endswith(host["name"].split("-", 1)[-1]):
            names.add(host["instance_id"])
    return names


def test_audit_makes_no_write_call(audit_run: dict[str, Any]) -> None:
    assert audit_run["writes"] == [], f"the audit wrote: {audit_run['writes']}"


def test_audit_lists_buckets_in_pages_with_their_regions(lab: Lab, audit_run: dict[str, Any]) -> None:
    s3 = [c for c in audit_run["calls"] if c["service"] == "s3"]
    operations = [iam.api_operation(c) for c in s3]
    listings = [c for c, operation in zip(s3, operations, strict=True) if operation == "s3:ListBuckets"]
    assert listings, "no ListBuckets call"
    assert all("max-buckets=1000" in c["query"] for c in listings), listings
    # The paginated listing names each bucket's region: no GetBucketLocation, bucket by bucket.
    assert "s3:GetBucketLocation" not in operations
    assert "s3:GetBucketEncryption" in operations  # the resolution works: detail calls are seen
    located = {
        f["resource_id"]: f["region"]
        for f in audit_run["findings"]
        if f["resource_type"].startswith("AWS::S3")
    }
    client = lab.client("s3")
    for name, region in located.items():
        assert region == (client.get_bucket_location(Bucket=name)["LocationConstraint"] or "us-east-1")
    assert len(located) >= 5, located


def test_audit_finds_every_seeded_drift(lab: Lab, audit_run: dict[str, Any]) -> None:
    failing = [f for f in audit_run["findings"] if f["status"] == "FAIL"]
    missed = []
    for drift in lab.state["drift"]:
        if drift["resource"].startswith("lab-") and not lab.state["fleet"]["hosts"]:
            continue  # the fleet (and its instance) is not there without podman
        names = _resource_names(lab, drift)
        if drift["resource"] == "account":
            hits = [f for f in failing if f["control_id"] == "IMDS-04"]
        else:
            hits = [
                f
                for f in failing
                if f["family"] == FAMILY[drift["control"]] and names & {f["resource_id"], f["resource_name"]}
            ]
        if not hits:
            missed.append(drift)
    assert missed == [], f"drift the audit did not report: {missed}"


def test_findings_carry_what_an_auditor_needs(audit_run: dict[str, Any]) -> None:
    findings = audit_run["findings"]
    assert findings, "no findings at all"
    for finding in findings:
        assert finding.keys() >= REQUIRED_KEYS, f"missing keys in {finding}"
        assert finding["status"] in ("PASS", "FAIL")
        assert isinstance(finding["prowler"], list)
    imds = next(f for f in findings if f["control_id"] == "IMDS-01")
    assert imds["prowler"] == ["ec2_instance_imdsv2_enabled"]
    ssh = next(f for f in findings if f["control_id"] == "NET-01" and f["status"] == "FAIL")
    assert "0.0.0.0/0" in ssh["message"] and "::/0" in ssh["message"]
    encrypted = next(f for f in findings if f["control_id"] == "RDS-01" and f["status"] == "FAIL")
    assert encrypted["enforcement"] == "manual" and "snapshot" in encrypted["remediation"].lower()


def test_reports_are_written_and_readable(audit_run: dict[str, Any]) -> None:
    folder: Path = audit_run["dir"]
    markdown = (folder / "report.md").read_text()
    assert "## Score per control family and environment" in markdown
    assert "hml-db" in markdown or "sg-" in markdown
    html = (folder / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "Failing resources" in html
    junit = ET.parse(folder / "junit.xml").getroot()  # noqa: S314 - a file this test just had written
    failures = int(junit.get("failures"))
    assert failures == sum(1 for f in audit_run["findings"] if f["status"] == "FAIL")
    assert junit.get("tests") == str(len(audit_run["findings"]))


def test_fail_on_high_fails_the_play_after_writing_reports(audit_run: dict[str, Any]) -> None:
    result = audit_run["result"]
    assert result.returncode != 0, "critical findings exist, fail_on=high must fail the play"
    assert "at severity high or above" in result.stdout
    assert (audit_run["dir"] / "report.html").exists()


def test_regions_can_be_overridden_for_a_run(lab: Lab, tmp_path: Path) -> None:
    extra = {
        "aws_regions": ["us-east-1"],
        "audit_controls": ["EBS-01", "IMDS-04"],
        "report_dir": str(tmp_path),
    }
    result = run_playbook(lab, "playbooks/audit.yml", extra)
    assert result.returncode == 0, result.stdout[-3000:]
    regions = {f["region"] for f in json.loads((tmp_path / "findings.json").read_text())}
    assert regions == {"us-east-1"}


def test_launch_template_versions_are_read_in_pages_not_per_template(lab: Lab, tmp_path: Path) -> None:
    ec2 = lab.client("ec2", "eu-west-1")  # no estate there: these are the only templates
    tokens = {f"audit-test-lt-{n:02d}": "required" if n % 3 else "optional" for n in range(20)}
    for name, value in tokens.items():
        ec2.create_launch_template(
            LaunchTemplateName=name, LaunchTemplateData={"MetadataOptions": {"HttpTokens": value}}
        )
    # A newer, compliant version that is not the default: the default still fails.
    newer = {"MetadataOptions": {"HttpTokens": "required"}}
    ec2.create_launch_template_version(LaunchTemplateName="audit-test-lt-00", LaunchTemplateData=newer)
    extra = {"aws_regions": ["eu-west-1"], "audit_controls": ["IMDS-02"], "report_dir": str(tmp_path)}
    try:
        lab.reset_calls()
        result = run_playbook(lab, "playbooks/audit.yml", extra)
        calls = [c["action"] for c in lab.calls() if c["service"] == "ec2"]
    finally:
        for name in tokens:
            ec2.delete_launch_template(LaunchTemplateName=name)
    assert result.returncode == 0, result.stdout[-3000:]
    findings = {f["resource_name"]: f for f in json.loads((tmp_path / "findings.json").read_text())}
    assert set(findings) == set(tokens)
    for name, value in tokens.items():
        assert findings[name]["status"] == ("PASS" if value == "required" else "FAIL"), findings[name]
    assert "default v1" in findings["audit-test-lt-00"]["message"]
    assert "latest v2" not in findings["audit-test-lt-00"]["message"]
    # 20 templates, 41 versions: two pages of templates (the lab pages at 15), one of versions.
    assert calls.count("DescribeLaunchTemplates") == 2
    assert calls.count("DescribeLaunchTemplateVersions") == 1


@pytest.mark.parametrize(
    ("extra", "variable"),
    [
        ({"fail_on": "bogus"}, "fail_on"),
        ({"aws_regions": "sa-east-1"}, "aws_regions"),
        ({"aws_regions": []}, "aws_regions"),
    ],
)
def test_bad_inputs_fail_with_a_message_naming_the_variable(
    lab: Lab, tmp_path: Path, extra: dict[str, Any], variable: str
) -> None:
    lab.reset_calls()
    result = run_playbook(lab, "playbooks/audit.yml", {**extra, "report_dir": str(tmp_path)})
    assert result.returncode != 0
    assert variable in result.stdout + result.stderr
    assert lab.mutating_calls() == []
