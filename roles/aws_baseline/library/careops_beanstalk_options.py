#!/usr/bin/python
"""Ansible module: set option settings of an Elastic Beanstalk environment."""

from __future__ import annotations

from ansible.module_utils.careops_audit.aws import client

try:
    import botocore.exceptions
except ImportError:
    botocore = None  # AnsibleAWSModule reports the missing botocore itself

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

DOCUMENTATION = r"""
---
module: careops_beanstalk_options
short_description: Set the given option settings of an Elastic Beanstalk environment
description:
  - Reads the environment's option settings and calls C(UpdateEnvironment) with only the
    settings that differ, so that an environment already compliant is not touched (an update
    makes Beanstalk roll its instances).
  - Beanstalk replaces instances on its own; IMDSv2, log streaming, health reporting and
    managed updates therefore belong in option settings, not on the instances.
version_added: 0.1.0
author: careops platform team
options:
  application_name:
    description: Application of the environment.
    type: str
    required: true
  environment_name:
    description: Name of the environment.
    type: str
    required: true
  option_settings:
    description: Settings as C(Namespace), C(OptionName), C(Value).
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
- name: Baseline | Disable IMDSv1 in hml-main-app
  careops_beanstalk_options:
    region: sa-east-1
    application_name: main-app
    environment_name: hml-main-app
    option_settings:
      - {Namespace: "aws:autoscaling:launchconfiguration", OptionName: DisableIMDSv1, Value: "true"}
"""

RETURN = r"""
updated:
  description: The settings that were (or in check mode would be) changed.
  returned: always
  type: list
  elements: dict
"""


def main() -> None:
    """Compare, then update only what differs."""
    module = AnsibleAWSModule(
        argument_spec={
            "application_name": {"type": "str", "required": True},
            "environment_name": {"type": "str", "required": True},
            "option_settings": {"type": "list", "elements": "dict", "required": True},
        },
        supports_check_mode=True,
    )
    app, name = module.params["application_name"], module.params["environment_name"]
    eb = client(module, "elasticbeanstalk", module.region)
    try:
        reply = eb.describe_configuration_settings(ApplicationName=app, EnvironmentName=name)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg=f"Could not read the option settings of Beanstalk environment {name}")
    current = {
        (o.get("Namespace"), o.get("OptionName")): str(o.get("Value"))
        for config in reply.get("ConfigurationSettings", [])
        for o in config.get("OptionSettings", [])
    }
    wanted = [
        {"Namespace": o["Namespace"], "OptionName": o["OptionName"], "Value": str(o["Value"])}
        for o in module.params["option_settings"]
    ]
    updates = [o for o in wanted if current.get((o["Namespace"], o["OptionName"])) != o["Value"]]
    diff = {
        "before": {
            f"{o['Namespace']}:{o['OptionName']}": current.get((o["Namespace"], o["OptionName"]))
            for o in updates
        },
        "after": {f"{o['Namespace']}:{o['OptionName']}": o["Value"] for o in updates},
        "before_header": name,
        "after_header": name,
    }
    if updates and not module.check_mode:
        try:
            eb.update_environment(ApplicationName=app, EnvironmentName=name, OptionSettings=updates)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
            module.fail_json_aws(
                error, msg=f"Could not update the option settings of Beanstalk environment {name}"
            )
    module.exit_json(changed=bool(updates), updated=updates, diff=diff)


if __name__ == "__main__":
    main()
