"""Least privilege: each playbook runs with only its own IAM policy, and the audit cannot write.

The policies live in docs/iam/<playbook>.json. Static tests check what AWS itself would: no
wildcard actions, a read-only audit, writes scoped by resource or tag condition. The lab tests
start a lab of their own (the session lab stays open for the other tests), create one IAM user
per policy with the emulator's root keys, then switch moto's IAM enforcement on
(``POST /moto-api/reset-auth`` with ``0``): from then on every request must be signed with a
user's keys and allowed by that user's policies.

What moto enforces, and therefore what these tests prove (details in docs/safety.md): the
action of every call, and for S3 the bucket or object ARN. moto checks every other service's
calls against the resource ``*`` and evaluates no condition, so the tests run each user with
``iam_from_calls.lab_projection`` of its policy (resources of non-S3 statements widened to
``*``); the ARNs and tag conditions there are checked only statically below.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from conftest import ROOT, VENV_BIN, Lab, run_playbook, start_lab

sys.path.insert(0, str(ROOT / "scripts"))
import iam_from_calls as iam

POLICY_DIR = ROOT / "docs" / "iam"
# Writers last: runbooks need the estate as seeded (the baseline adds alarms a drill would stop
# on, and TLS-only bucket policies the lab's plain-HTTP endpoint cannot meet).
PLAYBOOKS = sorted(
    set(iam.RUNS) | set(iam.committed_playbooks()),
    key=lambda p: (p.endswith(("aws_baseline.yml", "site.yml")), p),
)
POLICIES = sorted(POLICY_DIR.glob("*.json"))

# Secret keys issued to the lab's IAM users: tests/test_no_secrets.py checks that no report or
# evidence file of the session contains one.
ISSUED_SECRETS: list[str] = []

# Writes that AWS authorises only against "*" (account-level settings, or actions without a
# resource type in the Service Authorization Reference): the only writes allowed unscoped.
UNSCOPABLE_WRITES = frozenset(
    {
        "ec2:ModifyInstanceMetadataDefaults",
        "ec2:EnableEbsEncryptionByDefault",
        "ec2:ModifyEbsDefaultKmsKeyId",
        "cloudwatch:PutMetricData",
        "logs:CreateLogGroup",
    }
)


def _policy_for(playbook: str) -> Path:
    return POLICY_DIR / f"{Path(playbook).stem}.json"


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    statements = policy["Statement"]
    return [statements] if isinstance(statements, dict) else statements


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _committed(playbook: str) -> None:
    if playbook not in iam.committed_playbooks():
        pytest.skip(f"{playbook} is not committed yet; its least-privilege run waits for it")


# --- What the policies say ----------------------------------------------------------------------


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_every_playbook_has_a_policy(playbook: str) -> None:
    _committed(playbook)
    assert _policy_for(playbook).is_file(), (
        f"{playbook} has no IAM policy: derive one with "
        f"scripts/iam_from_calls.py derive {playbook} --skeleton, scope it, save it as "
        f"{_policy_for(playbook).relative_to(ROOT)}"
    )


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_a_pure_import_playbook_holds_exactly_its_imports_policies(playbook: str) -> None:
    _committed(playbook)
    imports = iam.imported_playbooks(playbook)
    if not imports:
        pytest.skip(f"{playbook} has plays of its own")
    assert _load(_policy_for(playbook)) == iam.union_policy(imports), (
        f"{_policy_for(playbook).name} must be the union of {imports}' policies: regenerate it with "
        "iam_from_calls.union_policy"
    )


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.name)
def test_policy_names_every_action_without_wildcards(path: Path) -> None:
    policy = _load(path)
    assert policy["Version"] == "2012-10-17"
    for statement in _statements(policy):
        assert statement["Effect"] in ("Allow", "Deny")
        assert "NotAction" not in statement, f"{path.name} {statement.get('Sid')}: NotAction grants too much"
        assert "NotResource" not in statement, f"{path.name} {statement.get('Sid')}: NotResource"
        assert "Principal" not in statement, f"{path.name}: an identity policy names no principal"
        for action in _listed(statement["Action"]):
            service, _, name = action.partition(":")
            assert service and name, f"{path.name}: {action!r} is not service:Action"
            assert "*" not in action and "?" not in action, f"{path.name}: wildcard action {action}"


def test_audit_policy_is_read_only() -> None:
    policy = _load(POLICY_DIR / "audit.json")
    allowed = iam.policy_actions(policy)
    assert allowed, "the audit policy allows nothing"
    writes = sorted(a for a in allowed if iam.is_mutating(a))
    data_reads = sorted(allowed & iam.SENSITIVE_READS)
    assert writes == [], f"the audit policy allows writes: {writes}"
    assert data_reads == [], f"the audit policy reads data, not configuration: {data_reads}"
    denied = {a for s in _statements(policy) if s["Effect"] == "Deny" for a in _listed(s["Action"])}
    assert denied >= iam.SENSITIVE_READS, "the audit policy should deny data reads explicitly"


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.name)
def test_writes_are_scoped_by_resource_or_tag(path: Path) -> None:
    for statement in _statements(_load(path)):
        if statement["Effect"] != "Allow":
            continue
        writes = [a for a in _listed(statement["Action"]) if iam.is_mutating(a)]
        unscoped = _listed(statement["Resource"]) == ["*"] and not statement.get("Condition")
        if writes and unscoped:
            assert set(writes) <= UNSCOPABLE_WRITES, (
                f"{path.name} {statement.get('Sid')}: {sorted(set(writes) - UNSCOPABLE_WRITES)} on every "
                "resource; scope them by ARN or by a tag condition"
            )


def test_lab_and_tool_agree_on_what_writes() -> None:
    tree = ast.parse((ROOT / "lab" / "server.py").read_text())
    lab_prefixes = next(
        ast.literal_eval(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "MUTATING_PREFIXES" for t in node.targets)
    )
    assert tuple(lab_prefixes) == iam.MUTATING_PREFIXES


@pytest.mark.parametrize(
    ("call", "action"),
    [
        ({"service": "rds", "action": "DescribeDBInstances"}, "rds:DescribeDBInstances"),
        ({"service": "monitoring", "action": "DescribeAlarms"}, "cloudwatch:DescribeAlarms"),
        ({"service": "s3", "action": "GET /", "query": ""}, "s3:ListAllMyBuckets"),
        ({"service": "s3", "action": "GET /b", "query": "encryption"}, "s3:GetEncryptionConfiguration"),
        (
            {"service": "s3", "action": "PUT /b", "query": "publicAccessBlock"},
            "s3:PutBucketPublicAccessBlock",
        ),
        ({"service": "s3", "action": "GET /b", "query": "list-type=2&prefix=x"}, "s3:ListBucket"),
        ({"service": "s3", "action": "HEAD /b", "query": ""}, "s3:ListBucket"),
        ({"service": "s3", "action": "PUT /b/evidence/run.json", "query": ""}, "s3:PutObject"),
        ({"service": "s3", "action": "PUT /b", "query": ""}, "s3:CreateBucket"),
        ({"service": "securityhub", "action": "GET /accounts", "query": ""}, "securityhub:DescribeHub"),
        ({"service": "guardduty", "action": "GET /detector", "query": ""}, "guardduty:ListDetectors"),
    ],
)
def test_calls_map_to_the_iam_actions_aws_checks(call: dict[str, Any], action: str) -> None:
    assert iam.iam_action(call) == action


# --- The same policies, enforced by the emulator --------------------------------------------------


def _moto_api(endpoint: str, path: str, body: bytes) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - loopback lab endpoint
        f"{endpoint}/moto-api/{path}", data=body, method="POST", headers={"Content-Type": "text/plain"}
    )
    with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
        return json.load(reply)


class IamLab:
    """A lab with IAM enforcement on, one user per policy, and their keys."""

    def __init__(self, lab: Lab, keys: dict[str, dict[str, str]]) -> None:
        self.lab = lab
        self.keys = keys

    def as_user(self, user: str) -> Lab:
        key = self.keys[user]
        env = {**self.lab.env, "AWS_ACCESS_KEY_ID": key["id"], "AWS_SECRET_ACCESS_KEY": key["secret"]}
        return Lab(state=self.lab.state, env=env)

    def client(self, user: str, service: str) -> Any:
        key = self.keys[user]
        return boto3.client(
            service,
            region_name=self.lab.state["region"],
            endpoint_url=self.lab.endpoint,
            aws_access_key_id=key["id"],
            aws_secret_access_key=key["secret"],
        )


@pytest.fixture(scope="module")
def iam_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IamLab]:
    folder = tmp_path_factory.mktemp("iam-lab")
    # start_lab ties the lab to this test process, so a killed run leaves nothing behind.
    with start_lab(folder, f"i{os.getpid()}", "--no-fleet", "--transition-seconds", "0.5") as lab:
        root_iam = lab.client("iam", "us-east-1")
        keys: dict[str, dict[str, str]] = {}
        users = {p.stem: iam.lab_projection(_load(p)) for p in POLICIES}
        # The inspector reads state after a denied write, to show nothing changed.
        users["inspector"] = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
        for name, document in users.items():
            root_iam.create_user(UserName=f"careops-{name}")
            arn = root_iam.create_policy(PolicyName=f"careops-{name}", PolicyDocument=json.dumps(document))[
                "Policy"
            ]["Arn"]
            root_iam.attach_user_policy(UserName=f"careops-{name}", PolicyArn=arn)
            key = root_iam.create_access_key(UserName=f"careops-{name}")["AccessKey"]
            keys[name] = {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
            ISSUED_SECRETS.append(key["SecretAccessKey"])
        _moto_api(lab.endpoint, "reset-auth", b"0")
        yield IamLab(lab, keys)


def test_moto_cannot_authenticate_guardduty_and_security_hub(iam_lab: IamLab) -> None:
    """Why their calls are left out of the denied-call check: even allow-all keys are refused."""
    for service, call in (("guardduty", "list_detectors"), ("securityhub", "describe_hub")):
        with pytest.raises(ClientError) as refused:
            getattr(iam_lab.client("inspector", service), call)()
        assert "SignatureDoesNotMatch" in str(refused.value) or "403" in str(refused.value)
    assert {"guardduty", "securityhub"} == iam.MOTO_UNVERIFIABLE_SERVICES


def test_enforcement_is_on(iam_lab: IamLab) -> None:
    with pytest.raises(ClientError, match="InvalidClientTokenId"):
        iam_lab.lab.client("rds").describe_db_instances()  # the root keys no longer work
    with pytest.raises(ClientError, match="AccessDenied"):
        iam_lab.client("audit", "rds").describe_db_log_files(DBInstanceIdentifier="prod-billing")


@pytest.mark.slow
@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_playbook_succeeds_with_only_its_policy(iam_lab: IamLab, playbook: str, tmp_path: Path) -> None:
    _committed(playbook)
    if iam.imported_playbooks(playbook):
        pytest.skip(f"{playbook} only imports {iam.imported_playbooks(playbook)}: proved by their runs")
    if not _policy_for(playbook).is_file():
        pytest.fail(f"{playbook} has no policy in docs/iam/")
    user = iam_lab.as_user(_policy_for(playbook).stem)
    inputs = iam.runbook_inputs(playbook, "lp", iam_lab.client("inspector", "rds"))
    inputs |= {"report_dir": str(tmp_path / "reports"), "evidence_dir": str(tmp_path / "evidence")}
    iam_lab.lab.reset_calls()
    if playbook == "playbooks/fleet.yml":
        # This lab has no fleet (IAM enforcement needs a lab of its own), and fleet.yml's only
        # AWS use is its dynamic inventory: prove that read with the fleet policy's keys. The
        # production inventory is listed, never connected to (its hosts are VPC addresses).
        shutil.rmtree(tmp_path / "inventory-cache", ignore_errors=True)
        result = subprocess.run(
            [str(VENV_BIN / "ansible-inventory"), "-i", "inventories/production", "--list"],
            cwd=ROOT,
            env={**user.env, "ANSIBLE_INVENTORY_CACHE_CONNECTION": str(tmp_path / "inventory-cache")},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["_meta"]["hostvars"], "the fleet policy's keys listed no instance"
    else:
        result = run_playbook(user, playbook, inputs)
    calls = iam_lab.lab.calls()
    denied = sorted(
        {
            iam.iam_action(c)
            for c in calls
            if c.get("status") == 403 and c["service"] not in iam.MOTO_UNVERIFIABLE_SERVICES
        }
    )
    assert result.returncode == 0, (
        f"{playbook} failed with only its policy (denied: {denied}):\n{result.stdout[-4000:]}"
    )
    assert denied == [], f"{playbook} succeeded but AWS denied {denied}: a module swallowed AccessDenied"
    missing = iam.uncovered(_load(_policy_for(playbook)), iam.actions_from_calls(calls))
    assert missing == [], f"{playbook} used actions its policy does not name: {missing}"


def test_audit_user_cannot_write(iam_lab: IamLab) -> None:
    """Every kind of write the other playbooks make, attempted with the audit user's keys."""
    attempts = {
        "rds:RebootDBInstance": lambda: iam_lab.client("audit", "rds").reboot_db_instance(
            DBInstanceIdentifier="prod-scheduling", ForceFailover=True
        ),
        "rds:CreateDBSnapshot": lambda: iam_lab.client("audit", "rds").create_db_snapshot(
            DBInstanceIdentifier="prod-billing", DBSnapshotIdentifier="audit-should-not"
        ),
        "rds:ModifyDBInstance": lambda: iam_lab.client("audit", "rds").modify_db_instance(
            DBInstanceIdentifier="prod-reports", DeletionProtection=True, ApplyImmediately=True
        ),
        "ec2:RevokeSecurityGroupIngress": lambda: iam_lab.client(
            "audit", "ec2"
        ).revoke_security_group_ingress(
            GroupId=iam_lab.lab.state["estate"]["security_groups"]["prod-legacy-admin"],
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
            ],
        ),
        "ec2:ModifyInstanceMetadataDefaults": lambda: iam_lab.client(
            "audit", "ec2"
        ).modify_instance_metadata_defaults(HttpTokens="required"),
        "s3:PutEncryptionConfiguration": lambda: iam_lab.client("audit", "s3").put_bucket_encryption(
            Bucket="homecare-hml-files",
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
            },
        ),
        "s3:PutObject": lambda: iam_lab.client("audit", "s3").put_object(
            Bucket="homecare-prod-evidence", Key="audit-should-not.json", Body=b"{}"
        ),
        "logs:PutRetentionPolicy": lambda: iam_lab.client("audit", "logs").put_retention_policy(
            logGroupName="/careops/evidence", retentionInDays=1
        ),
        "secretsmanager:GetSecretValue": lambda: iam_lab.client("audit", "secretsmanager").get_secret_value(
            SecretId="careops/lab/db-verify"  # pragma: allowlist secret - a secret name, not a value
        ),
    }
    iam_lab.lab.reset_calls()
    outcomes = {}
    for action, attempt in attempts.items():
        try:
            attempt()
            outcomes[action] = "ALLOWED"
        except ClientError as error:
            outcomes[action] = error.response["Error"]["Code"]
    allowed = [a for a, outcome in outcomes.items() if outcome == "ALLOWED"]
    assert allowed == [], f"the audit user could do {allowed}"
    assert all(c.get("status") == 403 for c in iam_lab.lab.calls()), "a write reached moto's backend"
    snapshots = iam_lab.client("inspector", "rds").describe_db_snapshots()["DBSnapshots"]
    assert "audit-should-not" not in {s["DBSnapshotIdentifier"] for s in snapshots}
    groups = iam_lab.client("inspector", "logs").describe_log_groups(logGroupNamePrefix="/careops/evidence")
    assert all(g.get("retentionInDays") != 1 for g in groups["logGroups"])
