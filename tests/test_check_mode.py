"""Check mode writes nothing: every playbook, run with --check against the lab, makes no write call.

Operators run ``--check --diff`` against production before every change, and AWX schedules
check runs; a module that writes in check mode would change production while saying it would.
The lab logs every AWS request with whether it writes (Create/Modify/Put/Delete/Reboot/Restore/
Authorize/Revoke/Run/Terminate/Tag/Copy/Failover... and S3's PUT/POST/DELETE), so the count of
write calls during a check run must be zero, whatever the playbook's result.

Playbooks are discovered (every play file git tracks under playbooks/); runbooks get valid
inputs from ``iam_from_calls.RUNS``, so the check run goes as far as a real run would.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from conftest import ROOT, Lab, run_playbook

sys.path.insert(0, str(ROOT / "scripts"))
import iam_from_calls as iam


def _safe(lab: Lab) -> Lab:
    """The session lab with keys Ansible's no_log masking cannot find inside results ("lab")."""
    return Lab(state=lab.state, env=iam.masking_safe_env(lab.env))


PLAYBOOKS = sorted(set(iam.RUNS) | set(iam.committed_playbooks()))


def test_every_discovered_playbook_has_inputs() -> None:
    """A new playbook must say how to run it, or check mode would be proved on a refusal only."""
    missing = sorted(
        p for p in set(iam.committed_playbooks()) - set(iam.RUNS) if not iam.imported_playbooks(p)
    )
    assert missing == [], f"add valid lab inputs for {missing} to RUNS in scripts/iam_from_calls.py"


@pytest.mark.slow
@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_check_mode_makes_no_write_call(lab: Lab, playbook: str, tmp_path: Path) -> None:
    if playbook not in iam.committed_playbooks():
        pytest.skip(f"{playbook} is not committed yet")
    if iam.imported_playbooks(playbook):
        pytest.skip(f"{playbook} only imports {iam.imported_playbooks(playbook)}: their check runs cover it")
    inputs = iam.run_inputs(playbook, "cm", lab.client("rds"))
    inputs |= {"report_dir": str(tmp_path / "reports"), "evidence_dir": str(tmp_path / "evidence")}
    # A cold inventory cache makes the run read AWS even for playbooks whose plays only
    # configure hosts (fleet.yml): the inventory's own calls must be reads too.
    shutil.rmtree(lab.env["ANSIBLE_INVENTORY_CACHE_CONNECTION"], ignore_errors=True)
    lab.reset_calls()
    result = run_playbook(_safe(lab), playbook, inputs, check=True)
    calls = lab.calls()
    writes = [f"{c['service']}:{c['action']}" for c in calls if c["mutating"]]
    assert writes == [], f"{playbook} --check wrote: {writes}"
    assert calls, f"{playbook} --check made no AWS call at all, so it proved nothing"
    assert result.returncode == 0, f"{playbook} --check failed:\n{result.stdout[-4000:]}"
