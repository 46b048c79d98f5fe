"""The AWS baseline on a lab of its own: check, apply, audit again, apply again.

Enforcement changes the lab, and other tests rely on the seeded drift, so this module brings up
a second lab (AWS side only) in a temporary folder. On top of the seeded drift it adds two
resources the baseline must hold back: a security group owned by Terraform with SSH open to the
world, and an IMDSv1 instance whose MetadataNoToken metric shows IMDSv1 still in use.

The tests run in file order: a check run that writes nothing, the real run, a re-audit that is
clean except report-only and manual controls and the two held-back resources, and a second run
that changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Lab, run_playbook, start_lab

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def blab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A lab without fleet for this module only, plus the two resources to hold back."""
    folder = tmp_path_factory.mktemp("baseline-lab")
    with start_lab(folder, f"b{os.getpid()}", "--no-fleet", "--transition-seconds", "0.2") as lab:
        _add_resources_to_hold_back(lab)
        yield lab


def _add_resources_to_hold_back(lab: Lab) -> None:
    ec2 = lab.client("ec2")
    group = ec2.create_security_group(
        GroupName="hml-tf-bastion",
        Description="bastion owned by Terraform",
        VpcId=lab.state["estate"]["vpcs"][lab.state["region"]],
    )["GroupId"]
    ec2.create_tags(
        Resources=[group],
        Tags=[
            {"Key": "Name", "Value": "hml-tf-bastion"},
            {"Key": "Environment", "Value": "homologation"},
            {"Key": "ManagedBy", "Value": "terraform"},
            {"Key": "TerraformModule", "Value": "modules/bastion"},
        ],
    )
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    lab.state["held_group"] = group
    instance = ec2.run_instances(
        ImageId=lab.state["estate"]["image_id"],
        InstanceType="t3.medium",
        MinCount=1,
        MaxCount=1,
        SubnetId=lab.state["estate"]["subnets"]["app-a"],
        MetadataOptions={"HttpTokens": "optional", "HttpEndpoint": "enabled"},
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [
                    {"Key": "Name", "Value": "hml-legacy-imdsv1"},
                    {"Key": "Environment", "Value": "homologation"},
                ],
            }
        ],
    )["Instances"][0]["InstanceId"]
    lab.client("cloudwatch").put_metric_data(
        Namespace="AWS/EC2",
        MetricData=[
            {
                "MetricName": "MetadataNoToken",
                "Dimensions": [{"Name": "InstanceId", "Value": instance}],
                "Timestamp": dt.datetime.now(dt.UTC) - dt.timedelta(hours=2),
                "Value": 12.0,
            }
        ],
    )
    lab.state["held_instance"] = instance


def _changed(result: subprocess.CompletedProcess) -> int:
    match = re.search(r"localhost\s+:\s+ok=\d+\s+changed=(\d+)", result.stdout)
    assert match, f"no play recap:\n{result.stdout[-3000:]}"
    return int(match.group(1))


def _audit(lab: Lab, folder: Path) -> list[dict[str, Any]]:
    result = run_playbook(lab, "playbooks/audit.yml", {"report_dir": str(folder)})
    assert result.returncode == 0, result.stdout[-4000:]
    return json.loads((folder / "findings.json").read_text())


def test_check_run_shows_changes_and_makes_no_write_call(blab: Lab) -> None:
    blab.reset_calls()
    result = run_playbook(blab, "playbooks/aws_baseline.yml", check=True)
    writes = blab.mutating_calls()
    assert result.returncode == 0, result.stdout[-4000:]
    assert writes == [], f"--check wrote: {writes}"
    assert _changed(result) > 0, "the check run saw nothing to change on a lab full of drift"
    assert "tcp/22-22 from 0.0.0.0/0" in result.stdout, "the SG diff must list the revoked rules"


def test_enforcement_fixes_what_is_fixable(blab: Lab, tmp_path: Path) -> None:
    result = run_playbook(blab, "playbooks/aws_baseline.yml", options=["--diff"])
    assert result.returncode == 0, result.stdout[-4000:]
    assert "modules/bastion" in result.stdout, "the held-back Terraform group must be named with its module"
    assert "IMDSv1 still in use" in result.stdout
    failing = [f for f in _audit(blab, tmp_path) if f["status"] == "FAIL"]
    held = {blab.state["held_group"], blab.state["held_instance"]}
    unexpected = [
        f"{f['control_id']} {f['resource_id']}: {f['message']}"
        for f in failing
        if f["enforcement"] == "automatic" and f["resource_id"] not in held
    ]
    assert unexpected == [], f"automatic controls still failing after enforcement: {unexpected}"
    still = {(f["control_id"], f["resource_id"]) for f in failing}
    assert ("NET-01", blab.state["held_group"]) in still, "the Terraform-owned group was changed"
    assert ("IMDS-01", blab.state["held_instance"]) in still, "an instance still using IMDSv1 was enforced"
    assert ("RDS-01", "hml-clinical-records") in still, "encryption cannot be fixed in place"
    rules = blab.client("ec2").describe_security_groups(
        GroupIds=[blab.state["estate"]["security_groups"]["hml-db"]]
    )["SecurityGroups"][0]["IpPermissions"]
    assert any(p.get("UserIdGroupPairs") for p in rules), "the app-tier rule of hml-db must survive"


def test_second_run_changes_nothing(blab: Lab) -> None:
    blab.reset_calls()
    result = run_playbook(blab, "playbooks/aws_baseline.yml")
    assert result.returncode == 0, result.stdout[-4000:]
    assert _changed(result) == 0, result.stdout[-4000:]
    assert blab.mutating_calls() == []
