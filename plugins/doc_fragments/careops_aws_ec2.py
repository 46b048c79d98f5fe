"""The options of amazon.aws.aws_ec2, as a documentation fragment for careops_ec2.

careops_ec2 accepts every option aws_ec2 does. Rather than restate them (and drift from the
collection that the pinned ansible package bundles), this fragment reads them from the installed
aws_ec2 plugin when Ansible loads it. Only ``plugin`` is left out: careops_ec2 names itself.
"""

from __future__ import annotations

import yaml
from ansible_collections.amazon.aws.plugins.inventory import aws_ec2


def _aws_ec2_options() -> str:
    options = yaml.safe_load(aws_ec2.DOCUMENTATION)["options"]
    options.pop("plugin", None)
    return yaml.safe_dump({"options": options}, sort_keys=False)


class ModuleDocFragment:
    DOCUMENTATION = _aws_ec2_options()
