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

banner "Inventory: the fleet through the amazon.aws.aws_ec2 plugin"
ansible-inventory -i inventories/lab --graph
hosts=$(ansible-inventory -i inventories/lab --list | python -c 'import json,sys; print(len(json.load(sys.stdin)["_meta"]["hostvars"]))')
summary+=("inventory: $hosts lab hosts found by the aws_ec2 plugin")
if [[ $hosts -gt 0 ]]; then
  ansible -i inventories/lab all -m ansible.builtin.ping -o
fi

if [[ -f playbooks/fleet.yml && $hosts -gt 0 ]]; then
  banner "Fleet: CloudWatch agent and hardening on every lab host (canary first)"
  t=$SECONDS
  ansible-playbook -i inventories/lab playbooks/fleet.yml
  summary+=("fleet: first run $(elapsed "$t")")
  t=$SECONDS
  ansible-playbook -i inventories/lab playbooks/fleet.yml | tee .lab/fleet-rerun.log | tail -n 8
  summary+=("fleet: no-change rerun $(elapsed "$t"), $(grep -Eo 'changed=[0-9]+' .lab/fleet-rerun.log | sort -u | tr '\n' ' ')")
fi

if [[ -x scripts/demo_audit.sh ]]; then
  banner "Audit and baselines: find the drift, fix what is fixable, audit again"
  scripts/demo_audit.sh
  summary+=("audit/baseline: see the report paths above")
fi

if [[ -x scripts/demo_runbooks.sh ]]; then
  banner "Runbooks: snapshot, point-in-time restore with verification, failover drill"
  scripts/demo_runbooks.sh
  summary+=("runbooks: evidence records under evidence/")
fi

banner "Summary"
drift=$(python -c 'import json; print(len(json.load(open(".lab/state.json"))["drift"]))')
summary=("lab: $(python -c 'import json; s=json.load(open(".lab/state.json")); print(s["endpoint"], "with", len(s["estate"]["databases"]), "databases,", len(s["estate"]["buckets"]), "buckets")'), $drift seeded drifts" "${summary[@]}")
printf -- '- %s\n' "${summary[@]}"
echo "- total: $(elapsed "$started")"
echo
echo "The lab is still up for you: '. .lab/env' then run any playbook; 'make lab-down' to stop it."
