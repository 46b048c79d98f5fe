#!/usr/bin/env bash
# `make demo`: bring up the lab and run the main job on it, then summarise.
# Each stage runs only when its playbooks exist, so the demo grows with the repository.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export PATH="$top/.venv/bin:$PATH"
export CONTAINERS_CONF="$top/lab/containers.conf"
export ANSIBLE_CONFIG="$top/ansible.cfg"
export ANSIBLE_DEPRECATION_WARNINGS=false

summary=()
banner() { printf '\n=== %s\n' "$*"; }
elapsed() { echo $((SECONDS - $1))s; }

started=$SECONDS
banner "Lab: emulated AWS account, seeded estate, podman fleet"
python -m lab up
# shellcheck disable=SC1091
. .lab/env
python -m lab status || true

banner "Inventory: the fleet through careops_ec2 (aws_ec2, composed hosts cached)"
ansible-inventory -i inventories/lab --graph
hosts=$(ansible-inventory -i inventories/lab --list | python -c 'import json,sys; print(len(json.load(sys.stdin)["_meta"]["hostvars"]))')
summary+=("inventory: $hosts lab hosts found by careops_ec2")
# A warm load, as the next playbook run within cache_timeout pays it: served from careops_ec2's
# cache of composed hosts, so it makes no AWS call (the lab's call log says so).
warm=$(python - <<'PY'
import json, os, subprocess, time, urllib.request
api = os.environ["AWS_ENDPOINT_URL"] + "/lab-api/"
urllib.request.urlopen(urllib.request.Request(api + "calls/reset", data=b"{}", method="POST"), timeout=10)
started = time.monotonic()
subprocess.run(["ansible", "-i", "inventories/lab", "all", "--list-hosts"], check=True, capture_output=True)
took = time.monotonic() - started
calls = json.load(urllib.request.urlopen(api + "calls", timeout=10))["calls"]
print(f"{took:.1f} s, {len(calls)} AWS calls")
PY
)
echo "warm inventory load: $warm"
summary+=("inventory, warm load: $warm (careops_ec2's cache of composed hosts)")
if [[ $hosts -gt 0 ]]; then
  ansible -i inventories/lab all -m ansible.builtin.ping -o
fi

if [[ -f playbooks/fleet.yml && $hosts -gt 0 ]]; then
  banner "Fleet: CloudWatch agent (lab stand-in package) and hardening, canary first"
  mapfile -t fleet_hosts < <(python -c 'import json; [print(h["name"]) for h in json.load(open(".lab/state.json"))["fleet"]["hosts"]]')
  lynis() { python molecule/hardening/lynis_index.py "${fleet_hosts[@]}" | tee "$1"; }
  if command -v lynis >/dev/null; then
    echo "Lynis hardening index before:"
    lynis .lab/lynis-before.txt
  fi
  t=$SECONDS
  ansible-playbook -i inventories/lab playbooks/fleet.yml | tee .lab/fleet-first.log | tail -n 12
  summary+=("fleet: first run $(elapsed "$t") on ${#fleet_hosts[@]} hosts")
  t=$SECONDS
  ansible-playbook -i inventories/lab playbooks/fleet.yml | tee .lab/fleet-rerun.log | tail -n 6
  summary+=("fleet: no-change rerun $(elapsed "$t"); $(grep -Eo 'changed=[0-9]+' .lab/fleet-rerun.log | sort | uniq -c | tr -s ' ' | tr '\n' ' ')")
  if command -v lynis >/dev/null; then
    echo "Lynis hardening index after:"
    lynis .lab/lynis-after.txt
    summary+=("lynis: before $(grep -Eo 'index=[0-9]+' .lab/lynis-before.txt | tr '\n' ' ')-> after $(grep -Eo 'index=[0-9]+' .lab/lynis-after.txt | tr '\n' ' ')")
  fi
fi

if [[ -x scripts/demo_audit.sh ]]; then
  banner "Audit and baselines: find the drift, fix what is fixable, audit again"
  scripts/demo_audit.sh | tee .lab/demo-audit.log
  audit_lines=$(grep -E 'findings, [0-9]+ failing' .lab/demo-audit.log | sed -E 's/ \|.*//; s/^ +//' || true)
  summary+=("audit before baseline: $(head -n 1 <<<"$audit_lines")")
  summary+=("baseline: $(grep -Eo '[0-9]+ tasks changed' .lab/demo-audit.log | head -n 1)")
  summary+=("audit after baseline: $(tail -n 1 <<<"$audit_lines") (the rest is report-only or manual)")
fi

if [[ -x scripts/demo_runbooks.sh ]]; then
  banner "Runbooks: snapshot, point-in-time restore with verification, failover drill"
  scripts/demo_runbooks.sh | tee .lab/demo-runbooks.log
  while IFS= read -r line; do summary+=("runbooks: ${line#"${line%%[![:space:]]*}"}"); done < <(grep -E 'RTO|RPO' .lab/demo-runbooks.log || true)
fi

banner "Summary"
drift=$(python -c 'import json; print(len(json.load(open(".lab/state.json"))["drift"]))')
summary=("lab: $(python -c 'import json; s=json.load(open(".lab/state.json")); print(s["endpoint"], "with", len(s["estate"]["databases"]), "databases,", len(s["estate"]["buckets"]), "buckets")'), $drift seeded drifts" "${summary[@]}")
printf -- '- %s\n' "${summary[@]}"
echo "- total: $(elapsed "$started")"
echo
echo "The lab is still up for you: '. .lab/env' then run any playbook; 'make lab-down' to stop it."
