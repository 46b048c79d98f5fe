#!/usr/bin/env python3
"""Derive the IAM actions a playbook uses from the lab's call log, and check policies against them.

Least privilege is only as good as the list of actions it starts from. Guessing that list from
module documentation misses the calls modules make behind the scenes (tag reads, waiters,
paginators, the inventory plugin), so this tool runs the playbook against a lab, reads every
AWS request the lab logged (``GET /lab-api/calls``) and turns each into the IAM action AWS
checks for it:

- query and JSON protocols (EC2, RDS, CloudWatch, Logs...): the logged ``Action`` or
  ``X-Amz-Target`` is the operation; the IAM prefix is the signing name, except CloudWatch
  (signed as ``monitoring``, authorised as ``cloudwatch:``);
- REST protocols (S3, GuardDuty, Security Hub...): the method, path and query are matched
  against botocore's own request URIs to find the operation, and S3 operations are renamed to
  the IAM actions S3 checks (``GetBucketEncryption`` is ``s3:GetEncryptionConfiguration``).

Usage, with a lab up (``make lab-up``; ``CAREOPS_LAB_DIR`` chooses another one):

    scripts/iam_from_calls.py derive playbooks/audit.yml            # actions, as JSON
    scripts/iam_from_calls.py derive playbooks/audit.yml --skeleton # a policy to scope by hand
    scripts/iam_from_calls.py check docs/iam/audit.json playbooks/audit.yml

Inputs for runbooks come from ``RUNS`` below (the same table the tests use). The committed
policies in docs/iam/ are the skeleton scoped by hand (resources, tag conditions); ``check``
and tests/test_least_privilege.py keep them honest.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import os
import re
import secrets
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

ROOT = Path(__file__).resolve().parent.parent

# Inputs that make each playbook run end to end on the lab. Runbooks refuse to run without
# them; the values name resources the lab seeds (lab/estate.py). ``{run}`` is replaced by a
# short suffix so that repeated runs on one lab never collide on a new resource's name, and
# ``{manual_snapshot:DB}`` by a manual snapshot of DB taken for the run (moto cannot restore
# from the automated ``rds:`` snapshots it lists).
# Runbooks also copy their evidence record to S3 and CloudWatch Logs when asked. Derivation and
# the least-privilege runs ask (``runbook_inputs``), so those permissions are derived and
# enforced too; other tests leave them out, since once the baseline has put its TLS-only bucket
# policies in place the lab's plain-HTTP endpoint is refused by the evidence bucket.
EVIDENCE_COPIES = {"evidence_s3_bucket": "homecare-prod-evidence", "evidence_log_group": "/careops/evidence"}

RUNS: dict[str, dict[str, Any]] = {
    "playbooks/audit.yml": {},
    "playbooks/aws_baseline.yml": {},
    "playbooks/site.yml": {},
    # The canary group alone: the fleet's AWS side is the inventory, and one host shows it.
    "playbooks/fleet.yml": {"fleet_target": "canary"},
    # A DB instance and an Aurora cluster, both copied to the DR region with its key.
    "playbooks/runbooks/snapshot.yml": {
        "targets": ["prod-billing", "prod-analytics-aurora"],
        "ticket": "CHG0000007",
        "dr_copy": True,
        "dr_kms_key_id": "alias/homecare-rds",
        "poll_seconds": 1,
    },
    "playbooks/runbooks/pitr_restore.yml": {
        "source_db": "prod-billing",
        "target_db": "prod-billing-pitr-{run}",
        "restore_time": "latest",
        "ticket": "CHG0000007",
        "confirm": "prod-billing",
        "poll_seconds": 1,
    },
    "playbooks/runbooks/restore_snapshot.yml": {
        "source_db": "prod-billing",
        "snapshot_id": "{manual_snapshot:prod-billing}",
        "target_db": "prod-billing-snap-{run}",
        "ticket": "CHG0000007",
        "confirm": "prod-billing",
        "poll_seconds": 1,
    },
    "playbooks/runbooks/failover_drill.yml": {
        "drill": "rds",
        "target": "prod-scheduling",
        "ticket": "CHG0000007",
        "confirm": "prod-scheduling",
        "allow_production": True,
        "poll_seconds": 1,
    },
}

# Verbs that change something (the lab's own list in lab/server.py, kept in step by a test).
MUTATING_PREFIXES = (
    "Add", "Apply", "Associate", "Attach", "Authorize", "Cancel", "Copy", "Create", "Delete",
    "Deregister", "Detach", "Disable", "Disassociate", "Enable", "Failover", "Import", "Modify",
    "Promote", "Put", "Reboot", "Register", "Remove", "Replace", "Reset", "Restore", "Revoke",
    "Rotate", "Run", "Set", "Start", "Stop", "Tag", "Terminate", "Untag", "Update",
)  # fmt: skip

# Reads that disclose data rather than configuration: a read-only audit role must not hold them.
SENSITIVE_READS = frozenset(
    {
        "secretsmanager:GetSecretValue",
        "kms:Decrypt",
        "s3:GetObject",
        "ssm:GetParameter",
        "ssm:GetParameters",
        "rds:DownloadDBLogFilePortion",
        "logs:GetLogEvents",
        "logs:FilterLogEvents",
    }
)

# Calls AWS answers for any authenticated caller: no policy can grant or deny them.
NO_PERMISSION_NEEDED = frozenset({"sts:GetCallerIdentity"})

# Signing names whose botocore model or IAM prefix differs from the name itself.
MODEL_BY_SIGNING_NAME = {"monitoring": "cloudwatch", "elasticloadbalancing": "elbv2", "email": "ses"}
IAM_PREFIX_BY_SIGNING_NAME = {"monitoring": "cloudwatch"}

# S3 operations whose IAM action has another name (AWS: "Actions, resources and condition keys
# for Amazon S3"); every other S3 operation is authorised under its own name.
S3_IAM_ACTIONS = {
    "ListBuckets": "ListAllMyBuckets",
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "HeadBucket": "ListBucket",
    "HeadObject": "GetObject",
    "ListObjectVersions": "ListBucketVersions",
    "ListMultipartUploads": "ListBucketMultipartUploads",
    "ListParts": "ListMultipartUploadParts",
    "GetBucketEncryption": "GetEncryptionConfiguration",
    "PutBucketEncryption": "PutEncryptionConfiguration",
    "DeleteBucketEncryption": "PutEncryptionConfiguration",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
    "GetObjectLockConfiguration": "GetBucketObjectLockConfiguration",
    "PutObjectLockConfiguration": "PutBucketObjectLockConfiguration",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "PutLifecycleConfiguration",
    "GetBucketReplication": "GetReplicationConfiguration",
    "PutBucketReplication": "PutReplicationConfiguration",
    "GetBucketNotificationConfiguration": "GetBucketNotification",
    "PutBucketNotificationConfiguration": "PutBucketNotification",
    "GetBucketCors": "GetBucketCORS",
    "PutBucketCors": "PutBucketCORS",
    "GetBucketAccelerateConfiguration": "GetAccelerateConfiguration",
    "GetBucketOwnershipControls": "GetBucketOwnershipControls",
    "DeleteObjects": "DeleteObject",
    "CopyObject": "PutObject",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
}


@functools.cache
def _service_model(signing_name: str) -> Any:
    import botocore.session  # noqa: PLC0415 - only REST calls need botocore's models

    return botocore.session.get_session().get_service_model(
        MODEL_BY_SIGNING_NAME.get(signing_name, signing_name)
    )


@functools.cache
def _rest_routes(signing_name: str) -> list[tuple[str, re.Pattern[str], dict[str, str | None], int, str]]:
    """Each REST operation of a service as (method, path regex, query literals, specificity, name)."""
    model = _service_model(signing_name)
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        path, _, query = http["requestUri"].partition("?")
        pattern = ""
        for literal, label in re.findall(r"([^{]*)(\{[^}]*\})?", path):
            pattern += re.escape(literal)
            if label:
                pattern += "(.+)" if label.endswith("+}") else "([^/]+)"
        literals: dict[str, str | None] = {}
        for item in filter(None, query.split("&")):
            key, _, value = item.partition("=")
            literals[key] = value or None
        specificity = len(literals) * 1000 + len(re.sub(r"\{[^}]*\}", "", path))
        routes.append((http["method"], re.compile(f"^{pattern}/?$"), literals, specificity, name))
    return routes


def rest_operation(signing_name: str, method: str, path: str, query: str) -> str | None:
    """The operation a REST request calls, as botocore's model routes it (most specific wins)."""
    params = parse_qs(query, keep_blank_values=True)
    best: tuple[int, str] | None = None
    for route_method, regex, literals, specificity, name in _rest_routes(signing_name):
        if route_method != method or not regex.match(path or "/"):
            continue
        if any(k not in params or (v is not None and v not in params[k]) for k, v in literals.items()):
            continue
        if best is None or specificity > best[0]:
            best = (specificity, name)
    return best[1] if best else None


def api_operation(call: dict[str, Any]) -> str:
    """The API operation of one logged lab call, such as ``s3:GetBucketEncryption``.

    REST calls (logged as method and path) are resolved through botocore's routes; the prefix
    is the IAM service prefix (cloudwatch, not monitoring).
    """
    service = call["service"]
    prefix = IAM_PREFIX_BY_SIGNING_NAME.get(service, service)
    action = call["action"]
    if " " not in action:
        return f"{prefix}:{action}"
    method, _, path = action.partition(" ")
    operation = rest_operation(service, method, path, call.get("query", ""))
    if operation is None:
        raise ValueError(f"no {service} operation answers {method} {path}?{call.get('query', '')}")
    return f"{prefix}:{operation}"


def iam_action(call: dict[str, Any]) -> str:
    """The IAM action AWS checks for one logged lab call, such as ``rds:DescribeDBInstances``."""
    operation = api_operation(call)
    if call["service"] != "s3":
        return operation
    prefix, _, name = operation.partition(":")
    return f"{prefix}:{S3_IAM_ACTIONS.get(name, name)}"


def actions_from_calls(calls: list[dict[str, Any]]) -> list[str]:
    """The sorted IAM actions behind a call log, without those no policy governs."""
    return sorted({iam_action(c) for c in calls if c["service"] != "unknown"} - NO_PERMISSION_NEEDED)


def is_mutating(action: str) -> bool:
    """Whether an IAM action changes something, by the same verbs the lab classifies calls with."""
    return action.split(":", 1)[1].startswith(MUTATING_PREFIXES)


def _as_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def policy_actions(policy: dict[str, Any]) -> set[str]:
    """Every action an Allow statement of the policy names."""
    return {
        action
        for statement in _as_list_of_statements(policy)
        if statement.get("Effect") == "Allow"
        for action in _as_list(statement.get("Action"))
    }


def _as_list_of_statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    statements = policy.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def uncovered(policy: dict[str, Any], actions: list[str]) -> list[str]:
    """Actions of a run that no Allow statement names (case-insensitively, as IAM compares)."""
    allowed = {a.lower() for a in policy_actions(policy)}
    return [a for a in actions if a.lower() not in allowed]


@functools.cache
def _moto_s3_aliases() -> dict[str, set[str]]:
    """For each S3 IAM action, the action moto 5 checks instead when IAM enforcement is on.

    moto's S3 authoriser knows only some sub-resources: it checks ``GET /bucket?encryption`` as
    s3:ListBucket and ``PUT /bucket?encryption`` as s3:CreateBucket. Derived from moto's own
    ACTION_MAP for every S3 operation in botocore's model, so it follows moto upgrades.
    """
    from moto.s3.responses import ACTION_MAP  # noqa: PLC0415

    aliases: dict[str, set[str]] = {}
    for method, regex, literals, _, name in _rest_routes("s3"):
        if "(" not in regex.pattern:
            continue  # GET / lists buckets, and moto checks that as s3:ListAllMyBuckets too
        kind = "KEY" if "(.+)" in regex.pattern else "BUCKET"
        table = ACTION_MAP[kind].get(method)
        if not table:
            continue
        moto_action = next((a for q, a in table.items() if q in literals), table.get("DEFAULT"))
        if not moto_action:
            continue
        real = S3_IAM_ACTIONS.get(name, name)
        if moto_action != real:
            aliases.setdefault(f"s3:{real}", set()).add(f"s3:{moto_action}")
    return aliases


def lab_projection(policy: dict[str, Any]) -> dict[str, Any]:
    """The policy as moto 5 can enforce it, for the least-privilege tests.

    moto checks every non-S3 action against the resource ``*`` and evaluates no condition of an
    identity policy, so a statement scoped to ARNs would grant nothing there: its resources
    become ``*`` (conditions stay, moto ignores them). S3 statements keep their bucket ARNs,
    which moto does check, and gain the action names moto checks in place of the real ones;
    CloudWatch actions are repeated under moto's name for them (``monitoring:``).
    What the lab proves is therefore the action list, and S3 bucket scoping; resource ARNs and
    tag conditions of other services are checked only statically (see docs/safety.md).
    """
    projected = copy.deepcopy(policy)
    aliases = _moto_s3_aliases()
    signing_names = {prefix: signing for signing, prefix in IAM_PREFIX_BY_SIGNING_NAME.items()}
    for statement in _as_list_of_statements(projected):
        actions = _as_list(statement.get("Action"))
        if all(a.startswith("s3:") for a in actions):
            extra = sorted({alias for a in actions for alias in aliases.get(a, ())} - set(actions))
            statement["Action"] = actions + extra
        else:
            statement["Resource"] = "*"
            # moto names the action after the signing name: monitoring:DescribeAlarms.
            renamed = [
                f"{signing_names[a.split(':', 1)[0]]}:{a.split(':', 1)[1]}"
                for a in actions
                if a.split(":", 1)[0] in signing_names
            ]
            statement["Action"] = actions + renamed
    return projected


# Services whose REST-JSON requests moto 5.2 cannot authenticate when IAM enforcement is on: it
# answers SignatureDoesNotMatch (403) to correctly signed requests, whatever the policy says.
# Their calls are left out of the "nothing was denied" check, and tests show the limitation.
MOTO_UNVERIFIABLE_SERVICES = frozenset({"guardduty", "securityhub"})


def skeleton(actions: list[str], playbook: str) -> dict[str, Any]:
    """A policy naming exactly these actions, one statement per service, to scope by hand."""
    by_service: dict[str, list[str]] = {}
    for action in actions:
        by_service.setdefault(action.split(":", 1)[0], []).append(action)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": re.sub(r"[^A-Za-z0-9]", "", f"{Path(playbook).stem}{service}".title()),
                "Effect": "Allow",
                "Action": sorted(names),
                "Resource": "*",
            }
            for service, names in sorted(by_service.items())
        ],
    }


def is_playbook(path: Path) -> bool:
    """Whether a YAML file is a playbook: a list of plays, not an argument spec or vars file."""
    import yaml  # noqa: PLC0415 - PyYAML comes with ansible-core

    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError:
        return False
    return (
        isinstance(document, list)
        and bool(document)
        and all(
            isinstance(play, dict)
            and bool({"hosts", "import_playbook", "ansible.builtin.import_playbook"} & set(play))
            for play in document
        )
    )


def imported_playbooks(playbook: str) -> list[str]:
    """The playbooks a pure-import playbook (site.yml) runs, or [] when it has plays of its own.

    Such a playbook needs exactly its imports' permissions and makes exactly their calls, so
    the tests prove it through its imports and check that its policy is their union.
    """
    import yaml  # noqa: PLC0415

    plays = yaml.safe_load((ROOT / playbook).read_text())
    keys = ("import_playbook", "ansible.builtin.import_playbook")
    if not plays or not all(any(k in play for k in keys) for play in plays):
        return []
    folder = Path(playbook).parent
    return [str(folder / next(play[k] for k in keys if k in play)) for play in plays]


def union_policy(playbooks: list[str]) -> dict[str, Any]:
    """One policy holding every statement of these playbooks' policies, Sids kept unique."""
    statements = []
    for playbook in playbooks:
        policy = json.loads((ROOT / "docs" / "iam" / f"{Path(playbook).stem}.json").read_text())
        for statement in _as_list_of_statements(policy):
            if statement not in statements:
                statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


def committed_playbooks() -> list[str]:
    """Every playbook committed under playbooks/ (HEAD, not the index): what the tests cover."""
    listed = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", "HEAD", "--", "playbooks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return sorted(
        {p for p in listed if p.endswith(".yml") and (ROOT / p).is_file() and is_playbook(ROOT / p)}
    )


# A per-process secret for the lab's key-agnostic endpoint (see lab_environment).
THROWAWAY_SECRET = secrets.token_hex(20)


def masking_safe_env(env: dict[str, str]) -> dict[str, str]:
    """A lab environment with keys that Ansible's no_log masking cannot confuse with results."""
    return {**env, "AWS_ACCESS_KEY_ID": "careops-lab", "AWS_SECRET_ACCESS_KEY": THROWAWAY_SECRET}


def lab_environment(lab_dir: Path) -> tuple[dict[str, str], str]:
    """Environment that points ansible-playbook at the lab in ``lab_dir``, and its endpoint."""
    if str(ROOT) not in sys.path:  # run as a script, the repository's root is not on the path
        sys.path.insert(0, str(ROOT))
    from lab.cli import lab_env  # noqa: PLC0415 - the lab package is only needed with a lab

    state = json.loads((lab_dir / "state.json").read_text())
    bin_dir = Path(sys.executable).parent
    # Any key works while enforcement is off; masking_safe_env's keys are ones Ansible's no_log
    # masking cannot find inside module results.
    env = masking_safe_env(
        {
            **os.environ,
            **lab_env(state),
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_INVENTORY_CACHE_CONNECTION": str(lab_dir / "inventory-cache"),
            "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(lab_dir / "fact-cache"),
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    return env, state["endpoint"]


def _lab_api(endpoint: str, action: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback lab endpoint
        f"{endpoint}/lab-api/{action}", data=data, method="POST" if data is not None else "GET"
    )
    with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310
        return json.load(reply)


def runbook_inputs(playbook: str, run: str, rds: Any = None) -> dict[str, Any]:
    """``run_inputs`` plus, for runbooks, the evidence copies to S3 and CloudWatch Logs."""
    extra = EVIDENCE_COPIES if playbook.startswith("playbooks/runbooks/") else {}
    return run_inputs(playbook, run, rds) | extra


def run_inputs(playbook: str, run: str, rds: Any = None) -> dict[str, Any]:
    """The inputs of ``RUNS`` for one playbook, placeholders filled in (``rds``: a boto3 client)."""
    text = json.dumps(RUNS.get(playbook, {})).replace("{run}", run)
    for source in re.findall(r"\{manual_snapshot:([^}]+)\}", text):
        if rds is None:
            raise ValueError(f"{playbook} needs an RDS client to take a snapshot of {source}")
        snapshot = f"{source}-manual-{run}"
        known = {
            s["DBSnapshotIdentifier"]
            for s in rds.describe_db_snapshots(DBInstanceIdentifier=source)["DBSnapshots"]
        }
        if snapshot not in known:
            rds.create_db_snapshot(DBInstanceIdentifier=source, DBSnapshotIdentifier=snapshot)
        rds.get_waiter("db_snapshot_available").wait(
            DBSnapshotIdentifier=snapshot, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
        text = text.replace(f"{{manual_snapshot:{source}}}", snapshot)
    return json.loads(text)


def derive(playbook: str, lab_dir: Path, extra_vars: dict[str, Any], check: bool) -> dict[str, Any]:
    """Run one playbook against the lab and return the IAM actions its calls needed."""
    env, endpoint = lab_environment(lab_dir)
    _lab_api(endpoint, "calls/reset", {})
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "inventories/lab", playbook]
    command += ["-e", json.dumps(extra_vars)] if extra_vars else []
    command += ["--check"] if check else []
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    calls = _lab_api(endpoint, "calls")["calls"]
    return {
        "playbook": playbook,
        "rc": result.returncode,
        "calls": len(calls),
        "actions": actions_from_calls(calls),
        "output_tail": result.stdout.splitlines()[-15:] if result.returncode else [],
    }


def _rds(lab_dir: Path) -> Any:
    import boto3  # noqa: PLC0415

    env, endpoint = lab_environment(lab_dir)
    return boto3.client(
        "rds",
        region_name=env["AWS_REGION"],
        endpoint_url=endpoint,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("derive", "check"):
        command = sub.add_parser(name)
        if name == "check":
            command.add_argument("policy", type=Path)
        command.add_argument("playbook")
        command.add_argument("-e", "--extra-vars", default=None, help="JSON; default: RUNS")
        command.add_argument("--check-mode", action="store_true", help="run with --check")
        command.add_argument("--skeleton", action="store_true", help="print a policy skeleton")
    args = parser.parse_args(argv)
    lab_dir = Path(os.environ.get("CAREOPS_LAB_DIR", ROOT / ".lab")).resolve()
    extra = (
        json.loads(args.extra_vars)
        if args.extra_vars
        else runbook_inputs(args.playbook, "cli", _rds(lab_dir))
    )
    result = derive(args.playbook, lab_dir, extra, args.check_mode)
    if args.command == "derive":
        print(json.dumps(skeleton(result["actions"], args.playbook) if args.skeleton else result, indent=2))
        return 0 if result["rc"] == 0 else 1
    missing = uncovered(json.loads(args.policy.read_text()), result["actions"])
    print(json.dumps({**result, "uncovered": missing}, indent=2))
    return 0 if result["rc"] == 0 and not missing else 1


if __name__ == "__main__":
    sys.exit(main())
