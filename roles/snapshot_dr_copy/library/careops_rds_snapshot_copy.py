#!/usr/bin/python
"""Ansible module: copy an RDS DB or cluster snapshot to another region with that region's KMS key."""

from __future__ import annotations

import contextlib
import time
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports the missing dependency
    from botocore.exceptions import BotoCoreError, ClientError

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list

DOCUMENTATION = r"""
---
module: careops_rds_snapshot_copy
short_description: Copy a DB or Aurora cluster snapshot to another region, encrypted with that region's key
description:
  - Calls C(CopyDBSnapshot) or C(CopyDBClusterSnapshot) in I(region), the destination, with the
    source snapshot's ARN, C(SourceRegion) (botocore signs the pre-signed URL AWS needs) and
    C(KmsKeyId), a key of the destination region. An encrypted snapshot cannot be copied to
    another region without one; amazon.aws.rds_instance_snapshot and rds_cluster_snapshot (11.x)
    have no option to pass it.
  - Resolves I(kms_key_id) (alias, key ID or ARN) in the destination region first and refuses a
    key that does not exist there or is not enabled, before any write. With I(action=check_key)
    it does only that, never fails on a bad key and returns C(problem), so that a preflight can
    refuse with its own message before the run writes anything.
  - Idempotent: when I(target_identifier) already exists in the destination and was copied from
    the same source, nothing is called; when it exists with another source, the module fails.
  - In check mode it only reads, and reports whether a copy would be made.
  - With I(wait) it polls until the copy is available. Retries with jittered backoff; botocore's
    own retries follow C(AWS_RETRY_MODE) and C(AWS_MAX_ATTEMPTS) from the environment.
options:
  action:
    description: C(copy) the snapshot, or only C(check_key) in the destination region (read-only).
    type: str
    choices: [copy, check_key]
    default: copy
  kind:
    description: C(instance) for a DB snapshot, C(cluster) for an Aurora cluster snapshot.
    type: str
    choices: [instance, cluster]
    default: instance
  source_snapshot_arn:
    description: ARN of the source snapshot (AWS needs the ARN for a cross-region copy); required to copy.
    type: str
  source_region:
    description: Region of the source snapshot; required to copy.
    type: str
  target_identifier:
    description: Identifier of the copy in the destination region; required to copy.
    type: str
  kms_key_id:
    description: KMS key of the destination region for the copy; alias (C(alias/name)), key ID or key ARN.
    type: str
    required: true
  tags:
    description: Tags of the copy; the source's tags are not copied.
    type: dict
    default: {}
  wait:
    description: Wait until the copy is available.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait at most.
    type: int
    default: 7200
  poll_seconds:
    description: Seconds between polls.
    type: float
    default: 15
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - careops platform team
"""

EXAMPLES = r"""
- name: Preflight | Check the DR region's KMS key
  careops_rds_snapshot_copy:
    action: check_key
    region: us-east-1
    kms_key_id: alias/homecare-rds
  register: dr_key

- name: Snapshot | Copy the DB snapshot to the DR region with its KMS key
  careops_rds_snapshot_copy:
    kind: instance
    source_snapshot_arn: arn:aws:rds:sa-east-1:123456789012:snapshot:careops-prod-auth-20261203180000
    source_region: sa-east-1
    region: us-east-1
    target_identifier: careops-prod-auth-20261203180000
    kms_key_id: alias/homecare-rds
    tags:
      careops:runbook: snapshot
      careops:ticket: CHG-2
"""

RETURN = r"""
problem:
  description: With I(action=check_key), why the key cannot be used, or null.
  returned: always
  type: str
snapshot:
  description: >-
    The copy: identifier, arn, status, encrypted, kms_key_id, source (the source snapshot's ARN
    as AWS records it), region, created (creation time, ISO 8601) and tags.
  returned: when a copy exists (not in check mode before the copy, nor with I(action=check_key))
  type: dict
kms_key_arn:
  description: The destination key as resolved in the destination region.
  returned: always
  type: str
elapsed_seconds:
  description: Seconds from the copy call to the end of the wait.
  returned: always
  type: float
"""

KINDS = {
    "instance": {
        "describe": "describe_db_snapshots",
        "id_param": "DBSnapshotIdentifier",
        "list_key": "DBSnapshots",
        "not_found": "DBSnapshotNotFound",
        "copy": "copy_db_snapshot",
        "source_param": "SourceDBSnapshotIdentifier",
        "target_param": "TargetDBSnapshotIdentifier",
        "id_key": "DBSnapshotIdentifier",
        "arn_key": "DBSnapshotArn",
        "source_key": "SourceDBSnapshotIdentifier",
    },
    "cluster": {
        "describe": "describe_db_cluster_snapshots",
        "id_param": "DBClusterSnapshotIdentifier",
        "list_key": "DBClusterSnapshots",
        "not_found": "DBClusterSnapshotNotFoundFault",
        "copy": "copy_db_cluster_snapshot",
        "source_param": "SourceDBClusterSnapshotIdentifier",
        "target_param": "TargetDBClusterSnapshotIdentifier",
        "id_key": "DBClusterSnapshotIdentifier",
        "arn_key": "DBClusterSnapshotArn",
        "source_key": "SourceDBClusterSnapshotArn",
    },
}


def resolve_key(kms: Any, key_id: str) -> tuple[str | None, str | None]:
    """The key's ARN in this region, or why it cannot be used."""
    try:
        meta = kms.describe_key(KeyId=key_id, aws_retry=True)["KeyMetadata"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NotFoundException", "InvalidArnException"):
            return None, "does not exist"
        raise
    if meta.get("KeyState") != "Enabled":
        return None, f"is {meta.get('KeyState')}, not Enabled"
    return meta["Arn"], None


def read_copy(rds: Any, spec: dict[str, str], identifier: str) -> dict[str, Any] | None:
    """The snapshot in the destination region, or None."""
    try:
        found = getattr(rds, spec["describe"])(**{spec["id_param"]: identifier}, aws_retry=True)[
            spec["list_key"]
        ]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in (spec["not_found"], "DBSnapshotNotFoundFault"):
            return None
        raise
    return found[0] if found else None


def summary(spec: dict[str, str], snapshot: dict[str, Any], region: str) -> dict[str, Any]:
    created = snapshot.get("SnapshotCreateTime")
    return {
        "identifier": snapshot[spec["id_key"]],
        "arn": snapshot.get(spec["arn_key"]),
        "status": snapshot.get("Status"),
        "encrypted": bool(snapshot.get("Encrypted", snapshot.get("StorageEncrypted"))),
        "kms_key_id": snapshot.get("KmsKeyId"),
        "source": snapshot.get(spec["source_key"]),
        "region": region,
        "created": created.isoformat() if hasattr(created, "isoformat") else created,
        "tags": {t["Key"]: t["Value"] for t in snapshot.get("TagList", [])},
    }


def check_key(module: Any, kms: Any) -> None:
    """Read-only: resolve the key in the destination region and exit with it or the problem."""
    key_id, region = module.params["kms_key_id"], module.region
    try:
        key_arn, problem = resolve_key(kms, key_id)
    except (BotoCoreError, ClientError) as error:
        module.fail_json_aws(error, msg=f"Could not read KMS key {key_id!r} in {region}")
    module.exit_json(
        changed=False,
        elapsed_seconds=0.0,
        kms_key_arn=key_arn,
        problem=f"{key_id} {problem} in {region}" if problem else None,
    )


def wait_for(module: Any, rds: Any, spec: dict[str, str], target: str) -> tuple[dict[str, Any], float]:
    """Poll the copy until it is available, failed, or the wait runs out."""
    params, region = module.params, module.region
    started = time.monotonic()
    snapshot = read_copy(rds, spec, target) or {}
    while params["wait"] and not module.check_mode and snapshot.get("Status") != "available":
        if snapshot.get("Status") in ("failed", "incompatible-parameters"):
            module.fail_json(msg=f"Copy {target} in {region} is {snapshot['Status']}.")
        if time.monotonic() - started >= params["wait_timeout"]:
            module.fail_json(
                msg=f"Copy {target} in {region} is still {snapshot.get('Status')} after "
                f"{params['wait_timeout']} s; it goes on in the background."
            )
        time.sleep(params["poll_seconds"])
        snapshot = read_copy(rds, spec, target) or {}
    return snapshot, round(time.monotonic() - started, 3)


def copy(module: Any, rds: Any, kms: Any) -> None:
    """Resolve the key, copy unless the copy exists, and wait."""
    params, region = module.params, module.region
    spec = KINDS[params["kind"]]
    source, target = params["source_snapshot_arn"], params["target_identifier"]
    if not source.startswith("arn:"):
        module.fail_json(msg=f"source_snapshot_arn must be an ARN, got {source!r}")
    result: dict[str, Any] = {"changed": False, "problem": None}
    try:
        key_arn, problem = resolve_key(kms, params["kms_key_id"])
        if problem:
            module.fail_json(
                msg=f"KMS key {params['kms_key_id']!r} {problem} in {region}; a copy to {region} needs an "
                "enabled key of that region. Nothing was copied."
            )
        result["kms_key_arn"] = key_arn
        existing = read_copy(rds, spec, target)
        if existing is not None:
            recorded = existing.get(spec["source_key"])
            if recorded and recorded != source:
                module.fail_json(
                    msg=f"{target} already exists in {region} as a copy of {recorded}, not of {source}; "
                    "choose another target identifier."
                )
        elif module.check_mode:
            module.exit_json(changed=True, elapsed_seconds=0.0, **result)
        else:
            getattr(rds, spec["copy"])(
                **{
                    spec["source_param"]: source,
                    spec["target_param"]: target,
                    "KmsKeyId": key_arn,
                    "Tags": ansible_dict_to_boto3_tag_list(params["tags"]),
                    "SourceRegion": params["source_region"],
                },
                aws_retry=True,
            )
            result["changed"] = True
        snapshot, result["elapsed_seconds"] = wait_for(module, rds, spec, target)
    except (BotoCoreError, ClientError) as error:
        module.fail_json_aws(error, msg=f"Could not copy {source} to {region} as {target}")
    if snapshot:
        result["snapshot"] = summary(spec, snapshot, region)
    module.exit_json(**result)


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "action": {"type": "str", "choices": ["copy", "check_key"], "default": "copy"},
            "kind": {"type": "str", "choices": ["instance", "cluster"], "default": "instance"},
            "source_snapshot_arn": {"type": "str"},
            "source_region": {"type": "str"},
            "target_identifier": {"type": "str"},
            "kms_key_id": {"type": "str", "required": True, "no_log": False},
            "tags": {"type": "dict", "default": {}},
            "wait": {"type": "bool", "default": True},
            "wait_timeout": {"type": "int", "default": 7200},
            "poll_seconds": {"type": "float", "default": 15},
        },
        required_if=[("action", "copy", ["source_snapshot_arn", "source_region", "target_identifier"])],
        supports_check_mode=True,
    )
    retry = AWSRetry.jittered_backoff()
    kms = module.client("kms", retry_decorator=retry)
    if module.params["action"] == "check_key":
        check_key(module, kms)
    copy(module, module.client("rds", retry_decorator=retry), kms)


if __name__ == "__main__":
    main()
