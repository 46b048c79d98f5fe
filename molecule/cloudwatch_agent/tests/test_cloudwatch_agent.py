"""Checks the cloudwatch_agent role left on the molecule instance.

The instance runs the LAB STAND-IN package (lab/agent_standin), not the Amazon CloudWatch
agent: these tests prove what the role did (verified package, validated and kept
configuration, service state, fetch-config in the right mode), not what the real agent does.
"""

from __future__ import annotations

import json

import pytest

HOME = "/opt/aws/amazon-cloudwatch-agent"
CTL = f"{HOME}/bin/amazon-cloudwatch-agent-ctl"
CONFIG = f"{HOME}/etc/careops-agent.json"


@pytest.fixture(scope="module")
def config(host) -> dict:
    return json.loads(host.file(CONFIG).content_string)


def test_package_installed_is_the_lab_standin(host) -> None:
    package = host.package("amazon-cloudwatch-agent")
    assert package.is_installed
    assert "labstandin" in package.version
    assert host.file(f"{HOME}/LAB-STAND-IN").exists


def test_verified_package_kept_on_host(host) -> None:
    debs = host.run("ls /var/cache/careops/amazon-cloudwatch-agent-*.deb").stdout.split()
    assert len(debs) == 1
    folder = host.file("/var/cache/careops")
    assert folder.mode == 0o750


def test_service_enabled_and_running(host) -> None:
    service = host.service("amazon-cloudwatch-agent")
    assert service.is_enabled
    assert service.is_running


def test_ctl_reports_running_and_configured(host) -> None:
    status = json.loads(host.check_output(f"{CTL} -a status"))
    assert status["status"] == "running"
    assert status["configstatus"] == "configured"


def test_applied_config_kept_with_safe_mode(host) -> None:
    kept = host.file(CONFIG)
    assert kept.user == "root"
    assert kept.mode == 0o640


def test_fetch_config_consumed_the_kept_file_in_onpremise_mode(host, config) -> None:
    fetched = host.file(f"{HOME}/etc/amazon-cloudwatch-agent.d/file_careops-agent.json")
    assert json.loads(fetched.content_string) == config
    # Containers report no EC2 hardware vendor, so mode auto must pick onPremise.
    assert host.file(f"{HOME}/etc/lab-standin-mode").content_string.strip() == "onPremise"


def test_metrics_section(config) -> None:
    metrics = config["metrics"]
    assert metrics["namespace"] == "CWAgent"
    assert metrics["append_dimensions"] == {
        "InstanceId": "${aws:InstanceId}",
        "AutoScalingGroupName": "${aws:AutoScalingGroupName}",
        "ImageId": "${aws:ImageId}",
        "InstanceType": "${aws:InstanceType}",
    }
    collected = metrics["metrics_collected"]
    assert collected["mem"]["measurement"] == ["mem_used_percent"]
    assert collected["swap"]["measurement"] == ["swap_used_percent"]
    assert collected["disk"]["resources"] == ["/"]
    assert set(collected["disk"]["measurement"]) == {"used_percent", "inodes_free"}
    assert set(collected["netstat"]["measurement"]) == {"tcp_established", "tcp_time_wait"}


def test_procstat_merges_role_and_service_additions(config) -> None:
    procstat = config["metrics"]["metrics_collected"]["procstat"]
    assert {"exe": "sshd"}.items() <= procstat[0].items()
    assert {"pattern": "careops-api"}.items() <= procstat[1].items()


def test_logs_have_groups_and_retention(config) -> None:
    collect = config["logs"]["logs_collected"]["files"]["collect_list"]
    by_path = {entry["file_path"]: entry for entry in collect}
    assert by_path["/var/log/syslog"]["log_group_name"] == "/careops/lab/system"
    assert by_path["/var/log/syslog"]["retention_in_days"] == 90
    assert by_path["/var/log/careops/api.log"]["log_group_name"] == "/careops/lab/api"
    assert by_path["/var/log/careops/api.log"]["retention_in_days"] == 30


def test_standin_refuses_malformed_config(host) -> None:
    host.run("printf '{bad' > /tmp/careops-malformed.json")
    result = host.run(f"{CTL} -a fetch-config -m onPremise -c file:/tmp/careops-malformed.json")
    assert result.rc == 1
    # The refused file must not have replaced the applied configuration.
    assert json.loads(host.check_output(f"{CTL} -a status"))["configstatus"] == "configured"
    assert host.file(f"{HOME}/etc/amazon-cloudwatch-agent.d/file_careops-agent.json").exists
