#!/usr/bin/python
"""Ansible module: the EC2 account-level IMDS default and EBS encryption by default."""

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
module: careops_ec2_account_defaults
short_description: Set a region's account-level IMDS default and EBS encryption by default
description:
  - Sets the account-level instance metadata default (C(ModifyInstanceMetadataDefaults)) so
    that instances launched without explicit metadata options require IMDSv2, and turns on
    EBS encryption by default. Both are per region; amazon.aws has no module for either.
  - Options left unset are not managed.
version_added: 0.1.0
author: careops platform team
options:
  imds_http_tokens:
    description: Account default for HttpTokens; C(no-preference) removes the default.
    type: str
    choices: [required, optional, no-preference]
  ebs_encryption_by_default:
    description: Whether new EBS volumes are encrypted by default. Turning it off is refused.
    type: bool
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Supports check mode and diff mode.
"""

EXAMPLES = r"""
- name: Baseline | Require IMDSv2 and encrypt EBS by default in sa-east-1
  careops_ec2_account_defaults:
    region: sa-east-1
    imds_http_tokens: required
    ebs_encryption_by_default: true
"""

RETURN = r"""
settings:
  description: The region's settings after the run (before it, in check mode).
  returned: always
  type: dict
  sample: {imds_http_tokens: required, ebs_encryption_by_default: true}
"""


def main() -> None:
    """Read both settings, change the ones that differ."""
    module = AnsibleAWSModule(
        argument_spec={
            "imds_http_tokens": {"type": "str", "choices": ["required", "optional", "no-preference"]},
            "ebs_encryption_by_default": {"type": "bool"},
        },
        supports_check_mode=True,
    )
    region = module.region
    ec2 = client(module, "ec2", region)
    wanted_tokens = module.params["imds_http_tokens"]
    wanted_ebs = module.params["ebs_encryption_by_default"]
    if wanted_ebs is False:
        module.fail_json(msg=f"Refusing to turn EBS encryption by default off in {region}.")
    try:
        account_level = ec2.get_instance_metadata_defaults().get("AccountLevel") or {}
        ebs = bool(ec2.get_ebs_encryption_by_default().get("EbsEncryptionByDefault"))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg=f"Could not read the EC2 account defaults of {region}")
    before: dict[str, Any] = {
        "imds_http_tokens": account_level.get("HttpTokens") or "no-preference",
        "ebs_encryption_by_default": ebs,
    }
    after = dict(before)
    if wanted_tokens is not None:
        after["imds_http_tokens"] = wanted_tokens
    if wanted_ebs:
        after["ebs_encryption_by_default"] = True
    changed = after != before
    if changed and not module.check_mode:
        try:
            if after["imds_http_tokens"] != before["imds_http_tokens"]:
                ec2.modify_instance_metadata_defaults(HttpTokens=after["imds_http_tokens"])
            if after["ebs_encryption_by_default"] and not ebs:
                ec2.enable_ebs_encryption_by_default()
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
            module.fail_json_aws(error, msg=f"Could not change the EC2 account defaults of {region}")
    module.exit_json(
        changed=changed,
        settings=after if not module.check_mode else before,
        diff={"before": before, "after": after, "before_header": region, "after_header": region},
    )


if __name__ == "__main__":
    main()
