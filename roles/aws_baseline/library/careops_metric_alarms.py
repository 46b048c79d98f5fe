#!/usr/bin/python
"""Ansible module: create or update a set of CloudWatch metric alarms in one pass."""

from __future__ import annotations

from typing import Any

from ansible.module_utils.careops_audit.aws import client
from ansible.module_utils.careops_audit.checks import alarm_differences

try:
    import botocore.exceptions
except ImportError:
    botocore = None  # AnsibleAWSModule reports the missing botocore itself

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

DOCUMENTATION = r"""
---
module: careops_metric_alarms
short_description: Create or update many CloudWatch metric alarms in one pass
description:
  - Reads the named alarms in batches of 100 and calls C(PutMetricAlarm) only for those that
    are missing or differ in metric, dimensions, statistic, period, evaluation periods,
    threshold, comparison, missing-data treatment, or lack one of the wanted actions.
  - One module call for the whole alarm catalogue of a region; a loop of
    M(amazon.aws.cloudwatch_metric_alarm) makes one Ansible task round trip and one describe
    call per alarm, which for a hundred alarms per environment is minutes, not seconds.
  - Never deletes an alarm.
version_added: 0.1.0
author: careops platform team
options:
  alarms:
    description: C(PutMetricAlarm) arguments (CamelCase), as the careops audit computes them.
    type: list
    elements: dict
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Supports check mode and diff mode.
"""

EXAMPLES = r"""
- name: Baseline | Put the missing alarms of sa-east-1
  careops_metric_alarms:
    region: sa-east-1
    alarms:
      - AlarmName: prod-auth-cpu-high
        Namespace: AWS/RDS
        MetricName: CPUUtilization
        Dimensions: [{Name: DBInstanceIdentifier, Value: prod-auth}]
        Statistic: Average
        Period: 300
        EvaluationPeriods: 3
        Threshold: 80
        ComparisonOperator: GreaterThanThreshold
        TreatMissingData: missing
        AlarmActions: [arn:aws:sns:sa-east-1:111111111111:homecare-prod-alarms]
        OKActions: [arn:aws:sns:sa-east-1:111111111111:homecare-prod-alarms]
"""

RETURN = r"""
put:
  description: Names of the alarms created or updated (or that would be, in check mode).
  returned: always
  type: list
  elements: str
"""


def _normalise(alarm: dict[str, Any]) -> dict[str, Any]:
    out = dict(alarm)
    for key in ("Period", "EvaluationPeriods"):
        out[key] = int(out[key])
    out["Threshold"] = float(out["Threshold"])
    return out


def main() -> None:
    """Describe in batches, put what differs."""
    module = AnsibleAWSModule(
        argument_spec={"alarms": {"type": "list", "elements": "dict", "required": True}},
        supports_check_mode=True,
    )
    cloudwatch = client(module, "cloudwatch", module.region)
    wanted = [_normalise(a) for a in module.params["alarms"]]
    current: dict[str, Any] = {}
    names = [a["AlarmName"] for a in wanted]
    try:
        for start in range(0, len(names), 100):
            reply = cloudwatch.describe_alarms(
                AlarmNames=names[start : start + 100], AlarmTypes=["MetricAlarm"]
            )
            current.update({a["AlarmName"]: a for a in reply.get("MetricAlarms", [])})
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg=f"Could not read the alarms of {module.region}")
    todo = [(a, alarm_differences(current.get(a["AlarmName"]), a)) for a in wanted]
    todo = [(a, d) for a, d in todo if d]
    if not module.check_mode:
        for alarm, _ in todo:
            try:
                cloudwatch.put_metric_alarm(**alarm)
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
                module.fail_json_aws(
                    error, msg=f"Could not put alarm {alarm['AlarmName']} in {module.region}"
                )
    module.exit_json(
        changed=bool(todo),
        put=[a["AlarmName"] for a, _ in todo],
        diff={
            "before": {a["AlarmName"]: ", ".join(d) for a, d in todo},
            "after": {a["AlarmName"]: "as in controls/alarms.yml" for a, _ in todo},
            "before_header": f"alarms in {module.region}",
            "after_header": f"alarms in {module.region}",
        },
    )


if __name__ == "__main__":
    main()
