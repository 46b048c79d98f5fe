"""Static checks of the fleet roles (cloudwatch_agent, hardening): no hosts, no lab.

They keep the documented interface and the code in step: argument specs against defaults,
generated README blocks against specs, hardening control metadata against the tasks, the
vendored agent schema against what the role renders, and the lab stand-in's labelling.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ROLES = ("cloudwatch_agent", "hardening")
TYPES = {"bool": bool, "int": int, "str": str, "list": list, "dict": dict}


def load(path: Path) -> object:
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("role", ROLES)
def test_every_default_has_a_spec_and_back(role: str) -> None:
    defaults = load(ROOT / "roles" / role / "defaults" / "main.yml")
    options = load(ROOT / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert set(defaults) == set(options)


@pytest.mark.parametrize("role", ROLES)
def test_spec_types_and_defaults_match_defaults(role: str) -> None:
    defaults = load(ROOT / "roles" / role / "defaults" / "main.yml")
    options = load(ROOT / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    for name, value in defaults.items():
        option = options[name]
        assert isinstance(value, TYPES[option["type"]]), name
        assert option.get("description"), name
        # Templated defaults are shown in a readable form in the spec; literal ones must be equal.
        if "{{" not in json.dumps(value):
            assert option["default"] == value, name


@pytest.mark.parametrize("role", ROLES)
def test_every_public_default_has_a_why_comment(role: str) -> None:
    lines = (ROOT / "roles" / role / "defaults" / "main.yml").read_text().splitlines()
    for number, line in enumerate(lines):
        if re.match(r"^[a-z_]+:", line):
            assert lines[number - 1].startswith("#"), line


def test_generated_readme_blocks_are_current() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/gen_role_docs.py", "--check", *ROLES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("role", ROLES)
def test_readme_has_the_house_sections(role: str) -> None:
    readme = (ROOT / "roles" / role / "README.md").read_text()
    for section in (
        "Purpose",
        "Caution",
        "Requirements",
        "Variables",
        "Check mode and idempotence",
        "Example",
        "AWX usage",
        "Known limitations",
    ):
        assert f"## {section}\n" in readme, section


def _task_files(role: str) -> list[dict]:
    tasks = []
    for path in (ROOT / "roles" / role).glob("*/*.yml"):
        if path.parent.name in ("tasks", "handlers"):
            tasks.extend(load(path) or [])
    return tasks


@pytest.mark.parametrize("role", ROLES)
def test_task_names_read_as_a_log(role: str) -> None:
    for task in _task_files(role):
        name = task["name"]
        assert re.match(r"^[A-Z][A-Za-z]+ \| [A-Z]", name), name
        assert not name.endswith("."), name
        jinja = name.find("{{")
        assert jinja == -1 or name.rstrip().endswith("}}"), name


def test_hardening_controls_are_complete_and_used() -> None:
    role = ROOT / "roles" / "hardening"
    controls = load(role / "vars" / "main.yml")["hardening__controls"]
    defaults = load(role / "defaults" / "main.yml")
    ids = [c["id"] for c in controls]
    assert len(ids) == len(set(ids))
    task_text = "\n".join(p.read_text() for p in (role / "tasks").glob("*.yml"))
    for control in controls:
        assert re.fullmatch(r"HRD-[A-Z]+-\d{2}", control["id"])
        assert isinstance(defaults[control["toggle"]], bool), control["toggle"]
        assert control["reason"].endswith("."), control["id"]
        assert control["id"] in task_text, f"no task names {control['id']}"
        assert control["tag"] in task_text, f"no task carries tag {control['tag']}"
        assert f"{control['toggle']} | bool" in task_text, f"{control['toggle']} is never tested"


def test_risky_hardening_controls_are_off_by_default() -> None:
    defaults = load(ROOT / "roles" / "hardening" / "defaults" / "main.yml")
    assert defaults["hardening_faillock_enabled"] is False
    assert defaults["hardening_ssh_allow_groups"] == []
    assert defaults["hardening_auditd_immutable"] is False
    assert defaults["hardening_auto_updates_reboot"] is False


@pytest.fixture(scope="module")
def agent_schema() -> dict:
    schema = json.loads(
        (ROOT / "roles/cloudwatch_agent/files/amazon-cloudwatch-agent.schema.json").read_text()
    )
    jsonschema.Draft7Validator.check_schema(schema)
    return schema


def _sample() -> dict:
    return {
        "agent": {"metrics_collection_interval": 60, "run_as_user": "root"},
        "metrics": {
            "namespace": "CWAgent",
            "append_dimensions": {"InstanceId": "${aws:InstanceId}"},
            "metrics_collected": {
                "mem": {"measurement": ["mem_used_percent"]},
                "disk": {"measurement": ["used_percent"], "resources": ["/"]},
                "procstat": [{"exe": "sshd", "measurement": ["pid_count"]}],
            },
        },
        "logs": {
            "logs_collected": {
                "files": {
                    "collect_list": [
                        {
                            "file_path": "/var/log/syslog",
                            "log_group_name": "/careops/lab/system",
                            "retention_in_days": 90,
                        }
                    ]
                }
            }
        },
    }


def test_schema_accepts_what_the_role_renders(agent_schema: dict) -> None:
    jsonschema.validate(_sample(), agent_schema)


@pytest.mark.parametrize(
    "breakage",
    [
        lambda c: c["logs"]["logs_collected"]["files"]["collect_list"][0].update(retention_in_days=8),
        lambda c: c["logs"]["logs_collected"]["files"]["collect_list"][0].pop("log_group_name"),
        lambda c: c["metrics"]["append_dimensions"].update(InstanceId="i-123"),
        lambda c: c["metrics"]["metrics_collected"]["procstat"][0].update(pattern="x"),
        lambda c: c.update(metrix={}),
        lambda c: c["agent"].update(metrics_collection_interval="60"),
    ],
    ids=[
        "bad-retention",
        "no-log-group",
        "literal-dimension",
        "two-process-selectors",
        "typo-section",
        "string-interval",
    ],
)
def test_schema_rejects_broken_configurations(agent_schema: dict, breakage) -> None:
    config = _sample()
    breakage(config)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(config, agent_schema)


def test_standin_package_is_labelled_and_reproducible(tmp_path: Path) -> None:
    build = [sys.executable, "-m", "lab.agent_standin", "--out"]
    first = subprocess.run(
        [*build, str(tmp_path / "a")], cwd=ROOT, capture_output=True, text=True, check=True
    )
    second = subprocess.run(
        [*build, str(tmp_path / "b")], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert first.stdout.split()[1] == second.stdout.split()[1]
    deb = first.stdout.split()[0]
    info = subprocess.run(["dpkg-deb", "--info", deb], capture_output=True, text=True, check=True).stdout
    assert "Package: amazon-cloudwatch-agent" in info
    assert "LAB STAND-IN" in info
    assert "labstandin" in info
    digest = (tmp_path / "a" / "amazon-cloudwatch-agent.deb.sha256").read_text().split()[0]
    assert digest == first.stdout.split()[1]


def _resolve(text: str, item: str | None, platform: dict) -> str:
    """A task or manifest string with `item` and `hardening__os.<key>` filled in (Debian)."""
    text = text.replace("{{ item }}", item or "")
    return re.sub(r"\{\{ hardening__os\.(\w+) \}\}", lambda m: platform[m.group(1)], text).strip()


def test_hardening_probe_manifest_matches_every_write_task() -> None:
    """Each file the role writes whole is in hardening__managed_files with the same source and
    mode, and its task is skipped only through the probe's hardening__in_sync: a task and the
    manifest that drift apart would make the probe skip a file that needs writing."""
    role = ROOT / "roles" / "hardening"
    role_vars = load(role / "vars" / "main.yml")
    platform = role_vars["hardening__platform"]["Debian"]
    manifest = {_resolve(f["dest"], None, platform): f for f in role_vars["hardening__managed_files"]}
    written = set()
    for path in (role / "tasks").glob("*.yml"):
        for task in load(path) or []:
            module = next((m for m in ("ansible.builtin.template", "ansible.builtin.copy") if m in task), "")
            if not module:
                continue
            args = task[module]
            items = task.get("loop") or [None]
            for item in items:
                dest = _resolve(args["dest"], item, platform)
                assert dest in manifest, f"{task['name']}: {dest} is not in hardening__managed_files"
                entry = manifest[dest]
                if module == "ansible.builtin.template":
                    assert _resolve(args["src"], item, platform) == entry.get("template"), dest
                else:
                    assert args["content"] == entry.get("content"), dest
                assert (args["owner"], args["group"], args["mode"]) == ("root", "root", entry["mode"]), dest
                assert "hardening__in_sync" in json.dumps(task.get("when")), task["name"]
                written.add(dest)
    assert written == set(manifest), f"manifest entries without a task: {set(manifest) - written}"
