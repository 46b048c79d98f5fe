#!/usr/bin/python
"""Ansible module: revoke exactly the listed ingress rules of one security group."""

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
module: careops_sg_revoke
short_description: Revoke exactly the given ingress rules of a security group, and nothing else
description:
  - Revokes the listed single-CIDR ingress rules (for example port 22 from C(0.0.0.0/0))
    when they are present, and reports each revoked rule in the diff.
  - Never purges other rules. M(amazon.aws.ec2_security_group) can only remove rules by
    purging everything it was not given, which would delete rules this baseline does not
    manage; this module exists to avoid that.
version_added: 0.1.0
author: careops platform team
options:
  group_id:
    description: ID of the security group.
    type: str
    required: true
  revoke_ingress:
    description: Rules to revoke, one CIDR each.
    type: list
    elements: dict
    required: true
    suboptions:
      ip_protocol: {description: Protocol (C(tcp), C(udp), C(-1)), type: str, required: true}
      from_port: {description: First port; omitted for C(-1), type: int}
      to_port: {description: Last port; omitted for C(-1), type: int}
      cidr_ip: {description: IPv4 CIDR, type: str}
      cidr_ipv6: {description: IPv6 CIDR, type: str}
      description: {description: Rule description, only shown in the diff, type: str}
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Supports check mode and diff mode.
"""

EXAMPLES = r"""
- name: Baseline | Revoke SSH from the internet on prod-legacy-admin
  careops_sg_revoke:
    region: sa-east-1
    group_id: sg-0123456789abcdef0
    revoke_ingress:
      - {ip_protocol: tcp, from_port: 22, to_port: 22, cidr_ip: 0.0.0.0/0}
      - {ip_protocol: tcp, from_port: 22, to_port: 22, cidr_ipv6: "::/0"}
"""

RETURN = r"""
revoked:
  description: The rules that were (or in check mode would be) revoked, as text.
  returned: always
  type: list
  elements: str
  sample: ["tcp/22-22 from 0.0.0.0/0"]
"""


RULE_SPEC = {
    "ip_protocol": {"type": "str", "required": True},
    "from_port": {"type": "int"},
    "to_port": {"type": "int"},
    "cidr_ip": {"type": "str"},
    "cidr_ipv6": {"type": "str"},
    "description": {"type": "str"},
}


def _text(rule: dict[str, Any]) -> str:
    ports = (
        "all"
        if rule["ip_protocol"] == "-1"
        else f"{rule['ip_protocol']}/{rule['from_port']}-{rule['to_port']}"
    )
    return f"{ports} from {rule.get('cidr_ip') or rule.get('cidr_ipv6')}"


def _present(group: dict[str, Any], rule: dict[str, Any]) -> bool:
    for perm in group.get("IpPermissions", []):
        if str(perm.get("IpProtocol")) != rule["ip_protocol"]:
            continue
        if rule["ip_protocol"] != "-1" and (perm.get("FromPort"), perm.get("ToPort")) != (
            rule["from_port"],
            rule["to_port"],
        ):
            continue
        if rule.get("cidr_ip") and any(r.get("CidrIp") == rule["cidr_ip"] for r in perm.get("IpRanges", [])):
            return True
        if rule.get("cidr_ipv6") and any(
            r.get("CidrIpv6") == rule["cidr_ipv6"] for r in perm.get("Ipv6Ranges", [])
        ):
            return True
    return False


def _permission(rule: dict[str, Any]) -> dict[str, Any]:
    perm: dict[str, Any] = {"IpProtocol": rule["ip_protocol"]}
    if rule["ip_protocol"] != "-1":
        perm.update(FromPort=rule["from_port"], ToPort=rule["to_port"])
    if rule.get("cidr_ip"):
        perm["IpRanges"] = [{"CidrIp": rule["cidr_ip"]}]
    else:
        perm["Ipv6Ranges"] = [{"CidrIpv6": rule["cidr_ipv6"]}]
    return perm


def main() -> None:
    """Describe the group, revoke the listed rules that are present, report them."""
    module = AnsibleAWSModule(
        argument_spec={
            "group_id": {"type": "str", "required": True},
            "revoke_ingress": {"type": "list", "elements": "dict", "required": True, "options": RULE_SPEC},
        },
        supports_check_mode=True,
    )
    group_id = module.params["group_id"]
    for rule in module.params["revoke_ingress"]:
        if not (rule.get("cidr_ip") or rule.get("cidr_ipv6")):
            module.fail_json(msg=f"Each rule to revoke from {group_id} needs cidr_ip or cidr_ipv6.")
    ec2 = client(module, "ec2", module.region)
    try:
        group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg=f"Could not read security group {group_id}")
    rules = [r for r in module.params["revoke_ingress"] if _present(group, r)]
    texts = [_text(r) for r in rules]
    before = sorted(_text(r) for r in module.params["revoke_ingress"] if _present(group, r))
    diff = {
        "before": {"group_id": group_id, "offending_ingress": before},
        "after": {"group_id": group_id, "offending_ingress": []},
        "before_header": f"{group_id} ({group.get('GroupName')})",
        "after_header": f"{group_id} ({group.get('GroupName')})",
    }
    if rules and not module.check_mode:
        try:
            ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=[_permission(r) for r in rules])
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
            module.fail_json_aws(error, msg=f"Could not revoke {', '.join(texts)} on {group_id}")
    module.exit_json(changed=bool(rules), revoked=texts, diff=diff)


if __name__ == "__main__":
    main()
