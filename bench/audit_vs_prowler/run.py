"""The careops audit side by side with Prowler on one scaled lab estate.

One command (``make``-free on purpose, so it runs anywhere the repository's .venv exists):

    .venv/bin/python bench/audit_vs_prowler/run.py

What it does:
1. brings up a fresh lab (AWS side only) in a temporary folder and scales its estate to
   400 instances, 40 security groups, 8 databases (and the seeded Aurora clusters), 80 log
   groups and 20 buckets over the two regions, with deliberate failures spread through every
   overlapping check;
2. installs Prowler from PyPI into its own virtualenv outside the repository (first run only;
   ``CAREOPS_PROWLER_VENV`` overrides the place), never into the project's .venv;
3. runs ``playbooks/audit.yml`` and then ``prowler aws --checks <the overlapping checks>``
   against the same emulator, timing each end to end (wall clock, process start included);
4. compares, per Prowler check that a catalogue control maps to, the status both tools give
   to every resource both evaluated, and writes bench/results/<UTC stamp>/summary.{json,md}.

The emulator is moto: the figures compare two tools on the same estate and machine, not AWS
latency. Prowler's log-group retention threshold is set to 90 days (its default is 365) and
the audit's RDS backup minimum to 1 day, so that both tools test the same thing there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from lab import ACCESS_KEY_ID, SECRET_ACCESS_KEY  # noqa: E402 - the lab package lives at ROOT

VENV_BIN = Path(sys.executable).parent
PROWLER_VENV = Path(
    os.environ.get("CAREOPS_PROWLER_VENV", Path.home() / ".cache" / "careops" / "prowler-venv")
)
PROWLER_VERSION = os.environ.get("CAREOPS_PROWLER_VERSION", "5.46.0")
REGIONS = ("sa-east-1", "us-east-1")
TARGET = {"instances": 400, "security_groups": 40, "log_groups": 80, "buckets": 20}


# Where the two tools deliberately test different things, found by reading Prowler's checks.
# The comparison still lists these rows; their disagreements are expected, not errors.
KNOWN_DIFFERENCES = {
    "cloudwatch_log_group_retention_policy_specific_days_enabled": (
        "Prowler passes log groups that never expire; MON-02 fails them (LGPD art. 15/16 and "
        "GDPR art. 5(1)(e): personal data must not be kept without limit)."
    ),
    "ec2_launch_template_imdsv2_required": (
        "Prowler passes a template when any version requires IMDSv2 and treats an unset "
        "HttpEndpoint as disabled; AWS defaults it to enabled, and IMDS-02 checks the default "
        "and latest versions, the ones instances are launched from."
    ),
    "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22": (
        "Prowler skips security groups attached to nothing; the careops controls evaluate every "
        "group, since an unused open group can be attached at any time."
    ),
    "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_3389": "As for port 22.",
    "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_postgres_5432": "As for port 22.",
    "ec2_securitygroup_allow_ingress_from_internet_to_all_ports": "As for port 22.",
    "autoscaling_group_launch_configuration_requires_imdsv2": (
        "Prowler checks launch configurations only; IMDS-03 also resolves launch templates."
    ),
    "rds_instance_multi_az": "RDS-05 applies to production databases only.",
    "s3_bucket_object_versioning": "S3-03 applies to buckets whose data class needs versioning only.",
    "cloudtrail_multi_region_enabled": "Prowler reports per region; CT-01 once per account.",
}


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


# ---------------------------------------------------------------------- lab


def lab_up(folder: Path) -> tuple[dict[str, Any], dict[str, str]]:
    env = {**os.environ, "CAREOPS_LAB_DIR": str(folder), "CAREOPS_LAB_PREFIX": f"bench{os.getpid()}"}
    subprocess.run(
        [sys.executable, "-m", "lab", "up", "--no-fleet", "--transition-seconds", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=600,
    )
    state = json.loads((folder / "state.json").read_text())
    aws_env = {
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
    return state, aws_env


def lab_down(folder: Path) -> None:
    env = {**os.environ, "CAREOPS_LAB_DIR": str(folder)}
    subprocess.run([sys.executable, "-m", "lab", "down"], cwd=ROOT, env=env, check=False, timeout=120)


def client(state: dict[str, Any], service: str, region: str) -> Any:
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=state["endpoint"],
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )


def scale(state: dict[str, Any]) -> dict[str, int]:
    """Grow the seeded estate to the target sizes, with failures in every overlapping check."""
    made = {"instances": 0, "security_groups": 0, "log_groups": 0, "buckets": 0}
    per_region = TARGET["instances"] // len(REGIONS)
    for region in REGIONS:
        ec2 = client(state, "ec2", region)
        vpc = state["estate"]["vpcs"][region]
        subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"][0]["SubnetId"]
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        existing = len([i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]])
        todo = max(0, per_region - existing)
        batch = 0
        while todo > 0:
            count = min(50, todo)
            tokens = "optional" if batch % 4 == 0 else "required"
            ec2.run_instances(
                ImageId=image,
                InstanceType="t3.micro",
                MinCount=count,
                MaxCount=count,
                SubnetId=subnet,
                MetadataOptions={"HttpTokens": tokens, "HttpEndpoint": "enabled"},
                TagSpecifications=[
                    {
                        "ResourceType": "instance",
                        "Tags": [
                            {"Key": "Name", "Value": f"bench-{region}-{batch}"},
                            {"Key": "Environment", "Value": "homologation"},
                        ],
                    }
                ],
            )
            made["instances"] += count
            todo -= count
            batch += 1
    groups_now = sum(
        len(client(state, "ec2", r).describe_security_groups()["SecurityGroups"]) for r in REGIONS
    )
    for index in range(max(0, TARGET["security_groups"] - groups_now)):
        region = REGIONS[index % 2]
        ec2 = client(state, "ec2", region)
        group = ec2.create_security_group(
            GroupName=f"bench-sg-{index}", Description="bench", VpcId=state["estate"]["vpcs"][region]
        )["GroupId"]
        port = (22, 5432, 3389, 443, 8080)[index % 5]
        cidr = "0.0.0.0/0" if index % 3 == 0 else "10.0.0.0/8"
        ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": cidr}]}
            ],
        )
        made["security_groups"] += 1
    logs_now = sum(len(client(state, "logs", r).describe_log_groups()["logGroups"]) for r in REGIONS)
    for index in range(max(0, TARGET["log_groups"] - logs_now)):
        region = REGIONS[index % 2]
        logs = client(state, "logs", region)
        name = f"/bench/prod/service-{index}"
        logs.create_log_group(logGroupName=name)
        if index % 4:
            logs.put_retention_policy(logGroupName=name, retentionInDays=400)
        made["log_groups"] += 1
    s3 = client(state, "s3", REGIONS[0])
    buckets_now = len(s3.list_buckets()["Buckets"])
    for index in range(max(0, TARGET["buckets"] - buckets_now)):
        region = REGIONS[index % 2]
        s3r = client(state, "s3", region)
        name = f"bench-bucket-{index}-{region}"
        kwargs: dict[str, Any] = {"Bucket": name}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3r.create_bucket(**kwargs)
        s3r.put_bucket_tagging(
            Bucket=name, Tagging={"TagSet": [{"Key": "DataClassification", "Value": "health"}]}
        )
        if index % 2:
            s3r.put_public_access_block(
                Bucket=name,
                PublicAccessBlockConfiguration={
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
            )
            s3r.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        made["buckets"] += 1
    return made


# ---------------------------------------------------------------------- tools


def overlapping_checks() -> dict[str, list[str]]:
    """Prowler check ID -> catalogue control IDs that map to it."""
    catalogue = yaml.safe_load((ROOT / "controls" / "catalogue.yml").read_text())
    out: dict[str, list[str]] = {}
    for control in catalogue["controls"]:
        for check in control.get("prowler") or []:
            out.setdefault(check, []).append(control["id"])
    return out


def ensure_prowler() -> Path:
    binary = PROWLER_VENV / "bin" / "prowler"
    if binary.exists():
        return binary
    log(f"installing prowler {PROWLER_VERSION} into {PROWLER_VENV} (first run only)")
    PROWLER_VENV.parent.mkdir(parents=True, exist_ok=True)
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    subprocess.run([python, "-m", "venv", str(PROWLER_VENV)], check=True)
    subprocess.run(
        [str(PROWLER_VENV / "bin" / "pip"), "install", "-q", f"prowler=={PROWLER_VERSION}"], check=True
    )
    return binary


def run_audit(env: dict[str, str], out: Path) -> tuple[float, list[dict[str, Any]], dict[str, Any]]:
    started = time.monotonic()
    result = subprocess.run(
        [
            str(VENV_BIN / "ansible-playbook"),
            "-i",
            "inventories/lab",
            "playbooks/audit.yml",
            "-e",
            json.dumps({"report_dir": str(out), "careops_min_backup_retention_days": 1}),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"audit failed:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}")
    findings = json.loads((out / "findings.json").read_text())
    match = re.search(r"(\d+) read calls in\s+([\d.]+) s", " ".join(result.stdout.split()))
    module = {"api_calls": int(match.group(1)), "module_s": float(match.group(2))} if match else {}
    return wall, findings, module


def run_prowler(
    binary: Path, env: dict[str, str], checks: list[str], out: Path
) -> tuple[float, list[dict[str, Any]]]:
    out.mkdir(parents=True, exist_ok=True)
    config = out / "prowler-config.yaml"
    config.write_text(yaml.safe_dump({"aws": {"log_group_retention_days": 90}}))
    command = [
        str(binary),
        "aws",
        "--checks",
        *checks,
        "-f",
        *REGIONS,
        "--output-formats",
        "json-ocsf",
        "-o",
        str(out),
        "--no-banner",
        "-z",
        "--config-file",
        str(config),
    ]
    started = time.monotonic()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    (out / "prowler.log").write_text(result.stdout + result.stderr)
    files = sorted(out.glob("*.ocsf.json"))
    if not files:
        raise RuntimeError(f"prowler wrote no output (rc {result.returncode}):\n{result.stdout[-3000:]}")
    return wall, json.loads(files[-1].read_text())


# ---------------------------------------------------------------------- comparison


def _prowler_rows(raw: list[dict[str, Any]]) -> list[dict[str, str]]:
    rows = []
    for item in raw:
        resource = (item.get("resources") or [{}])[0]
        rows.append(
            {
                "check": item.get("metadata", {}).get("event_code", ""),
                "status": item.get("status_code", ""),
                "region": resource.get("region") or item.get("cloud", {}).get("region", ""),
                "uid": resource.get("uid", ""),
                "name": resource.get("name", ""),
            }
        )
    return rows


def _matches(ours: dict[str, Any], row: dict[str, str]) -> bool:
    if ours["environment"] == "account":
        return ours["region"] == row["region"]
    rid, arn = ours["resource_id"], ours.get("resource_arn") or ""
    if ours["region"] != row["region"] and not arn.startswith("arn:aws:s3:::"):
        return False
    return bool(
        (arn and row["uid"] == arn)
        or row["name"] == rid
        or row["uid"] == rid
        or row["uid"].endswith(f"/{rid}")
        or row["uid"].endswith(f":{rid}")
    )


def compare(findings: list[dict[str, Any]], raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = _prowler_rows(raw)
    table = []
    for check, controls in sorted(overlapping_checks().items()):
        ours = [f for f in findings if f["control_id"] in controls and check in f["prowler"]]
        theirs = [r for r in rows if r["check"] == check]
        both, disagree, only_ours = 0, [], 0
        matched: set[int] = set()
        for finding in ours:
            hits = [i for i, r in enumerate(theirs) if _matches(finding, r)]
            if not hits:
                only_ours += 1
                continue
            matched.update(hits)
            both += 1
            statuses = {theirs[i]["status"] for i in hits}
            if finding["status"] not in statuses or len(statuses) > 1:
                disagree.append(
                    f"{finding['resource_id']} ({finding['region']}): careops {finding['status']}, "
                    f"prowler {'/'.join(sorted(statuses))}"
                )
        table.append(
            {
                "prowler_check": check,
                "controls": controls,
                "evaluated_by_both": both,
                "agree": both - len(disagree),
                "agreement_pct": round(100.0 * (both - len(disagree)) / both, 1) if both else None,
                "only_careops": only_ours,
                "only_prowler": len(theirs) - len(matched),
                "careops_fail": sum(1 for f in ours if f["status"] == "FAIL"),
                "prowler_fail": sum(1 for r in theirs if r["status"] == "FAIL"),
                "known_difference": KNOWN_DIFFERENCES.get(check, ""),
                "disagreements": disagree[:20],
            }
        )
    return table


def write_summary(out: Path, data: dict[str, Any]) -> None:
    (out / "summary.json").write_text(json.dumps(data, indent=1))
    lines = [
        f"# careops audit vs Prowler {data['prowler_version']} ({data['started']})",
        "",
        f"Estate: {json.dumps(data['estate'])}",
        "",
        "| tool | wall time (s) |",
        "|---|---:|",
        f"| careops audit (playbooks/audit.yml, whole catalogue) | {data['careops_wall_s']:.1f} |",
        f"| prowler aws --checks ({len(data['comparison'])} overlapping checks) "
        f"| {data['prowler_wall_s']:.1f} |",
        "",
        f"Ratio careops/prowler: {data['ratio']:.2f}. Inside the careops module: {data['careops_module']}",
        "",
        "| Prowler check | controls | both | agree | only careops | only prowler "
        "| FAIL careops | FAIL prowler |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in data["comparison"]:
        lines.append(
            f"| {row['prowler_check']} | {', '.join(row['controls'])} | {row['evaluated_by_both']} | "
            f"{row['agree']} | {row['only_careops']} | {row['only_prowler']} | {row['careops_fail']} | "
            f"{row['prowler_fail']} |"
        )
    lines += ["", "Known, deliberate differences:", ""]
    lines += [f"- {check}: {why}" for check, why in KNOWN_DIFFERENCES.items()]
    disagreements = [(r["prowler_check"], d) for r in data["comparison"] for d in r["disagreements"]]
    if disagreements:
        lines += ["", "Disagreements (first 20 per check):", ""]
        lines += [f"- {check}: {text}" for check, text in disagreements]
    (out / "summary.md").write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-lab", action="store_true", help="leave the lab running afterwards")
    args = parser.parse_args()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = ROOT / "bench" / "results" / f"audit-vs-prowler-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    binary = ensure_prowler()
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=False).stdout
    folder = Path(tempfile.mkdtemp(prefix="careops-bench-lab-"))
    try:
        log(f"lab in {folder}")
        state, env = lab_up(folder)
        made = scale(state)
        log(f"estate scaled: added {made}")
        checks = sorted(overlapping_checks())
        log("running the careops audit")
        careops_wall, findings, extra = run_audit(env, out / "careops")
        log(f"careops audit: {careops_wall:.1f} s (module: {extra})")
        log(f"running prowler with {len(checks)} checks")
        prowler_wall, raw = run_prowler(binary, env, checks, out / "prowler")
        log(f"prowler: {prowler_wall:.1f} s")
    finally:
        if not args.keep_lab:
            lab_down(folder)
    comparison = compare(findings, raw)
    silent = [
        row["prowler_check"] for row in comparison if row["evaluated_by_both"] + row["only_prowler"] == 0
    ]
    if silent:
        log(
            f"prowler returned nothing for {len(silent)} check(s) (see prowler/prowler.log): "
            f"{', '.join(silent)}"
        )
    data = {
        "started": stamp,
        "prowler_version": version.strip(),
        "estate": {"regions": list(REGIONS), **TARGET, "databases": 8, "aurora_clusters": 3},
        "careops_wall_s": round(careops_wall, 2),
        "careops_module": extra,
        "prowler_wall_s": round(prowler_wall, 2),
        "ratio": round(careops_wall / prowler_wall, 3),
        "comparison": comparison,
        "prowler_silent_checks": silent,
    }
    write_summary(out, data)
    print((out / "summary.md").read_text())
    log(f"results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
