#!/usr/bin/env bash
# Runbooks on the lab: a snapshot copied to the DR region with its KMS key, a point-in-time
# restore with SQL verification, a Multi-AZ failover drill and an Aurora cluster failover drill,
# then the measured RTO/RPO read back from their evidence records.
# Run from the repository root with the lab's environment sourced (`. .lab/env`); scripts/demo.sh
# calls it. About one to two minutes on a 2-core machine.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export PATH="$top/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$top/ansible.cfg"
export ANSIBLE_DEPRECATION_WARNINGS=false

if [[ -z "${AWS_ENDPOINT_URL:-}" ]]; then
  echo "demo_runbooks: AWS_ENDPOINT_URL is not set; source the lab's env first (. .lab/env)" >&2
  exit 1
fi

stamp=$(date -u +%H%M%S)
evidence="$top/evidence/demo-$stamp"
mkdir -p "$evidence"
log="$evidence/ansible.log"

# run LABEL PLAYBOOK EXTRA_VARS: each run's evidence goes to its own folder, named by LABEL.
run() {
  local label=$1 name=$2 extra=$3 started=$SECONDS
  printf -- '- %-16s ' "$label"
  if ansible-playbook -i inventories/lab "playbooks/runbooks/$name.yml" -e "$extra" \
    -e "evidence_dir=$evidence/$label" >>"$log" 2>&1; then
    echo "ok ($((SECONDS - started)) s wall)"
  else
    echo "FAILED ($((SECONDS - started)) s wall); see $log"
    tail -n 25 "$log"
    exit 1
  fi
}

restore_time=$(date -u -d '-3 hours' +%Y-%m-%dT%H:%M:%SZ)
incident_time=$(date -u -d '-2 hours -50 minutes' +%Y-%m-%dT%H:%M:%SZ)

echo "Runbooks on the lab (evidence in ${evidence#"$top"/}):"
run snapshot snapshot '{"targets": ["prod-clinical-records"], "ticket": "CHG-DEMO-1", "poll_seconds": 1,
  "dr_copy": true, "dr_kms_key_id": "alias/homecare-rds"}'
run pitr_restore pitr_restore "{\"source_db\": \"prod-clinical-records\", \"confirm\": \"prod-clinical-records\",
  \"restore_time\": \"$restore_time\", \"incident_time\": \"$incident_time\",
  \"target_db\": \"prod-clinical-records-demo-$stamp\", \"ticket\": \"INC-DEMO-1\", \"poll_seconds\": 1}"
run failover_drill failover_drill '{"drill": "rds", "target": "prod-auth", "confirm": "prod-auth",
  "allow_production": true, "ticket": "CHG-DEMO-2", "poll_seconds": 0.5}'
run aurora_drill failover_drill '{"drill": "aurora", "target": "hml-reports-aurora", "confirm": "hml-reports-aurora",
  "ticket": "CHG-DEMO-3", "poll_seconds": 0.5}'

python - "$evidence" <<'PY'
import json
import sys
from pathlib import Path

folder = Path(sys.argv[1])
record = {p.parent.name: json.loads(p.read_text()) for p in folder.glob("*/*.json")}
snap, pitr, drill = record["snapshot"], record["pitr_restore"], record["failover_drill"]
m = pitr["metrics"]
print(f"  snapshot:     {', '.join(snap['metrics']['snapshots'])} in {snap['duration_seconds']:.0f} s")
for copy in snap["metrics"]["dr_copies"]:
    print(f"                DR copy {copy['identifier']} in {copy['region']}, {copy['status']}, key {copy['kms_key_id']}")
print(f"  PITR restore: {m['source_db']} -> {m['restored_db']} as of {m['restore_point']}")
for check in m["verification"]:
    print(f"                verified {check['table']}: {check['rows']} rows, latest {check['latest']}")
print(f"                RPO {m['rpo_seconds']:.0f} s (incident {m['incident_time']} vs restore point)")
print(f"                RTO {m['rto_verified_seconds']:.1f} s to a verified copy (objective {m['rto_objective_seconds']} s, met: {m['rto_met']})")
d = drill["metrics"]
print(f"  failover:     {d['target']} primary {d['az_before']} -> {d['az_after']}, available after {d['time_to_recovered_seconds']:.1f} s,")
print(f"                downtime seen by the connection probe {d['probe_downtime_seconds']:.2f} s ({d['probe_attempts']} attempts),")
print(f"                RTO {d['rto_measured_seconds']:.1f} s against {d['rto_objective_seconds']:.0f} s")
a = record["aurora_drill"]["metrics"]
print(f"  aurora:       {a['target']} writer {a['writer_before']} ({a['az_before']}) -> {a['writer_after']} ({a['az_after']}),")
print(f"                probe downtime {a['probe_downtime_seconds']:.2f} s, RTO {a['rto_measured_seconds']:.1f} s against {a['rto_objective_seconds']:.0f} s")
waits = sum(p["seconds"] for r in record.values() for p in r["phases"] if p["name"] in ("Restore", "Snapshot", "Drill"))
total = sum(r["duration_seconds"] for r in record.values())
print(f"  time in runs: {total:.0f} s, of which restore/snapshot/drill phases {waits:.0f} s (they hold the emulated waits)")
PY
