#!/usr/bin/python
"""Ansible module: make a launch template require IMDSv2 through a new default version."""

from __future__ import annotations

from typing import Any

from ansible.module_utils.careops_audit.aws import client

try:
    import botocore.exceptions
except ImportError:
    botocore = None  # AnsibleAWSModule reports the missing botocore itself

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

DOCUMENTATION = r"""
---
module: careops_launch_template_imds
short_description: Make a launch template's default and latest versions require IMDSv2
description:
  - When the default or latest version of the template allows IMDSv1, creates a new version
    from the default one with the full metadata options (tokens required, every other option
    kept as it was) and makes it the default version. Auto Scaling groups that use
    C($Latest) or C($Default) launch IMDSv2-only instances from then on.
  - All other launch template data is copied from the source version by EC2 itself
    (C(SourceVersion)), so nothing else changes. M(community.aws.ec2_launch_template) would
    rebuild the version from its own parameters and drop data it was not given.
version_added: 0.1.0
author: careops platform team
options:
  launch_template_id:
    description: ID of the launch template.
    type: str
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Supports check mode and diff mode.
"""

EXAMPLES = r"""
- name: Baseline | Require IMDSv2 in hml-app-lt
  careops_launch_template_imds:
    region: sa-east-1
    launch_template_id: lt-0123456789abcdef0
"""

RETURN = r"""
version:
  description: The default version after the run.
  returned: always
  type: int
"""


DEFAULTS = {"HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 2, "HttpProtocolIpv6": "disabled"}


def _tokens(version: dict[str, Any]) -> str:
    return ((version.get("LaunchTemplateData") or {}).get("MetadataOptions") or {}).get(
        "HttpTokens", "optional"
    )


def main() -> None:
    """Read the default and latest versions; add a fixed version only when one allows IMDSv1."""
    module = AnsibleAWSModule(
        argument_spec={"launch_template_id": {"type": "str", "required": True}},
        supports_check_mode=True,
    )
    template_id = module.params["launch_template_id"]
    ec2 = client(module, "ec2", module.region)
    try:
        versions = ec2.describe_launch_template_versions(
            LaunchTemplateId=template_id, Versions=["$Default", "$Latest"]
        )["LaunchTemplateVersions"]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg=f"Could not read launch template {template_id}")
    default = next((v for v in versions if v.get("DefaultVersion")), versions[0])
    before = {f"v{v['VersionNumber']}": _tokens(v) for v in versions}
    if all(t == "required" for t in before.values()):
        module.exit_json(changed=False, version=default["VersionNumber"])
    options = {**DEFAULTS, **((default.get("LaunchTemplateData") or {}).get("MetadataOptions") or {})}
    options["HttpTokens"] = "required"
    options.pop("State", None)
    diff = {
        "before": {"versions": before},
        "after": {"default_version": "new", "metadata_options": options},
        "before_header": template_id,
        "after_header": template_id,
    }
    if module.check_mode:
        module.exit_json(changed=True, version=default["VersionNumber"], diff=diff)
    try:
        created = ec2.create_launch_template_version(
            LaunchTemplateId=template_id,
            SourceVersion=str(default["VersionNumber"]),
            VersionDescription="careops baseline: IMDSv2 required",
            LaunchTemplateData={"MetadataOptions": options},
        )["LaunchTemplateVersion"]
        ec2.modify_launch_template(LaunchTemplateId=template_id, DefaultVersion=str(created["VersionNumber"]))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg=f"Could not add an IMDSv2 version to launch template {template_id}")
    diff["after"]["default_version"] = created["VersionNumber"]
    module.exit_json(changed=True, version=created["VersionNumber"], diff=diff)


if __name__ == "__main__":
    main()
