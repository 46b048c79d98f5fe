"""No secrets: none in the repository, none in task output, none in reports or evidence.

Three ways a credential leaks from an Ansible repository, each with its test:

- committed to a file: scripts/check_secrets.sh runs detect-secrets over every tracked file
  against .secrets.baseline (``make lint`` and the pre-commit hook run the same scan);
- printed by a task: every task whose module arguments mention a password, token or secret
  must carry ``no_log: true``, or AWX keeps the value in its job output for everyone with
  read access. The test parses the YAML of every role's tasks and handlers and every playbook
  (blocks, rescue and always included), since ``--list-tasks`` shows names, not arguments;
- written to a record: reports and evidence files produced during this test session must not
  contain the lab's database password, the IAM keys the least-privilege tests issued, or
  anything shaped like an AWS secret key.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, Lab

sys.path.insert(0, str(ROOT / "scripts"))
import iam_from_calls as iam

SENSITIVE = re.compile(r"passw(or)?d|token|secret", re.IGNORECASE)
# Words that name no credential: IMDSv2's HttpTokens setting and metric, sshd's password
# options, and tests of whether a variable exists (which never print its value).
NOT_CREDENTIALS = re.compile(
    r"http_?tokens|metadata_?no_?token|password_?authentication|prohibit-password|\w+\s+is\s+(not\s+)?defined",
    re.IGNORECASE,
)
JINJA = re.compile(r"\{[{%](.*?)[%}]\}", re.DOTALL)
# Quoted text with spaces inside a template is a message, not a variable or lookup name.
PROSE = re.compile(r"'[^']*\s[^']*'|\"[^\"]*\s[^\"]*\"")


def _mentions_secret(node: Any) -> bool:
    """Whether arguments carry a secret: a key named so, or a template that reads one.

    Prose in a message ("check the probe login (secret)"), inside a template or not, carries
    nothing and is not counted.
    """
    if isinstance(node, dict):
        return any(
            SENSITIVE.search(NOT_CREDENTIALS.sub("", str(key))) or _mentions_secret(value)
            for key, value in node.items()
        )
    if isinstance(node, list):
        return any(_mentions_secret(value) for value in node)
    if isinstance(node, str):
        return any(
            SENSITIVE.search(NOT_CREDENTIALS.sub("", PROSE.sub("", expr))) for expr in JINJA.findall(node)
        )
    return False


# Keys of a task that are not its module (Ansible's task and block keywords).
TASK_KEYWORDS = frozenset(
    [
        "name",
        "when",
        "register",
        "loop",
        "loop_control",
        "changed_when",
        "failed_when",
        "notify",
        "tags",
        "vars",
        "become",
        "become_user",
        "become_method",
        "become_flags",
        "delegate_to",
        "delegate_facts",
        "run_once",
        "no_log",
        "ignore_errors",
        "ignore_unreachable",
        "environment",
        "check_mode",
        "diff",
        "until",
        "retries",
        "delay",
        "args",
        "listen",
        "module_defaults",
        "any_errors_fatal",
        "throttle",
        "timeout",
        "collections",
        "connection",
        "debugger",
        "async",
        "poll",
        "port",
        "remote_user",
        "block",
        "rescue",
        "always",
    ]
)
LOOP_PREFIX = "with_"

# Tasks allowed to name a secret without no_log, each with the reason.
EXEMPT: dict[tuple[str, str], str] = {
    ("roles/hardening/tasks/preflight.yml", "Preflight | Note access paths the guard kept open"): (
        "notes in prose whether sshd password logins stay on; it handles no credential value"
    ),
}

# Shapes of AWS credentials (access key IDs, and 40-character secret keys after a key name).
CREDENTIAL_SHAPES = (
    re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    re.compile(r"(?i)secret_?access_?key[\"':= ]+[A-Za-z0-9/+]{40}"),
    re.compile(r"(?i)\"password\"\s*:\s*\"[^\"*]{6,}\""),
)


def test_tracked_files_hold_no_new_secret() -> None:
    result = subprocess.run(
        ["bash", "scripts/check_secrets.sh"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"detect-secrets found secrets:\n{result.stdout}\n{result.stderr}"


def _task_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", "HEAD", "--", "roles", "playbooks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    files = []
    for name in listed:
        path = Path(name)
        if path.suffix not in (".yml", ".yaml") or not (ROOT / path).is_file():
            continue
        in_role = path.parts[0] == "roles" and len(path.parts) > 2 and path.parts[2] in ("tasks", "handlers")
        in_playbooks = path.parts[0] == "playbooks" and "specs" not in path.parts
        if in_role or in_playbooks:
            files.append(path)
    return files


def _tasks(node: Any) -> Iterator[dict[str, Any]]:
    """Every task in a task list, a play or a list of plays, blocks opened."""
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
        return
    if not isinstance(node, dict):
        return
    if "hosts" in node or "import_playbook" in node:
        for section in ("pre_tasks", "tasks", "post_tasks", "handlers"):
            yield from _tasks(node.get(section) or [])
        return
    if "block" in node:
        for section in ("block", "rescue", "always"):
            yield from _tasks(node.get(section) or [])
        return
    yield node


def _module_args(task: dict[str, Any]) -> tuple[str, Any]:
    modules = [k for k in task if k not in TASK_KEYWORDS and not k.startswith(LOOP_PREFIX)]
    module = modules[0] if modules else "?"
    return module, {"module": task.get(module), "args": task.get("args")}


def _secret_tasks_without_no_log() -> list[str]:
    offenders = []
    for path in _task_files():
        document = yaml.safe_load((ROOT / path).read_text())
        for task in _tasks(document):
            module, args = _module_args(task)
            if not _mentions_secret(args):
                continue
            if task.get("no_log") is True or (str(path), task.get("name", "")) in EXEMPT:
                continue
            offenders.append(f"{path}: {task.get('name', module)!r} ({module})")
    return offenders


def test_tasks_that_handle_secrets_have_no_log() -> None:
    assert _task_files(), "no task files found; the scan would prove nothing"
    offenders = _secret_tasks_without_no_log()
    assert offenders == [], "tasks whose arguments name a password, token or secret need no_log: true:\n" + (
        "\n".join(offenders)
    )


def test_the_no_log_scan_finds_a_task_that_leaks(tmp_path: Path) -> None:
    """The scanner itself, on a task list that leaks and one that does not."""
    leaking = [
        {
            "name": "Verify | Read the login",
            "ansible.builtin.set_fact": {"db_password": "{{ lookup('x') }}"},
        },
        {"name": "Audit | List buckets", "amazon.aws.s3_bucket_info": {}},
        {"block": [{"name": "Read token", "ansible.builtin.uri": {"url": "x", "headers": {"X-Token": "t"}}}]},
        {
            "name": "Lookup",
            "ansible.builtin.set_fact": {"login": "{{ lookup('amazon.aws.secretsmanager_secret', 'i') }}"},
        },
        {"name": "Prose", "ansible.builtin.fail": {"msg": "check the probe login (secret) and network path"}},
        {
            "name": "Sshd",
            "ansible.builtin.set_fact": {"x": "{{ 'no' if hardening__password_authentication else 'yes' }}"},
        },
    ]
    found = [t.get("name") for t in _tasks(leaking) if _mentions_secret(_module_args(t)[1])]
    assert found == ["Verify | Read the login", "Read token", "Lookup"]


def _credential_values(lab: Lab) -> list[str]:
    values = []
    secret = lab.client("secretsmanager").get_secret_value(SecretId="careops/lab/db-verify")
    values.append(json.loads(secret["SecretString"])["password"])
    values.append(iam.THROWAWAY_SECRET)
    try:
        import test_least_privilege  # noqa: PLC0415 - same module object pytest loaded

        values += test_least_privilege.ISSUED_SECRETS
    except ImportError:
        pass
    return [v for v in values if len(v) >= 8]


def _records(base: Path) -> list[Path]:
    wanted = {".json", ".md", ".html", ".xml", ".log", ".txt", ".yml", ".jsonl"}
    return [
        p
        for p in base.rglob("*")
        if p.is_file()
        and p.suffix in wanted
        and any(part in ("reports", "evidence") for part in p.relative_to(base).parts[:-1])
    ]


def test_reports_and_evidence_hold_no_credential(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Runs after the playbook tests of this session (alphabetical order), over what they wrote."""
    roots = [tmp_path_factory.getbasetemp(), ROOT / "reports", ROOT / "evidence"]
    records = [p for root in roots if root.is_dir() for p in _records(root)]
    if not records:
        pytest.skip("no report or evidence file was produced in this session to check")
    values = _credential_values(lab)
    leaks = []
    for path in records:
        text = path.read_text(errors="replace")
        leaks += [f"{path}: a credential value" for v in values if v in text]
        leaks += [f"{path}: {shape.pattern}" for shape in CREDENTIAL_SHAPES if shape.search(text)]
    assert leaks == [], "credentials in reports or evidence:\n" + "\n".join(leaks)
