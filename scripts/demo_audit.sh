#!/usr/bin/env bash
# Audit -> baseline -> re-audit on the lab, with a summary of what was found and what changed.
# Needs the lab's environment sourced (. .lab/env) and the repository root as working folder;
# scripts/demo.sh calls it after `python -m lab up`.
set -euo pipefail

: "${AWS_ENDPOINT_URL:?source the lab environment first: . .lab/env}"
[[ -f playbooks/audit.yml ]] || { echo "run from the repository root" >&2; exit 2; }
export PATH="$PWD/.venv/bin:$PATH"

stamp=$(date -u +%Y%m%dT%H%M%SZ)
before="reports/demo-$stamp/before"
after="reports/demo-$stamp/after"
baseline_log="reports/demo-$stamp/baseline.log"
mkdir -p "reports/demo-$stamp"

summarise() {
  python - "$1" <<'PY'
import collections, json, sys
findings = json.load(open(sys.argv[1] + "/findings.json"))
failing = [f for f in findings if f["status"] == "FAIL"]
by_mode = collections.Counter(f["enforcement"] for f in failing)
by_sev = collections.Counter(f["severity"] for f in failing)
print(f"  {len(findings)} findings, {len(failing)} failing: "
      + ", ".join(f"{s} {by_sev.get(s, 0)}" for s in ("critical", "high", "medium", "low"))
      + " | " + ", ".join(f"{m} {n}" for m, n in sorted(by_mode.items())))
rank = {"critical": 0, "high": 1, "medium": 2, "low": 3}
for f in sorted(failing, key=lambda f: (rank[f["severity"]], f["control_id"], f["resource_name"]))[:40]:
    print(f"  {f['control_id']:8} {f['enforcement']:12} {f['resource_name'][:34]:34} {f['message'][:70]}")
if len(failing) > 40:
    print(f"  ... and {len(failing) - 40} more in {sys.argv[1]}/report.html")
PY
}

echo "--- audit (read-only) -> $before"
t=$SECONDS
ansible-playbook playbooks/audit.yml -e "report_dir=$PWD/$before" > "reports/demo-$stamp/audit-before.log" 2>&1
echo "  took $((SECONDS - t)) s"
summarise "$before"

echo "--- baseline (homologation, then production, then account) -> $baseline_log"
t=$SECONDS
ansible-playbook playbooks/aws_baseline.yml --diff > "$baseline_log" 2>&1
echo "  took $((SECONDS - t)) s; $(grep -Eo 'changed=[0-9]+' "$baseline_log" | head -1) tasks changed"
grep -E '^(changed|ok): \[localhost\] => \(item=' "$baseline_log" | grep '^changed' \
  | sed -E 's/^changed: \[localhost\] => \(item=(.*)\)$/  fixed: \1/' | head -40 || true
grep -E 'IMDSv1 still in use|Owned by' "$baseline_log" | sed 's/^ */  held back: /' | sort -u | head -10 || true

echo "--- re-audit -> $after"
ansible-playbook playbooks/audit.yml -e "report_dir=$PWD/$after" > "reports/demo-$stamp/audit-after.log" 2>&1
summarise "$after"
echo "  what still fails is report-only or manual (migration path in $after/report.html)"
