"""Shared fixtures: one lab per test session, and helpers to run playbooks against it.

The session lab lives in a temporary folder on a free port, with its own container prefix,
so the suite never touches a lab an operator brought up with ``make lab-up`` and two suites
can run side by side.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from lab import ACCESS_KEY_ID, SECRET_ACCESS_KEY

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


@dataclass
class Lab:
    """A running lab: its state, environment, AWS clients and call log."""

    state: dict[str, Any]
    env: dict[str, str]

    @property
    def endpoint(self) -> str:
        return self.state["endpoint"]

    def client(self, service: str, region: str | None = None) -> Any:
        return boto3.client(
            service,
            region_name=region or self.state["region"],
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )

    def api(self, action: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback lab endpoint
            f"{self.endpoint}/lab-api/{action}", data=data, method="POST" if data is not None else "GET"
        )
        with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
            return json.load(reply)

    def reset_calls(self) -> None:
        self.api("calls/reset", {})

    def calls(self) -> list[dict[str, Any]]:
        return self.api("calls")["calls"]

    def mutating_calls(self) -> list[str]:
        return [f"{c['service']}:{c['action']}" for c in self.calls() if c["mutating"]]

    @property
    def hosts(self) -> list[str]:
        return [h["name"] for h in self.state["fleet"]["hosts"]]


@contextlib.contextmanager
def start_lab(folder: Path, prefix: str, *options: str) -> Iterator[Lab]:
    """A lab of one's own in ``folder``: up on entry, down on exit, and never orphaned.

    ``--exit-with`` ties the lab to this test process, so a run killed before its teardown
    leaves no server, database or container behind.
    """
    env = {
        **os.environ,
        "CAREOPS_LAB_DIR": str(folder),
        "CAREOPS_LAB_PREFIX": prefix,
        "CONTAINERS_CONF": str(ROOT / "lab" / "containers.conf"),
    }
    up = subprocess.run(
        [sys.executable, "-m", "lab", "up", "--exit-with", str(os.getpid()), *options],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert up.returncode == 0, f"lab up failed:\n{up.stdout}\n{up.stderr}"
    state = json.loads((folder / "state.json").read_text())
    lab_env = {
        **env,
        "AWS_ENDPOINT_URL": state["endpoint"],
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_REGION": state["region"],
        "AWS_DEFAULT_REGION": state["region"],
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_INVENTORY_CACHE_CONNECTION": str(folder / "inventory-cache"),
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(folder / "fact-cache"),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    try:
        yield Lab(state=state, env=lab_env)
    finally:
        subprocess.run(
            [sys.executable, "-m", "lab", "down"], cwd=ROOT, env=env, capture_output=True, check=False
        )


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with start_lab(
        tmp_path_factory.mktemp("lab"), f"t{os.getpid()}", "--transition-seconds", "1"
    ) as session_lab:
        yield session_lab


def run_playbook(
    lab: Lab,
    playbook: str,
    extra_vars: dict[str, Any] | None = None,
    *,
    check: bool = False,
    inventory: str = "inventories/lab",
    options: list[str] | None = None,
    timeout: int = 600,
) -> subprocess.CompletedProcess:
    """Run one playbook against the lab, as an operator would from a shell."""
    command = [str(VENV_BIN / "ansible-playbook"), "-i", inventory, playbook]
    if extra_vars:
        command += ["-e", json.dumps(extra_vars)]
    if check:
        command += ["--check", "--diff"]
    command += options or []
    return subprocess.run(
        command, cwd=ROOT, env=lab.env, capture_output=True, text=True, timeout=timeout, check=False
    )
