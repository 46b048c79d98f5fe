"""careops_ec2: the aws_ec2 inventory with a cache of the composed hosts, on the lab."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, VENV_BIN, Lab

PRODUCTION = ROOT / "inventories" / "production" / "careops_ec2.yml"


def _source(folder: Path, plugin: str = "careops_ec2", **changes: object) -> Path:
    """The production inventory file, with its cache in ``folder`` and ``changes`` applied."""
    config = yaml.safe_load(PRODUCTION.read_text())
    config |= {"plugin": plugin, "cache_connection": str(folder / "cache")} | changes
    if plugin != "careops_ec2":
        config.pop("host_vars", None)
    name = "careops_ec2.yml" if plugin == "careops_ec2" else "aws_ec2.yml"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _build(
    lab: Lab, source: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[dict, Counter, str]:
    """ansible-inventory --list on ``source``; the inventory, the AWS calls it made, its stderr."""
    lab.reset_calls()
    done = subprocess.run(
        [str(VENV_BIN / "ansible-inventory"), "-i", str(source), "--list", *args],
        cwd=ROOT,
        env=lab.env | (env or {}),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    calls = Counter(f"{c['service']}:{c['action']}" for c in lab.calls())
    return json.loads(done.stdout), calls, done.stderr


def _membership(inventory: dict) -> dict[str, set[str]]:
    return {name: set(group.get("hosts", [])) for name, group in inventory.items() if name != "_meta"}


def _documented_options(plugin: str) -> dict:
    done = subprocess.run(
        [str(VENV_BIN / "ansible-doc"), "-t", "inventory", "--json", plugin],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)[plugin]["doc"]["options"]


def test_plugin_documents_every_aws_ec2_option() -> None:
    """The options come from the installed aws_ec2 plugin, plus careops_ec2's own."""
    options = _documented_options("careops_ec2")
    assert set(_documented_options("amazon.aws.aws_ec2")) - {"plugin"} <= set(options)
    assert options["plugin"]["choices"] == ["careops_ec2"]
    assert options["host_vars"]["type"] == "list"


def test_warm_build_makes_no_call_and_matches_the_cold_one(lab: Lab, tmp_path: Path) -> None:
    source = _source(tmp_path)
    cold, cold_calls, _ = _build(lab, source)
    warm, warm_calls, _ = _build(lab, source)
    assert cold["_meta"]["hostvars"], "the lab's production instances should be listed"
    assert cold_calls["ec2:DescribeInstances"] >= 1
    assert sum(warm_calls.values()) == 0, f"a warm build called AWS: {dict(warm_calls)}"
    assert warm == cold
    # The cache holds addresses and tags: only its owner may read it.
    assert (tmp_path / "cache").stat().st_mode & 0o777 == 0o700
    # --flush-cache rebuilds from the API.
    _flushed, flushed_calls, _ = _build(lab, source, "--flush-cache")
    assert flushed_calls["ec2:DescribeInstances"] >= 1


def test_same_hosts_and_groups_as_aws_ec2_with_only_the_listed_variables(lab: Lab, tmp_path: Path) -> None:
    ours, _, _ = _build(lab, _source(tmp_path / "careops"))
    theirs, _, _ = _build(lab, _source(tmp_path / "aws", "amazon.aws.aws_ec2"))
    assert _membership(ours) == _membership(theirs)
    config = yaml.safe_load(PRODUCTION.read_text())
    kept = set(config["host_vars"]) | set(config["compose"])
    for host, variables in ours["_meta"]["hostvars"].items():
        full = theirs["_meta"]["hostvars"][host]
        assert set(variables) == kept, host
        assert {k: full[k] for k in kept} == variables
        # What was dropped is what aws_ec2 attaches beyond them (placement, tags, launch_time...).
        assert {"placement", "launch_time", "network_interfaces"} <= set(full) - set(variables)


def test_an_edited_file_is_composed_again(lab: Lab, tmp_path: Path) -> None:
    source = _source(tmp_path)
    before, _, _ = _build(lab, source)
    host = next(iter(before["_meta"]["hostvars"]))
    assert "instance_type" in before["_meta"]["hostvars"][host]
    _source(tmp_path, host_vars=["ec2_tags"])
    after, calls, _ = _build(lab, source)
    assert "instance_type" not in after["_meta"]["hostvars"][host]
    # Composed again from aws_ec2's cached API answers: no call was needed for that.
    assert calls["ec2:DescribeInstances"] == 0


def test_another_endpoint_is_never_answered_from_the_cache(lab: Lab, tmp_path: Path) -> None:
    """The same file pointed elsewhere (here a closed loopback port) must not list the lab's hosts."""
    source = _source(tmp_path)
    warm, _, _ = _build(lab, source)
    assert warm["_meta"]["hostvars"]
    elsewhere, _, stderr = _build(
        lab, source, env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}
    )
    assert not elsewhere.get("_meta", {}).get("hostvars"), "hosts served from another endpoint's cache"
    assert "careops_ec2" in stderr


@pytest.mark.parametrize("host_vars", [[""], ["ec2_tags", ""]])
def test_bad_host_vars_are_refused_by_name_before_any_call(lab: Lab, tmp_path: Path, host_vars: list) -> None:
    source = _source(tmp_path, host_vars=host_vars)
    inventory, calls, stderr = _build(lab, source)
    assert "host_vars must be a list of variable names" in stderr
    assert not inventory.get("_meta", {}).get("hostvars")
    assert sum(calls.values()) == 0


def test_a_corrupt_cache_entry_is_rebuilt(lab: Lab, tmp_path: Path) -> None:
    source = _source(tmp_path)
    built, _, _ = _build(lab, source)
    (entry,) = (tmp_path / "cache").glob("*_composed*")
    entry.write_text('{"truncated": ')
    rebuilt, _, stderr = _build(lab, source)
    assert "composed cache entry was unreadable" in stderr
    assert rebuilt == built
    # ansible-core's jsonfile cache wraps each value in a serialised payload.
    assert json.loads(json.loads(entry.read_text())["__payload__"])["format"] >= 1
