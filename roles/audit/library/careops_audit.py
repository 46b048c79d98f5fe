#!/usr/bin/python
"""Ansible module: evaluate the careops control catalogue against an AWS account, read-only."""

from __future__ import annotations

import time

try:
    from botocore.config import Config
except ImportError:
    Config = None  # AnsibleAWSModule reports the missing botocore itself

from ansible.module_utils.careops_audit.aws import client_factory
from ansible.module_utils.careops_audit.checks import (
    SEVERITY_RANK,
    Evaluation,
    Settings,
    summarise,
)
from ansible.module_utils.careops_audit.collect import Collector
from ansible.module_utils.careops_audit.report import write_all
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

DOCUMENTATION = r"""
---
module: careops_audit
short_description: Audit an AWS account against the careops control catalogue, read-only
description:
  - Reads the estate of every given region in one pass, with paginated list calls and
    per-resource detail calls run concurrently on a thread pool, then evaluates every control
    of the catalogue (C(controls/catalogue.yml) and C(controls/alarms.yml)) and returns one
    finding per control and resource, PASS or FAIL.
  - Makes only Describe, Get and List calls. It never writes to AWS, in any mode.
  - A call that fails (access denied, a service missing in a region) does not stop the audit;
    it is returned in RV(errors) and the controls that needed it report nothing for it.
  - Botocore standard retries with I(retries) attempts absorb throttling.
version_added: 0.1.0
author: careops platform team
options:
  catalogue:
    description:
      - The control catalogue, as loaded from C(controls/catalogue.yml), with the C(alarms)
        list of C(controls/alarms.yml) merged in.
    type: dict
    required: true
  regions:
    description: Regions to audit; the first one is where S3 and STS are called.
    type: list
    elements: str
    required: true
  min_backup_retention_days:
    description: Least number of days of RDS automated backups accepted (control RDS-02).
    type: int
    default: 7
  dr_region:
    description: Region where automated backups must be replicated (control RDS-03).
    type: str
    default: ""
  imds_usage_days:
    description:
      - Days of the C(MetadataNoToken) metric to read for every instance that still allows
        IMDSv1, so that the baseline can skip instances whose workloads still call IMDSv1.
      - C(0) skips the metric reads.
    type: int
    default: 0
  only_controls:
    description: Evaluate only these control IDs; all when empty.
    type: list
    elements: str
    default: []
  report_dir:
    description:
      - Controller folder to write findings.json, report.md, report.html and junit.xml to.
      - These are local files, the audit's output; they are written in check mode too. Nothing
        is ever written to AWS.
    type: path
  report_asff:
    description: Also write securityhub-findings.json in the AWS Security Finding Format.
    type: bool
    default: false
  generated_at:
    description: Timestamp printed in the reports; the module's start time when empty.
    type: str
    default: ""
  include_passed:
    description:
      - Return PASS findings too. The audit reports them; the baseline needs only failures,
        and on a large estate the PASS findings are most of the result.
    type: bool
    default: true
  max_workers:
    description: Concurrent API calls. AWS throttles per account and API, not per client.
    type: int
    default: 16
  retries:
    description: Attempts per call, with botocore's standard jittered backoff.
    type: int
    default: 10
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.boto3
notes:
  - Supports check mode; the module is read-only, so check mode changes nothing.
  - The region options of the amazon.aws fragment are ignored in favour of I(regions).
"""

EXAMPLES = r"""
- name: Audit | Evaluate the catalogue in both regions
  careops_audit:
    catalogue: "{{ lookup('ansible.builtin.file', 'controls/catalogue.yml') | from_yaml }}"
    regions: [sa-east-1, us-east-1]
    min_backup_retention_days: 14
    dr_region: us-east-1
  register: audit__result

- name: Audit | Only the IMDSv2 controls, with IMDSv1 usage of the last 14 days
  careops_audit:
    catalogue: "{{ audit__catalogue }}"
    regions: [sa-east-1]
    only_controls: [IMDS-01, IMDS-02, IMDS-03, IMDS-04, IMDS-05]
    imds_usage_days: 14
"""

RETURN = r"""
findings:
  description: One finding per control and resource.
  returned: always
  type: list
  elements: dict
  contains:
    control_id: {description: Catalogue ID, type: str, sample: IMDS-01}
    prowler: {description: Prowler check IDs of the same test, type: list, elements: str}
    resource_id: {description: ID or name of the resource, type: str}
    resource_arn: {description: ARN of the resource when it has one, type: str}
    resource_type: {description: CloudFormation-style type, type: str, sample: AWS::EC2::Instance}
    region: {description: Region of the resource, type: str}
    environment: {description: Environment tag, or account for account-level settings, type: str}
    status: {description: PASS or FAIL, type: str}
    severity: {description: critical, high, medium or low, type: str}
    message: {description: What was seen, in one sentence, type: str}
    remediation: {description: What to do (FAIL only), type: str}
    owner: {description: Owning CloudFormation stack or Terraform module, type: str}
    fix: {description: Parameters the baseline uses to fix an automatic control (FAIL only), type: dict}
summary:
  description: Pass and fail counts and a score per control family and environment.
  returned: always
  type: list
  elements: dict
fail_counts:
  description: Number of FAIL findings per severity.
  returned: always
  type: dict
  sample: {critical: 2, high: 5, medium: 3, low: 4}
errors:
  description: Calls that failed, with region, service, operation and the AWS error.
  returned: always
  type: list
  elements: dict
account:
  description: The audited account ID.
  returned: always
  type: str
api_calls:
  description: Number of read calls made (pages counted one by one).
  returned: always
  type: int
report_files:
  description: Paths of the report files written (empty without report_dir).
  returned: always
  type: list
  elements: str
generated_at:
  description: Timestamp of the run, as printed in the reports.
  returned: always
  type: str
duration_seconds:
  description: Wall time of reading and evaluating.
  returned: always
  type: float
"""


def main() -> None:
    """Read, evaluate, return; never write."""
    module = AnsibleAWSModule(
        argument_spec={
            "catalogue": {"type": "dict", "required": True},
            "regions": {"type": "list", "elements": "str", "required": True},
            "min_backup_retention_days": {"type": "int", "default": 7},
            "dr_region": {"type": "str", "default": ""},
            "imds_usage_days": {"type": "int", "default": 0},
            "only_controls": {"type": "list", "elements": "str", "default": []},
            "report_dir": {"type": "path"},
            "report_asff": {"type": "bool", "default": False},
            "generated_at": {"type": "str", "default": ""},
            "include_passed": {"type": "bool", "default": True},
            "max_workers": {"type": "int", "default": 16},
            "retries": {"type": "int", "default": 10},
        },
        supports_check_mode=True,
    )
    params = module.params
    regions: list[str] = params["regions"]
    if not regions:
        module.fail_json(msg="careops_audit needs at least one region in 'regions'.")
    if not params["catalogue"].get("controls"):
        module.fail_json(
            msg="The catalogue has no 'controls' list; pass controls/catalogue.yml loaded as YAML."
        )
    client = client_factory(module, params["retries"], max(10, params["max_workers"]))

    started = time.monotonic()
    generated_at = params["generated_at"] or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    collector = Collector(client, regions, params["max_workers"])
    inventory = collector.collect(imds_usage_days=params["imds_usage_days"])
    if not inventory.account:
        reasons = "; ".join(e["error"] for e in inventory.errors if e["service"] == "sts") or "unknown"
        module.fail_json(
            msg=f"Could not identify the AWS account (sts:GetCallerIdentity failed: {reasons}); "
            "check the credentials and AWS_ENDPOINT_URL."
        )
    settings = Settings(
        min_backup_retention_days=params["min_backup_retention_days"], dr_region=params["dr_region"]
    )
    findings = Evaluation(params["catalogue"], settings, inventory).run(params["only_controls"] or None)
    counts = {level: 0 for level in SEVERITY_RANK if level != "none"}
    for finding in findings:
        if finding["status"] == "FAIL":
            counts[finding["severity"]] += 1
    summary = summarise(findings)
    if not params["include_passed"]:
        findings = [f for f in findings if f["status"] == "FAIL"]
    for error in inventory.errors:
        module.warn(f"{error['service']}:{error['operation']} in {error['region']} failed: {error['error']}")
    result = {
        "findings": findings,
        "summary": summary,
        "fail_counts": counts,
        "errors": inventory.errors,
        "account": inventory.account,
        "regions": regions,
        "api_calls": inventory.calls,
        "duration_seconds": round(time.monotonic() - started, 2),
        "generated_at": generated_at,
    }
    report_files: list[str] = []
    if params["report_dir"]:
        try:
            report_files = write_all(params["report_dir"], result, with_asff=params["report_asff"])
        except OSError as error:
            module.fail_json(msg=f"Could not write the reports to {params['report_dir']}: {error}")
    module.exit_json(changed=False, report_files=report_files, **result)


if __name__ == "__main__":
    main()
