"""careops_ec2: the aws_ec2 inventory, cached once composed and cut to what plays read."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.plugins.inventory import BaseInventoryPlugin
from ansible.release import __version__ as ansible_core_version
from ansible_collections.amazon.aws.plugins.inventory.aws_ec2 import InventoryModule as AwsEc2Inventory

DOCUMENTATION = r"""
name: careops_ec2
short_description: EC2 inventory that caches the composed hosts and groups
description:
  - Builds the same hosts and groups as amazon.aws.aws_ec2, from the same options, and then
    caches the result of that build (groups, group membership and host variables after
    C(compose), C(groups) and C(keyed_groups) have been evaluated).
  - aws_ec2's own cache keeps the DescribeInstances answers, so a warm aws_ec2 build still
    evaluates every C(compose), C(groups) and C(keyed_groups) expression for every host; at
    thousands of hosts that templating, not the API, is what the build costs. A warm
    careops_ec2 build reads the composed inventory and evaluates nothing.
  - Host variables can be cut to the ones plays read (O(host_vars)); the others (about sixty
    per instance from DescribeInstances) are still there when C(compose), C(groups) and
    C(keyed_groups) are evaluated, but are not kept on the host.
  - The cache key covers the configuration file's content, the AWS identity and endpoint the
    build ran with (O(endpoint_url), E(AWS_ENDPOINT_URL), O(profile), the access key ID,
    O(assume_role_arn)), so editing the file or pointing the same file at another account or
    at the lab never serves the previous hosts.
  - The configuration file must end with C(careops_ec2.yml) or C(careops_ec2.yaml).
extends_documentation_fragment:
  - careops_aws_ec2
  - inventory_cache
  - constructed
  - amazon.aws.boto3
  - amazon.aws.common.plugins
  - amazon.aws.region.plugins
  - amazon.aws.assume_role.plugins
options:
  plugin:
    description: The name of this plugin; it must be C(careops_ec2) for this file to be used.
    required: true
    type: str
    choices: [careops_ec2]
  host_vars:
    description:
      - Host variables each host keeps, besides the ones C(compose) sets, which are always kept.
      - Leave unset to keep every variable aws_ec2 sets.
      - A variable left out is undefined in plays; add it here before a play reads it.
    type: list
    elements: str
notes:
  - C(--flush-cache) (or C(cache=false)) rebuilds from the API and replaces both the composed
    entry and aws_ec2's entry of API answers.
  - Both entries expire after O(cache_timeout); the composed entry is never older than the API
    answers it was built from.
"""

EXAMPLES = r"""
# inventories/production/careops_ec2.yml
plugin: careops_ec2
regions: [sa-east-1, us-east-1]
filters:
  tag:Environment: production
hostnames: [instance-id]
keyed_groups:
  - key: ec2_tags.Service
    prefix: service
compose:
  ansible_host: private_ip_address
host_vars: [ec2_tags, instance_type]
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_timeout: 300
"""

# Bump when the layout of a composed entry changes, so entries written by an older plugin are
# rebuilt instead of misread.
COMPOSED_FORMAT = 1
# Variables Ansible sets on every host itself; the inventory it is loaded into sets them again.
ANSIBLE_SET = frozenset({"inventory_file", "inventory_dir"})
# botocore reads these itself; they change the account or endpoint without touching any option.
IDENTITY_ENV = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")
IDENTITY_OPTIONS = ("endpoint_url", "profile", "access_key", "assume_role_arn", "region")


def _plain(value: Any) -> Any:
    """What json.dumps cannot take as it is (dates in DescribeInstances answers) becomes text."""
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class InventoryModule(AwsEc2Inventory):
    NAME = "careops_ec2"
    INVENTORY_FILE_SUFFIXES = ("careops_ec2.yml", "careops_ec2.yaml")

    def _identity(self) -> str:
        """A digest of what decides which account and endpoint the build talks to."""
        parts = {name: self.get_option(name) for name in IDENTITY_OPTIONS if name in self._options}
        parts |= {name: os.environ.get(name) for name in IDENTITY_ENV}
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def get_cache_key(self, path: str) -> str:
        # aws_ec2 keys its entry of API answers by the file's path alone: the same file pointed at
        # the lab and then at AWS would be answered with the lab's instances for cache_timeout.
        return f"{super().get_cache_key(path)}_{self._identity()}"

    def _composed_key(self, path: str) -> str:
        content = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
        return f"{self.get_cache_key(path)}_composed{COMPOSED_FORMAT}_{content}_{ansible_core_version}"

    def parse(self, inventory: Any, loader: Any, path: str, cache: bool = True) -> None:
        # The warm path reads the configuration and the cache, nothing else: no SDK check, no
        # STS call for assume_role_arn, no template.
        BaseInventoryPlugin.parse(self, inventory, loader, path, cache=cache)
        self._read_config_data(path)
        host_vars = self.get_option("host_vars")
        if host_vars is not None and not all(isinstance(name, str) and name for name in host_vars):
            raise AnsibleParserError(f"{path}: host_vars must be a list of variable names, got {host_vars!r}")
        key = self._composed_key(path)
        caching = bool(self.get_option("cache"))
        composed = None
        if cache and caching:
            composed = self._cached(key)
        if composed is None:
            composed = self._build(loader, path, cache, host_vars)
            if caching:
                self._cache[key] = composed
        self.inventory = inventory
        self._add(composed)

    def update_cache_if_changed(self) -> None:
        super().update_cache_if_changed()
        # The entries hold private addresses, instance IDs and tags: readable by the operator only.
        folder = self.get_option("cache_connection") if self.get_option("cache") else None
        if folder and os.path.isdir(folder) and os.stat(folder).st_uid == os.getuid():
            os.chmod(folder, 0o700)

    def _cached(self, key: str) -> dict | None:
        """The composed entry, or None when it is missing, expired or unreadable (then rebuilt)."""
        try:
            composed = self._cache[key]
        except KeyError:
            return None
        except AnsibleError as error:
            # The jsonfile cache deletes a corrupt file and raises; a rebuild replaces it.
            self.display.warning(f"careops_ec2: rebuilding, the composed cache entry was unreadable: {error}")
            return None
        if not isinstance(composed, dict) or composed.get("format") != COMPOSED_FORMAT:
            return None
        return composed

    def _build(self, loader: Any, path: str, cache: bool, host_vars: list[str] | None) -> dict:
        """Run aws_ec2 into an inventory of its own and keep what it composed."""
        scratch = InventoryData()
        super().parse(scratch, loader, path, cache=cache)
        keep = None if host_vars is None else set(host_vars) | set(self.get_option("compose") or {})
        hosts = [
            [name, {k: v for k, v in host.vars.items() if self._kept(k, keep)}]
            for name, host in scratch.hosts.items()
        ]
        groups = [
            [
                name,
                [h.name for h in group.hosts],
                [g.name for g in group.child_groups],
                dict(group.vars),
            ]
            for name, group in scratch.groups.items()
            if name not in ("all", "ungrouped")
        ]
        # What is cached is what is served: the cold build loads the same JSON a warm one reads.
        composed = {"format": COMPOSED_FORMAT, "hosts": hosts, "groups": groups}
        return json.loads(json.dumps(composed, default=_plain))

    @staticmethod
    def _kept(name: str, keep: set[str] | None) -> bool:
        return name not in ANSIBLE_SET and (keep is None or name in keep)

    def _add(self, composed: dict) -> None:
        inventory = self.inventory
        for name, _hosts, _children, _vars in composed["groups"]:
            inventory.add_group(name)
        for name, variables in composed["hosts"]:
            inventory.add_host(name)
            for variable, value in variables.items():
                inventory.set_variable(name, variable, value)
        for name, hosts, children, variables in composed["groups"]:
            for child in children:
                inventory.add_child(name, child)
            for host in hosts:
                inventory.add_child(name, host)
            for variable, value in variables.items():
                inventory.set_variable(name, variable, value)
