#!/usr/bin/python
"""Ansible module: wait for a drilled resource to recover, stopping at once if a stop alarm fires."""

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
module: careops_drill_wait
short_description: Wait until a drilled DB instance, Aurora cluster or ASG recovers, watching stop alarms
description:
  - Polls the drilled resource until it has recovered, and the given CloudWatch alarms on every
    poll; stops waiting as soon as one of them is in ALARM (a stop condition of the drill).
  - C(rds_instance) has recovered when it is available with its primary in another AZ than
    I(availability_zone_before); when the primary has not moved after I(transition_grace_seconds)
    and the instance is available, the wait ends too and the caller sees C(final) unchanged.
  - C(aurora_cluster) has recovered when the cluster and all its members are available and its
    writer is another instance than I(writer_before); after I(transition_grace_seconds) an
    available cluster with the same writer ends the wait too, and C(final) shows it.
  - C(asg) has recovered when the group has its desired number of InService, Healthy instances,
    none of them the terminated one, and each of its target groups sees at least that many
    healthy targets among them.
  - Read-only. It never fails on a stop alarm or a timeout: it returns them for the runbook to
    assert on, so the failure message says what the drill found.
options:
  kind:
    description: What is drilled.
    type: str
    choices: [rds_instance, aurora_cluster, asg]
    required: true
  target:
    description: DB instance identifier, Aurora cluster identifier or auto scaling group name.
    type: str
    required: true
  terminated_instance_id:
    description: For C(asg), the instance the drill terminated; it must not count as recovered capacity.
    type: str
  alarm_names:
    description: CloudWatch alarms that stop the wait when in ALARM.
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds to wait at most.
    type: float
    default: 1800
  poll_seconds:
    description: Seconds between polls.
    type: float
    default: 5
  availability_zone_before:
    description: For C(rds_instance), the primary's AZ before the failover.
    type: str
  writer_before:
    description: For C(aurora_cluster), the writer before the failover.
    type: str
  since_epoch:
    description: Start of the drill (epoch seconds), so that C(elapsed_seconds) includes the failover call.
    type: float
  transition_grace_seconds:
    description:
      - For C(rds_instance) and C(aurora_cluster), seconds after which an available, unmoved
        resource ends the wait.
    type: float
    default: 60
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - careops platform team
"""

EXAMPLES = r"""
- name: Drill | Wait until the instance is available again, watching stop alarms
  careops_drill_wait:
    kind: rds_instance
    target: prod-clinical-records
    alarm_names: [prod-clinical-records-cpu-high]
    timeout: 1800
  register: recovery
"""

RETURN = r"""
recovered:
  description: Whether the resource recovered before the timeout and without a stop alarm.
  returned: always
  type: bool
elapsed_seconds:
  description: Seconds from the start of the wait to recovery (or to the stop).
  returned: always
  type: float
stopped_by_alarms:
  description: Stop alarms found in ALARM; the wait stopped at the first poll that saw them.
  returned: always
  type: list
  elements: str
timed_out:
  description: Whether the timeout passed first.
  returned: always
  type: bool
states_seen:
  description: Statuses (rds_instance) or capacity readings (asg) in the order seen, without repeats.
  returned: always
  type: list
  elements: str
final:
  description: >-
    Last reading; AZs for rds_instance, writer and its AZ for aurora_cluster, healthy instances
    and targets for asg.
  returned: always
  type: dict
"""


def alarms_firing(cloudwatch: Any, names: list[str]) -> list[str]:
    """Names of the given alarms that are in ALARM now."""
    if not names:
        return []
    reply = cloudwatch.describe_alarms(AlarmNames=names, StateValue="ALARM", aws_retry=True)
    # Filter again here: some endpoints (moto among them) ignore StateValue when AlarmNames is
    # given, and a quiet alarm must never stop a drill.
    return sorted(
        alarm["AlarmName"]
        for alarm in reply.get("MetricAlarms", []) + reply.get("CompositeAlarms", [])
        if alarm.get("StateValue") == "ALARM"
    )


def read_rds(rds: Any, target: str) -> dict[str, Any]:
    """Status and AZs of the instance."""
    instance = rds.describe_db_instances(DBInstanceIdentifier=target, aws_retry=True)["DBInstances"][0]
    return {
        "status": instance["DBInstanceStatus"],
        "availability_zone": instance.get("AvailabilityZone"),
        "secondary_availability_zone": instance.get("SecondaryAvailabilityZone"),
    }


def read_cluster(rds: Any, target: str) -> dict[str, Any]:
    """Status, writer and the writer's AZ of the cluster, and whether every member is available."""
    cluster = rds.describe_db_clusters(DBClusterIdentifier=target, aws_retry=True)["DBClusters"][0]
    instances = rds.describe_db_instances(
        Filters=[{"Name": "db-cluster-id", "Values": [target]}], aws_retry=True
    )["DBInstances"]
    zones = {i["DBInstanceIdentifier"]: i.get("AvailabilityZone") for i in instances}
    writer = next(
        (m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"] if m["IsClusterWriter"]), None
    )
    return {
        "status": cluster["Status"],
        "writer": writer,
        "availability_zone": zones.get(writer) if writer else None,
        "members_available": all(i["DBInstanceStatus"] == "available" for i in instances),
    }


def read_asg(autoscaling: Any, elbv2: Any, target: str, terminated: str | None) -> dict[str, Any]:
    """Desired capacity, healthy in-service instances and healthy targets per target group."""
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[target], aws_retry=True)[
        "AutoScalingGroups"
    ][0]
    healthy = sorted(
        i["InstanceId"]
        for i in group["Instances"]
        if i["LifecycleState"] == "InService"
        and i["HealthStatus"] == "Healthy"
        and i["InstanceId"] != terminated
    )
    targets: dict[str, int] = {}
    for arn in group.get("TargetGroupARNs", []):
        health = elbv2.describe_target_health(TargetGroupArn=arn, aws_retry=True)["TargetHealthDescriptions"]
        targets[arn.split("/")[-2] if "/" in arn else arn] = sum(
            1 for t in health if t["Target"]["Id"] in healthy and t["TargetHealth"]["State"] == "healthy"
        )
    return {"desired": group["DesiredCapacity"], "healthy_instances": healthy, "healthy_targets": targets}


def asg_recovered(reading: dict[str, Any]) -> bool:
    desired = reading["desired"]
    return len(reading["healthy_instances"]) >= desired and all(
        count >= desired for count in reading["healthy_targets"].values()
    )


def main() -> None:
    """Poll until recovered, stopped by an alarm, or timed out."""
    module = AnsibleAWSModule(
        argument_spec={
            "kind": {"type": "str", "choices": ["rds_instance", "aurora_cluster", "asg"], "required": True},
            "target": {"type": "str", "required": True},
            "terminated_instance_id": {"type": "str"},
            "alarm_names": {"type": "list", "elements": "str", "default": []},
            "timeout": {"type": "float", "default": 1800},
            "poll_seconds": {"type": "float", "default": 5},
            "availability_zone_before": {"type": "str"},
            "writer_before": {"type": "str"},
            "since_epoch": {"type": "float"},
            "transition_grace_seconds": {"type": "float", "default": 60},
        },
        supports_check_mode=True,
    )
    params = module.params
    retry = AWSRetry.jittered_backoff()
    cloudwatch = module.client("cloudwatch", retry_decorator=retry)
    rds = module.client("rds", retry_decorator=retry) if params["kind"] != "asg" else None
    autoscaling = module.client("autoscaling", retry_decorator=retry) if params["kind"] == "asg" else None
    elbv2 = module.client("elbv2", retry_decorator=retry) if params["kind"] == "asg" else None

    # Elapsed time counts from the start of the drill when given, so the failover call is included.
    offset = max(0.0, time.time() - params["since_epoch"]) if params["since_epoch"] else 0.0
    started = time.monotonic() - offset
    states: list[str] = []
    final: dict[str, Any] = {}
    result: dict[str, Any] = {
        "changed": False,
        "recovered": False,
        "timed_out": False,
        "stopped_by_alarms": [],
    }
    try:
        while True:
            elapsed = time.monotonic() - started
            firing = alarms_firing(cloudwatch, params["alarm_names"])
            if firing:
                result["stopped_by_alarms"] = firing
                break
            if params["kind"] == "rds_instance":
                final = read_rds(rds, params["target"])
                state = final["status"]
                moved = final["availability_zone"] != params["availability_zone_before"]
                done = state == "available" and (moved or elapsed >= params["transition_grace_seconds"])
            elif params["kind"] == "aurora_cluster":
                final = read_cluster(rds, params["target"])
                state = final["status"] if final["members_available"] else f"{final['status']}, member busy"
                moved = final["writer"] != params["writer_before"]
                settled = final["status"] == "available" and final["members_available"]
                done = settled and (moved or elapsed >= params["transition_grace_seconds"])
            else:
                final = read_asg(autoscaling, elbv2, params["target"], params["terminated_instance_id"])
                state = f"{len(final['healthy_instances'])}/{final['desired']} healthy"
                done = asg_recovered(final)
            if not states or states[-1] != state:
                states.append(state)
            if done:
                result["recovered"] = True
                break
            if elapsed >= params["timeout"]:
                result["timed_out"] = True
                break
            time.sleep(params["poll_seconds"])
    except (BotoCoreError, ClientError) as error:
        module.fail_json_aws(error, msg=f"Could not read the state of {params['target']} during the drill")
    result.update(elapsed_seconds=round(time.monotonic() - started, 3), states_seen=states, final=final)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
