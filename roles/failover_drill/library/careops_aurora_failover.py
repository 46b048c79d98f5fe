#!/usr/bin/python
"""Ansible module: force an Aurora cluster failover and say where the writer was and went."""

from __future__ import annotations

import contextlib
import time
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports the missing dependency
    from botocore.exceptions import BotoCoreError, ClientError

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

DOCUMENTATION = r"""
---
module: careops_aurora_failover
short_description: Fail an Aurora cluster over to a reader in another AZ, reporting writer and AZ
description:
  - Reads the cluster and its members, picks the reader that would take over (the given one, or
    the available reader with the lowest promotion tier in another AZ than the writer), and calls
    C(FailoverDBCluster) with it as the target. amazon.aws has no module for this call.
  - Refuses, before any write, a cluster that does not exist, is not available, has a member that
    is not available, or has no available reader in another AZ (a single-member cluster has none).
    The refusal is returned as C(problem); the module fails with it unless in check mode, where it
    only reports, so a preflight can read the topology and assert on C(problem) itself.
  - In check mode nothing is called but reads; C(changed) says whether a failover would happen.
  - With I(wait), polls until the cluster is available with the new writer and reports it in
    C(writer_after); without, C(writer_after) is what AWS reports right after the call (the
    switch takes seconds to a minute on AWS).
  - Retries with jittered backoff; botocore's own retries follow C(AWS_RETRY_MODE) and
    C(AWS_MAX_ATTEMPTS) from the environment.
options:
  db_cluster_identifier:
    description: The Aurora cluster to fail over.
    type: str
    required: true
  target_db_instance_identifier:
    description: The reader to promote; by default the module picks one in another AZ.
    type: str
  wait:
    description: Wait until the cluster is available with its new writer.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait at most with I(wait).
    type: int
    default: 1800
  poll_seconds:
    description: Seconds between polls with I(wait).
    type: float
    default: 5
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - careops platform team
"""

EXAMPLES = r"""
- name: Preflight | Read the cluster and the reader that would take over
  careops_aurora_failover:
    db_cluster_identifier: hml-reports-aurora
  check_mode: true
  register: topology

- name: Drill | Fail the cluster over
  careops_aurora_failover:
    db_cluster_identifier: hml-reports-aurora
    target_db_instance_identifier: "{{ topology.target }}"
  register: failover
"""

RETURN = r"""
problem:
  description: Why the cluster cannot be failed over, or null.
  returned: always
  type: str
cluster:
  description: >-
    The cluster before the failover: identifier, status, engine, engine_version, endpoint
    (address, port), reader_endpoint, database_name, storage_encrypted, kms_key_id, tags (dict)
    and members (identifier, availability_zone, status, is_writer, promotion_tier).
  returned: when the cluster exists
  type: dict
writer_before:
  description: The writer before the failover.
  returned: when the cluster exists
  type: str
availability_zone_before:
  description: The writer's AZ before the failover.
  returned: when the cluster exists
  type: str
target:
  description: The reader chosen to take over.
  returned: when there is no problem
  type: str
target_availability_zone:
  description: The chosen reader's AZ.
  returned: when there is no problem
  type: str
writer_after:
  description: The writer after the call (after the wait with I(wait)); null in check mode.
  returned: always
  type: str
availability_zone_after:
  description: The writer's AZ after the call; null in check mode.
  returned: always
  type: str
status_after:
  description: The cluster's status after the call.
  returned: always
  type: str
elapsed_seconds:
  description: Seconds from the call to the end of the wait (0 without I(wait)).
  returned: always
  type: float
"""


def read_cluster(rds: Any, identifier: str) -> dict[str, Any] | None:
    """The cluster and its members as the drill needs them, or None when it does not exist."""
    try:
        cluster = rds.describe_db_clusters(DBClusterIdentifier=identifier, aws_retry=True)["DBClusters"][0]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "DBClusterNotFoundFault":
            return None
        raise
    instances = rds.describe_db_instances(
        Filters=[{"Name": "db-cluster-id", "Values": [identifier]}], aws_retry=True
    )["DBInstances"]
    by_id = {i["DBInstanceIdentifier"]: i for i in instances}
    members = []
    for member in cluster.get("DBClusterMembers", []):
        instance = by_id.get(member["DBInstanceIdentifier"], {})
        members.append(
            {
                "identifier": member["DBInstanceIdentifier"],
                "availability_zone": instance.get("AvailabilityZone"),
                "status": instance.get("DBInstanceStatus", "unknown"),
                "is_writer": bool(member.get("IsClusterWriter")),
                "promotion_tier": member.get("PromotionTier", 1),
            }
        )
    return {
        "identifier": cluster["DBClusterIdentifier"],
        "arn": cluster.get("DBClusterArn"),
        "status": cluster.get("Status"),
        "engine": cluster.get("Engine"),
        "engine_version": cluster.get("EngineVersion"),
        "endpoint": {"address": cluster.get("Endpoint"), "port": cluster.get("Port")},
        "reader_endpoint": cluster.get("ReaderEndpoint"),
        "database_name": cluster.get("DatabaseName"),
        "storage_encrypted": bool(cluster.get("StorageEncrypted")),
        "kms_key_id": cluster.get("KmsKeyId"),
        "tags": {t["Key"]: t["Value"] for t in cluster.get("TagList", [])},
        "members": members,
    }


def writer_of(cluster: dict[str, Any]) -> dict[str, Any] | None:
    return next((m for m in cluster["members"] if m["is_writer"]), None)


def health_problem(cluster: dict[str, Any]) -> str | None:
    """Why the cluster is not healthy enough to drill, or None."""
    name = cluster["identifier"]
    if cluster["status"] != "available":
        return f"cluster {name} is {cluster['status']}; drill only an available cluster."
    busy = [m["identifier"] for m in cluster["members"] if m["status"] != "available"]
    if busy:
        return f"member(s) {', '.join(busy)} of cluster {name} are not available; drill a healthy cluster."
    return None


def choose_target(cluster: dict[str, Any], wanted: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """The reader to promote, or the reason there is none."""
    name = cluster["identifier"]
    problem = health_problem(cluster)
    if problem:
        return None, problem
    writer = writer_of(cluster)
    if writer is None:
        return None, f"cluster {name} has no writer; there is nothing to fail over."
    readers = [m for m in cluster["members"] if not m["is_writer"]]
    if not readers:
        return None, (
            f"cluster {name} has a single member ({writer['identifier']}): a failover needs a reader to "
            "promote, so there is nothing to fail over to. Add a reader in another AZ first."
        )
    if wanted:
        readers = [m for m in readers if m["identifier"] == wanted]
        if not readers:
            return None, f"{wanted} is not a reader of cluster {name}."
    elsewhere = [m for m in readers if m["availability_zone"] != writer["availability_zone"]]
    if not elsewhere:
        return None, (
            f"every reader of cluster {name} is in the writer's AZ {writer['availability_zone']}: "
            "the drill rehearses the loss of an AZ, so it needs a reader in another one."
        )
    return sorted(elsewhere, key=lambda m: (m["promotion_tier"], m["identifier"]))[0], None


def main() -> None:
    """Read, refuse or fail over, and optionally wait for the new writer."""
    module = AnsibleAWSModule(
        argument_spec={
            "db_cluster_identifier": {"type": "str", "required": True},
            "target_db_instance_identifier": {"type": "str"},
            "wait": {"type": "bool", "default": False},
            "wait_timeout": {"type": "int", "default": 1800},
            "poll_seconds": {"type": "float", "default": 5},
        },
        supports_check_mode=True,
    )
    params = module.params
    name = params["db_cluster_identifier"]
    rds = module.client("rds", retry_decorator=AWSRetry.jittered_backoff())
    result: dict[str, Any] = {
        "changed": False,
        "problem": None,
        "writer_after": None,
        "availability_zone_after": None,
        "status_after": None,
        "elapsed_seconds": 0.0,
    }
    try:
        cluster = read_cluster(rds, name)
    except (BotoCoreError, ClientError) as error:
        module.fail_json_aws(error, msg=f"Could not read Aurora cluster {name}")
    if cluster is None:
        result["problem"] = (
            f"there is no Aurora cluster named '{name}' in this account and region, "
            "so there is nothing to fail over."
        )
    else:
        writer = writer_of(cluster)
        result.update(
            cluster=cluster,
            writer_before=writer["identifier"] if writer else None,
            availability_zone_before=writer["availability_zone"] if writer else None,
        )
        target, problem = choose_target(cluster, params["target_db_instance_identifier"])
        result["problem"] = problem
        if target is not None:
            result.update(target=target["identifier"], target_availability_zone=target["availability_zone"])
    if result["problem"]:
        if module.check_mode:
            module.exit_json(**result)
        module.fail_json(msg=f"Aurora failover refused, nothing was changed: {result['problem']}", **result)
    result["changed"] = True
    if module.check_mode:
        module.exit_json(**result)

    started = time.monotonic()
    try:
        rds.failover_db_cluster(
            DBClusterIdentifier=name, TargetDBInstanceIdentifier=result["target"], aws_retry=True
        )
        after = read_cluster(rds, name) or {}
        while params["wait"]:
            moved = (writer_of(after) or {}).get("identifier") == result["target"]
            if after.get("status") == "available" and moved:
                break
            if time.monotonic() - started >= params["wait_timeout"]:
                module.fail_json(
                    msg=f"Cluster {name} did not finish failing over to {result['target']} within "
                    f"{params['wait_timeout']} s (status {after.get('status')}); check it now.",
                    **result,
                )
            time.sleep(params["poll_seconds"])
            after = read_cluster(rds, name) or {}
    except (BotoCoreError, ClientError) as error:
        module.fail_json_aws(error, msg=f"Could not fail Aurora cluster {name} over to {result['target']}")
    new_writer = writer_of(after) if after else None
    result.update(
        writer_after=new_writer["identifier"] if new_writer else None,
        availability_zone_after=new_writer["availability_zone"] if new_writer else None,
        status_after=after.get("status"),
        elapsed_seconds=round(time.monotonic() - started, 3) if params["wait"] else 0.0,
    )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
