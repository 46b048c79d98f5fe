#!/usr/bin/python
"""Ansible module: check a point-in-time restore time against an RDS instance's restorable window."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports the missing dependency
    from botocore.exceptions import BotoCoreError, ClientError

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

DOCUMENTATION = r"""
---
module: careops_rds_restore_window
short_description: Check a restore time against an RDS instance's restorable window
description:
  - Reads the source instance's restorable window (C(RestoreWindow) of its automated backups,
    and C(LatestRestorableTime)) and says whether a requested restore time falls inside it.
  - Some tools and emulators accept any restore time, and AWS's own refusal comes only after
    the restore call; a runbook must refuse before it writes anything, so it checks here.
  - Read-only; never fails on a bad time: it returns C(problem) and C(message) for the caller
    to assert on, so the runbook's refusal names the variable.
options:
  db_instance_identifier:
    description: The source DB instance.
    type: str
    required: true
  restore_time:
    description:
      - ISO 8601 time with a UTC offset (C(2026-12-03T10:15:00Z), C(2026-12-03T07:15:00-03:00)),
        or C(latest) for the latest restorable time.
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
- name: Preflight | Check the restore time against the restorable window
  careops_rds_restore_window:
    db_instance_identifier: prod-clinical-records
    restore_time: "2026-12-03T10:15:00Z"
  register: window
"""

RETURN = r"""
backups_enabled:
  description: Whether the instance keeps automated backups (retention above zero).
  returned: always
  type: bool
earliest_time:
  description: Earliest restorable time, ISO 8601 UTC.
  returned: when backups are enabled
  type: str
latest_time:
  description: Latest restorable time, ISO 8601 UTC.
  returned: when backups are enabled
  type: str
restore_point:
  description: The restore time in UTC (the latest restorable time for C(latest)).
  returned: when the time could be read
  type: str
restore_point_epoch:
  description: The restore point as seconds since the epoch.
  returned: when the time could be read
  type: float
problem:
  description: None if usable; else no_backups, no_offset, unparseable, in_future, before_window, after_window
    (the name of what is wrong).
  returned: always
  type: str
message:
  description: One sentence for the operator.
  returned: always
  type: str
"""


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def parse_restore_time(text: str) -> tuple[dt.datetime | None, str | None]:
    """The restore time as an aware datetime, or the name of what is wrong with it."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None, "unparseable"
    if value.tzinfo is None:
        return None, "no_offset"
    return value, None


def window_of(client: Any, identifier: str) -> tuple[dt.datetime | None, dt.datetime | None, int]:
    """Earliest and latest restorable times, and the backup retention period in days."""
    instance = client.describe_db_instances(DBInstanceIdentifier=identifier, aws_retry=True)["DBInstances"][0]
    retention = int(instance.get("BackupRetentionPeriod") or 0)
    latest = instance.get("LatestRestorableTime")
    earliest = None
    backups = client.describe_db_instance_automated_backups(DBInstanceIdentifier=identifier, aws_retry=True)
    for backup in backups.get("DBInstanceAutomatedBackups", []):
        window = backup.get("RestoreWindow") or {}
        if window.get("EarliestTime"):
            earliest = window["EarliestTime"]
            latest = window.get("LatestTime") or latest
    return (_aware(earliest) if earliest else None, _aware(latest) if latest else None, retention)


def main() -> None:
    """Return the window and whether the requested time is inside it."""
    module = AnsibleAWSModule(
        argument_spec={
            "db_instance_identifier": {"type": "str", "required": True},
            "restore_time": {"type": "str", "required": True},
        },
        supports_check_mode=True,
    )
    identifier, requested = module.params["db_instance_identifier"], module.params["restore_time"]
    client = module.client("rds", retry_decorator=AWSRetry.jittered_backoff())
    try:
        earliest, latest, retention = window_of(client, identifier)
    except (BotoCoreError, ClientError) as error:
        module.fail_json_aws(error, msg=f"Could not read the restorable window of {identifier}")
    now = dt.datetime.now(dt.UTC)
    result: dict[str, Any] = {"changed": False, "backups_enabled": retention > 0, "problem": None}
    if retention <= 0 or earliest is None or latest is None:
        result.update(
            problem="no_backups",
            message=f"{identifier} keeps no automated backups (retention {retention} days), so it has no "
            "point-in-time window; use restore_snapshot.yml with a manual snapshot instead.",
        )
        module.exit_json(**result)
    result.update(earliest_time=_iso(earliest), latest_time=_iso(latest))
    window_text = f"{_iso(earliest)} to {_iso(latest)}"
    if requested.strip().lower() == "latest":
        point: dt.datetime | None = latest
    else:
        point, problem = parse_restore_time(requested)
        if problem:
            result.update(
                problem=problem,
                message=f"restore_time='{requested}' is not an ISO 8601 time with a UTC offset; write it as "
                "2026-12-03T10:15:00Z or 2026-12-03T07:15:00-03:00, or use latest.",
            )
            module.exit_json(**result)
    assert point is not None  # noqa: S101 - narrowing for type checkers; set on every path above
    result.update(restore_point=_iso(point), restore_point_epoch=point.timestamp())
    if point > now:
        result.update(
            problem="in_future",
            message=f"restore_time='{requested}' ({_iso(point)}) is in the future (now {_iso(now)}); "
            f"the restorable window of {identifier} is {window_text}.",
        )
    elif point < earliest:
        result.update(
            problem="before_window",
            message=f"restore_time='{requested}' ({_iso(point)}) is before the earliest restorable time of "
            f"{identifier}; its window is {window_text}. For older data use restore_snapshot.yml.",
        )
    elif point > latest:
        result.update(
            problem="after_window",
            message=f"restore_time='{requested}' ({_iso(point)}) is after the latest restorable time of "
            f"{identifier}; its window is {window_text}. Use latest, or wait a few minutes.",
        )
    else:
        result["message"] = f"restore point {_iso(point)} is inside the window {window_text}"
    module.exit_json(**result)


if __name__ == "__main__":
    main()
