"""The dynamic inventories: static validation without credentials, and live runs on the lab."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, VENV_BIN, Lab

ENVIRONMENTS = ("production", "homologation", "lab")
REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
CREDENTIAL_KEYS = {
    "aws_access_key",
    "aws_access_key_id",
    "access_key",
    "aws_secret_key",
    "aws_secret_access_key",
    "secret_key",
    "session_token",
    "aws_session_token",
    "security_token",
}


def _load(env: str) -> dict:
    return yaml.safe_load((ROOT / "inventories" / env / "careops_ec2.yml").read_text())


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_inventory_file_is_a_safe_ec2_source(env: str) -> None:
    config = _load(env)
    assert config["plugin"] == "careops_ec2"
    assert config["host_vars"], "each host keeps only the variables plays read"
    assert config["regions"], "regions must be explicit, never every region"
    assert all(REGION.match(r) for r in config["regions"])
    assert not CREDENTIAL_KEYS & set(config), "no static credentials in inventory files"
    assert "endpoint_url" not in config, "the endpoint comes from AWS_ENDPOINT_URL only"
    filters = config["filters"]
    assert filters["instance-state-name"] == ["running"]
    wanted = {env} if env != "lab" else {"production", "homologation"}
    environment = filters["tag:Environment"]
    assert set([environment] if isinstance(environment, str) else environment) == wanted
    keys = {group["key"] for group in config["keyed_groups"]}
    assert {
        "ec2_tags.Environment",
        "ec2_tags.Service",
        "placement.availability_zone",
        "ec2_tags['elasticbeanstalk:environment-name']",
        "ec2_tags['aws:autoscaling:groupName']",
    } <= keys
    assert config["hostnames"] in (["instance-id"], ["tag:LabContainer"])
    assert config["cache"] is True
    assert config["cache_timeout"] > 0


@pytest.mark.parametrize("env", ("production", "homologation"))
def test_real_inventories_reach_ssh_by_private_address(env: str) -> None:
    config = _load(env)
    assert config["compose"]["ansible_host"] == "private_ip_address"
    assert "ansible_connection" not in config["compose"]
    group_vars = yaml.safe_load((ROOT / "inventories" / env / "group_vars" / "all.yml").read_text())
    assert group_vars["careops_environment"] == env
    assert all(re.fullmatch(r"\d{12}", a) for a in group_vars["careops_allowed_account_ids"])
    assert set(group_vars["aws_regions"]) <= set(config["regions"])


def _plain(value: object) -> object:
    """ansible-inventory marks values from cloud APIs as unsafe in its JSON: unwrap them."""
    return value["__ansible_unsafe"] if isinstance(value, dict) and "__ansible_unsafe" in value else value


def _inventory(lab: Lab, env: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "ansible-inventory"), "-i", f"inventories/{env}", *args],
        cwd=ROOT,
        env=lab.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_lab_inventory_groups_the_fleet(lab: Lab) -> None:
    if not lab.hosts:
        pytest.skip(f"fleet not running: {lab.state['fleet']['skipped']}")
    listed = _inventory(lab, "lab", "--list")
    assert listed.returncode == 0, listed.stderr
    inventory = json.loads(listed.stdout)
    prod_a, prod_b, hml_a = lab.hosts
    assert set(inventory["env_production"]["hosts"]) == {prod_a, prod_b}
    assert set(inventory["env_homologation"]["hosts"]) == {hml_a}
    assert set(inventory["service_main_app"]["hosts"]) == set(lab.hosts)
    assert set(inventory["az_sa_east_1b"]["hosts"]) == {prod_b}
    assert inventory["canary"]["hosts"] == [prod_a]
    assert set(inventory["eb_prod_main_app"]["hosts"]) == {prod_a, prod_b}
    hostvars = inventory["_meta"]["hostvars"][prod_a]
    assert _plain(hostvars["ansible_connection"]) == "containers.podman.podman"
    assert _plain(hostvars["ec2_instance_id"]).startswith("i-")
    graph = _inventory(lab, "lab", "--graph")
    assert "@env_production:" in graph.stdout


def test_lab_fleet_is_reachable_through_the_inventory(lab: Lab) -> None:
    if not lab.hosts:
        pytest.skip(f"fleet not running: {lab.state['fleet']['skipped']}")
    ping = subprocess.run(
        [str(VENV_BIN / "ansible"), "-i", "inventories/lab", "all", "-m", "ansible.builtin.ping", "-o"],
        cwd=ROOT,
        env=lab.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert ping.stdout.count("SUCCESS") == len(lab.hosts)


def test_production_inventory_runs_against_any_endpoint(lab: Lab) -> None:
    """The production file, unchanged, pointed at the lab by AWS_ENDPOINT_URL alone."""
    listed = _inventory(lab, "production", "--list")
    assert listed.returncode == 0, listed.stderr
    inventory = json.loads(listed.stdout)
    hosts = inventory["_meta"]["hostvars"]
    assert hosts, "the lab's production-tagged instances should be listed"
    assert all(name.startswith("i-") for name in hosts)
    assert all(_plain(v["ec2_tags"]["Environment"]) == "production" for v in hosts.values())
    # The two instances prod-main-asg launched, grouped by the tag AWS puts on ASG members.
    assert len(inventory["asg_prod_main_asg"]["hosts"]) == 2
    assert set(inventory["env_production"]["hosts"]) == set(hosts)


def test_nothing_hard_codes_an_endpoint() -> None:
    """AWS_ENDPOINT_URL is the only switch: no playbook, role or inventory names an address."""
    offenders = []
    for folder in ("playbooks", "roles", "inventories"):
        for path in (ROOT / folder).rglob("*.y*ml"):
            text = path.read_text()
            if re.search(r"(127\.0\.0\.1|localhost):\d+|endpoint_url\s*:", text):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_inventory_graph_from_a_shell_needs_only_the_env_file(lab: Lab) -> None:
    env_file = Path(lab.state["state_dir"]) / "env"
    exported = dict(
        line.removeprefix("export ").split("=", 1)
        for line in env_file.read_text().splitlines()
        if line.startswith("export ")
    )
    assert exported["AWS_ENDPOINT_URL"] == lab.endpoint
    assert exported["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
