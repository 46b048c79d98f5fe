#!/usr/bin/python
"""Ansible module: append one evidence record to a CloudWatch Logs group."""

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
module: careops_evidence_log
short_description: Append one runbook evidence record to a CloudWatch Logs group
description:
  - Writes one log event (the JSON evidence record) to a stream of an existing log group,
    creating the stream when it is missing. No amazon.aws module puts log events.
  - The log group must exist; its retention and KMS key are managed elsewhere.
options:
  log_group:
    description: Name of the existing log group.
    type: str
    required: true
  log_stream:
    description: Stream to write to, created when missing.
    type: str
    required: true
  message:
    description: The event's text, normally the record as JSON.
    type: str
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - careops platform team
"""

EXAMPLES = r"""
- name: Summary | Send the evidence record to CloudWatch Logs
  careops_evidence_log:
    log_group: /careops/evidence
    log_stream: pitr_restore
    message: "{{ evidence_record | to_json }}"
"""

RETURN = r"""
log_group:
  description: The log group written to.
  returned: always
  type: str
log_stream:
  description: The stream written to.
  returned: always
  type: str
"""


def main() -> None:
    """Create the stream when missing and put one event."""
    module = AnsibleAWSModule(
        argument_spec={
            "log_group": {"type": "str", "required": True},
            "log_stream": {"type": "str", "required": True},
            "message": {"type": "str", "required": True},
        },
        supports_check_mode=True,
    )
    group, stream = module.params["log_group"], module.params["log_stream"]
    result: dict[str, Any] = {"changed": True, "log_group": group, "log_stream": stream}
    if module.check_mode:
        module.exit_json(**result)
    client = module.client("logs", retry_decorator=AWSRetry.jittered_backoff())
    try:
        try:
            client.create_log_stream(logGroupName=group, logStreamName=stream, aws_retry=True)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                raise
        client.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": int(time.time() * 1000), "message": module.params["message"]}],
            aws_retry=True,
        )
    except (BotoCoreError, ClientError) as error:
        module.fail_json_aws(error, msg=f"Could not write the evidence record to log group {group}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
