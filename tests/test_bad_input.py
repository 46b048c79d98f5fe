"""Bad input is refused before anything changes, with an error that names the variable.

AWX surveys send strings, operators type IDs at 3 a.m., and an extra variable can carry a
template: every playbook must refuse a malformed input in preflight, say which variable was
wrong, and make no write call. The cases are a table per playbook (wrong types, empty strings,
injection-looking strings, unknown IDs, times without an offset) plus, for runbooks, one wrong
type per required or non-string option of the argument spec, so a new input is covered the day
it is added.

Each malformed value reaches the playbook as AWX sends a survey answer: in an extra-vars file,
tagged ``!unsafe`` (AWX's default, ``ALLOW_JINJA_IN_EXTRA_VARS = template``, renders Jinja only
in a job template's own extra vars). The valid inputs around it are passed with ``-e`` as usual.
A template typed on the command line with ``-e`` *is* rendered by Ansible, by design: whoever
runs ansible-playbook can run commands anyway, so that is not a privilege boundary.

Injection strings carry a canary: ``x; rm -rf /nonexistent...; touch CANARY`` and
``{{ lookup('pipe', 'touch CANARY') }}``. If either were run by a shell or rendered as a template,
the file would exist. (The ``rm`` names a path that does not exist: the shape of the classic
injection without its damage, should a playbook ever pass it to a shell.)

Speed: every case is a whole ansible-playbook run that must stop in preflight. They run four at
a time, with a static inventory holding the lab's group_vars (the EC2 inventory plugin would add
a second per run and prove nothing here).
"""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, Lab, run_playbook

sys.path.insert(0, str(ROOT / "scripts"))
import iam_from_calls as iam

SHELL = "x; rm -rf /nonexistent-careops-canary; touch CANARY"
TEMPLATE = "{{ lookup('pipe', 'touch CANARY') }}"
PIPE_ID = "{{ lookup('pipe','id') }}"


@dataclass(frozen=True)
class Case:
    """One malformed value for one input, and the variable the error must name."""

    variable: str
    value: Any
    names: str = ""  # the variable the error names, when another check catches it first

    @property
    def expected(self) -> str:
        return self.names or self.variable


TABLE: dict[str, list[Case]] = {
    "playbooks/audit.yml": [
        Case("aws_regions", "sa-east-1"),
        Case("aws_regions", []),
        Case("aws_regions", [SHELL]),
        Case("aws_regions", [PIPE_ID]),
        Case("fail_on", "severe"),
        Case("fail_on", ""),
        Case("audit_imds_usage_days", "ten"),
        Case("audit_max_workers", SHELL),
        Case("audit_controls", {"IMDS-04": True}),
        Case("audit_controls", ["NO-SUCH-CONTROL"]),
    ],
    "playbooks/aws_baseline.yml": [
        Case("aws_regions", "sa-east-1"),
        Case("aws_regions", [TEMPLATE]),
        Case("aws_baseline_waves", [SHELL]),
        Case("aws_baseline_waves", []),
        Case("aws_baseline_allow_iac_changes", "maybe"),
        Case("aws_baseline_imdsv2_force", "yes please"),
        Case("aws_baseline_imds_usage_days", "fourteen"),
        Case("aws_baseline_controls", ["NO-SUCH-CONTROL"]),
    ],
    "playbooks/runbooks/pitr_restore.yml": [
        Case("source_db", ""),
        Case("source_db", "no-such-db", names="no-such-db"),
        Case("source_db", SHELL),
        Case("source_db", TEMPLATE),
        Case("source_db", PIPE_ID),
        Case("restore_time", "2026-12-03T10:00:00"),
        Case("restore_time", "yesterday"),
        Case("incident_time", "2026-12-03 10:20"),
        Case("target_db", "prod-auth", names="prod-auth"),
        Case("target_db", "Bad_Name!"),
        Case("confirm", "prod-auth"),
        Case("ticket", ""),
    ],
    "playbooks/runbooks/snapshot.yml": [
        Case("targets", []),
        Case("targets", ["no-such-db"], names="no-such-db"),
        Case("targets", [SHELL]),
        Case("targets", [TEMPLATE]),
        Case("targets", [PIPE_ID]),
        Case("dr_region", "mars-1"),
        Case("cleanup_older_than_days", -3),
        Case("ticket", ""),
    ],
    "playbooks/fleet.yml": [
        Case("fleet_target", SHELL),
        Case("fleet_target", "no-such-host"),
        Case("fleet_target", [TEMPLATE]),
        Case("fleet_batch", "lots"),
        Case("fleet_batch", "0"),
        Case("fleet_allow_no_canary", "perhaps"),
    ],
    "playbooks/runbooks/restore_snapshot.yml": [
        Case("snapshot_id", ""),
        Case("snapshot_id", "no-such-snapshot", names="no-such-snapshot"),
        Case("snapshot_id", TEMPLATE),
        Case("source_db", SHELL),
        Case("incident_time", "2026-12-03 10:20"),
        Case("confirm", "prod-auth"),
        Case("ticket", ""),
    ],
    "playbooks/runbooks/failover_drill.yml": [
        Case("drill", "dns"),
        Case("target", ""),
        Case("target", "no-such-db", names="no-such-db"),
        Case("target", SHELL),
        Case("target", TEMPLATE),
        Case("target", PIPE_ID),
        Case("confirm", "prod-auth"),
        Case("ticket", ""),
        Case("stop_alarms", [TEMPLATE]),
    ],
}

# Playbooks whose inputs cannot be refused before a change today, with the reason; each is a
# fix for the playbook's owner, not for this test (docs/safety.md). None today.
KNOWN_GAPS: dict[str, str] = {}

# Playbooks that need the real inventory to judge their inputs (fleet_target is a host pattern).
INVENTORY = {"playbooks/fleet.yml": "inventories/lab"}

# One wrong type per option type of a runbook's argument spec.
WRONG_TYPE = {
    "str": ["a", "list"],
    "int": "ninety",
    "float": "fast",
    "bool": "perhaps",
    "list": {"not": "a list"},
}


def _spec_cases(playbook: str) -> list[Case]:
    spec_file = ROOT / Path(playbook).parent / "specs" / Path(playbook).name
    if not spec_file.is_file():
        return []
    options = yaml.safe_load(spec_file.read_text())["argument_specs"]["main"]["options"]
    # Strings get their cases in the table (Ansible turns most values into a string anyway);
    # every required option and every non-string one gets a wrong type here.
    return [
        Case(name, WRONG_TYPE[option.get("type", "str")])
        for name, option in options.items()
        if option.get("type", "str") in WRONG_TYPE
        and (option.get("required") or option.get("type", "str") != "str")
    ]


def _cases(playbook: str) -> list[Case]:
    cases = TABLE.get(playbook, []) + _spec_cases(playbook)
    unique: dict[str, Case] = {json.dumps([c.variable, c.value]): c for c in cases}
    return list(unique.values())


def _safe(lab: Lab) -> Lab:
    """The session lab with keys Ansible's no_log masking cannot find inside results ("lab")."""
    return Lab(state=lab.state, env=iam.masking_safe_env(lab.env))


PLAYBOOKS = sorted(set(TABLE) | set(iam.committed_playbooks()))


@pytest.fixture(scope="module")
def static_inventory(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("bad-input-inventory")
    (folder / "hosts.yml").write_text("---\nall:\n  hosts: {}\n")
    (folder / "group_vars").symlink_to(ROOT / "inventories" / "lab" / "group_vars")
    return str(folder)


def test_every_committed_playbook_has_bad_input_cases() -> None:
    without = [p for p in iam.committed_playbooks() if not _cases(p) and not iam.imported_playbooks(p)]
    assert without == [], f"add malformed-input cases for {without} to TABLE in {Path(__file__).name}"


@pytest.mark.slow
@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_malformed_inputs_are_refused_by_name_without_writes(
    lab: Lab, playbook: str, static_inventory: str, tmp_path: Path
) -> None:
    if playbook not in iam.committed_playbooks():
        pytest.skip(f"{playbook} is not committed yet")
    if iam.imported_playbooks(playbook):
        pytest.skip(
            f"{playbook} only imports {iam.imported_playbooks(playbook)}: their inputs are its inputs"
        )
    if playbook in KNOWN_GAPS:
        pytest.skip(KNOWN_GAPS[playbook])
    cases = _cases(playbook)
    canary = tmp_path / "canary"
    base = iam.run_inputs(playbook, "bi", lab.client("rds")) | {
        "report_dir": str(tmp_path / "reports"),
        "evidence_dir": str(tmp_path / "evidence"),
    }

    def attempt(case: Case) -> tuple[Case, int, str]:
        value = json.loads(json.dumps(case.value).replace("CANARY", str(canary)))
        answers = tmp_path / f"answer-{abs(hash(json.dumps([case.variable, value])))}.yml"
        answers.write_text(yaml.dump({case.variable: _unsafe(value)}, Dumper=_SurveyDumper))
        result = run_playbook(
            _safe(lab),
            playbook,
            base,
            inventory=INVENTORY.get(playbook, static_inventory),
            options=["-e", f"@{answers}"],
        )
        return case, result.returncode, result.stdout + result.stderr

    lab.reset_calls()
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 2)) as pool:
        outcomes = list(pool.map(attempt, cases))
    writes = lab.mutating_calls()

    accepted = [f"{c.variable}={c.value!r}" for c, rc, _ in outcomes if rc == 0]
    unnamed = [
        f"{c.variable}={c.value!r}: {_last_error(out)}"
        for c, rc, out in outcomes
        if rc and c.expected not in out
    ]
    executed = [f"{c.variable}={c.value!r}" for c, _, out in outcomes if "uid=" in out]
    print(f"{playbook}: {len(cases)} malformed inputs tried, {len(cases) - len(accepted)} refused")
    assert not canary.exists(), "an injected command or template was run"
    assert executed == [], f"lookup('pipe','id') was rendered for {executed}"
    assert writes == [], f"bad inputs to {playbook} led to writes: {writes}"
    assert accepted == [], f"{playbook} accepted malformed inputs: {accepted}"
    assert unnamed == [], f"{playbook} refused without naming the variable:\n" + "\n".join(unnamed)


class _Unsafe(str):
    """A survey answer: AWX hands these to Ansible tagged !unsafe, so they are never templated."""


class _SurveyDumper(yaml.SafeDumper):
    pass


_SurveyDumper.add_representer(_Unsafe, lambda dumper, data: dumper.represent_scalar("!unsafe", str(data)))


def _unsafe(value: Any) -> Any:
    if isinstance(value, str):
        return _Unsafe(value)
    if isinstance(value, list):
        return [_unsafe(v) for v in value]
    if isinstance(value, dict):
        return {k: _unsafe(v) for k, v in value.items()}
    return value


def _last_error(output: str) -> str:
    lines = [line for line in output.splitlines() if "ERROR" in line or "msg" in line or "fatal" in line]
    return " | ".join(lines[-3:])[:400]
