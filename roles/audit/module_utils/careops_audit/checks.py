"""Evaluate the control catalogue against an inventory read by ``collect``.

Each control of ``controls/catalogue.yml`` has one evaluator here, registered under its ID.
An evaluator yields one finding per resource it applies to, PASS or FAIL, and for a FAIL of
an automatic control the exact parameters the baseline needs to fix it (``fix``). The
baseline acts only on those parameters, so what it changes is always what the audit found.

Pure functions over plain data: no AWS call happens here, which keeps the evaluation
testable without an account and the audit's API use confined to ``collect``.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

SEVERITY_RANK = {"none": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
INTERNET = ("0.0.0.0/0", "::/0")
IAC_TAGS = ("aws:cloudformation:stack-name", "ManagedBy")

Finding = dict[str, Any]
Evaluator = Callable[["Context", dict[str, Any]], Iterator[Finding]]
EVALUATORS: dict[str, Evaluator] = {}


def control(control_id: str) -> Callable[[Evaluator], Evaluator]:
    """Register the evaluator of one catalogue control."""

    def register(func: Evaluator) -> Evaluator:
        EVALUATORS[control_id] = func
        return func

    return register


@dataclass
class Settings:
    """Per-run values from the inventory, not from the catalogue."""

    min_backup_retention_days: int = 7
    dr_region: str = ""
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


@dataclass
class Context:
    """What an evaluator reads: the catalogue's parameters, the settings and the inventory."""

    catalogue: dict[str, Any]
    settings: Settings
    inventory: Any

    @property
    def params(self) -> dict[str, Any]:
        return self.catalogue


# ---------------------------------------------------------------------- helpers


def tags_of(resource: dict[str, Any], key: str = "Tags") -> dict[str, str]:
    """Tags as a dict, whatever casing the service uses."""
    tags = resource.get(key) or resource.get("TagList") or []
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {str(t.get("Key", t.get("key", ""))): str(t.get("Value", t.get("value", ""))) for t in tags}


def environment_of(tags: dict[str, str], name: str = "") -> str:
    """The Environment tag, or a guess from the name's prod/hml prefix, or 'unknown'."""
    if tags.get("Environment"):
        return tags["Environment"]
    lowered = name.lower()
    if "prod" in lowered:
        return "production"
    if "hml" in lowered or "homolog" in lowered:
        return "homologation"
    return "unknown"


def short_env(environment: str) -> str:
    return {"production": "prod", "homologation": "hml"}.get(environment, environment)


def iac_owner(tags: dict[str, str]) -> str | None:
    """Who owns the resource's definition, when it is infrastructure as code."""
    stack = tags.get("aws:cloudformation:stack-name")
    if stack:
        return f"CloudFormation stack {stack}"
    managed = tags.get("ManagedBy", "")
    if "terraform" in managed.lower():
        module = tags.get("TerraformModule") or tags.get("terraform:module")
        return f"Terraform ({module})" if module else f"Terraform ({managed})"
    return None


def _bool(value: Any) -> bool:
    return str(value).lower() == "true"


# ---------------------------------------------------------------------- engine


class Evaluation:
    """Runs every evaluator of the catalogue and stamps findings with control metadata."""

    def __init__(self, catalogue: dict[str, Any], settings: Settings, inventory: Any) -> None:
        self.ctx = Context(catalogue=catalogue, settings=settings, inventory=inventory)
        self.controls = {c["id"]: c for c in catalogue.get("controls", [])}

    def run(self, only: list[str] | None = None) -> list[Finding]:
        findings: list[Finding] = []
        for control_id, meta in self.controls.items():
            if only and control_id not in only:
                continue
            evaluator = EVALUATORS.get(control_id)
            if evaluator is None:
                continue
            for raw in evaluator(self.ctx, meta):
                findings.append(self._stamp(meta, raw))
        findings.sort(key=lambda f: (f["control_id"], f["region"], f["resource_id"]))
        return findings

    @staticmethod
    def _stamp(meta: dict[str, Any], raw: Finding) -> Finding:
        passed = raw.pop("passed")
        finding: Finding = {
            "control_id": meta["id"],
            "title": meta["title"],
            "family": meta["family"],
            "prowler": list(meta.get("prowler") or []),
            "cis": list(meta.get("cis") or []),
            "privacy": list(meta.get("privacy") or []),
            "severity": meta["severity"],
            "enforcement": meta["enforcement"],
            "status": "PASS" if passed else "FAIL",
            "remediation": meta.get("remediation", "") if not passed else "",
            "resource_name": raw.get("resource_name") or raw["resource_id"],
            "resource_arn": raw.get("resource_arn", ""),
            "resource_type": raw.get("resource_type") or meta["resource"],
            "environment": raw.get("environment", "unknown"),
            "owner": raw.get("owner"),
            "fix": raw.get("fix") if not passed and meta["enforcement"] == "automatic" else None,
        }
        finding.update({k: v for k, v in raw.items() if k not in finding and k != "fix"})
        if not passed and finding["owner"] and finding["enforcement"] == "automatic":
            finding["message"] += f" Owned by {finding['owner']}: fix it there."
        return finding


def summarise(findings: list[Finding]) -> list[dict[str, Any]]:
    """Pass/fail counts and a score per family and environment, for the report's first table."""
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for finding in findings:
        key = (finding["family"], finding["environment"])
        row = table.setdefault(
            key, {"family": key[0], "environment": key[1], "pass": 0, "fail": 0, "score": 100.0}
        )
        row["pass" if finding["status"] == "PASS" else "fail"] += 1
    for row in table.values():
        total = row["pass"] + row["fail"]
        row["score"] = round(100.0 * row["pass"] / total, 1) if total else 100.0
    return sorted(table.values(), key=lambda r: (r["family"], r["environment"]))


def failures_at_or_above(findings: list[Finding], threshold: str) -> list[Finding]:
    rank = SEVERITY_RANK[threshold]
    if rank == 0:
        return []
    return [f for f in findings if f["status"] == "FAIL" and SEVERITY_RANK[f["severity"]] >= rank]


def _arn(ctx: Context, service: str, region: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{ctx.inventory.account}:{resource}"


def _regions(ctx: Context) -> list[str]:
    return list(ctx.inventory.regions)


# ---------------------------------------------------------------------- IMDSv2


def _instance_base(ctx: Context, region: str, instance: dict[str, Any]) -> Finding:
    tags = tags_of(instance)
    return {
        "resource_id": instance["InstanceId"],
        "resource_name": tags.get("Name", instance["InstanceId"]),
        "resource_arn": _arn(ctx, "ec2", region, f"instance/{instance['InstanceId']}"),
        "region": region,
        "environment": environment_of(tags, tags.get("Name", "")),
        "owner": iac_owner(tags),
    }


@control("IMDS-01")
def imds_instances(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    for region in _regions(ctx):
        for instance in ctx.inventory.get(region, "instances") or []:
            options = instance.get("MetadataOptions") or {}
            tokens = options.get("HttpTokens", "optional")
            disabled = options.get("HttpEndpoint") == "disabled"
            passed = tokens == "required" or disabled
            state = instance.get("State", {}).get("Name", "")
            finding = _instance_base(ctx, region, instance)
            finding.update(
                passed=passed,
                message=(
                    f"Instance ({state}) requires IMDSv2 tokens."
                    if passed
                    else f"Instance ({state}) accepts IMDSv1 calls (HttpTokens={tokens})."
                ),
                imds_v1_calls=instance.get("ImdsV1Calls"),
                fix={
                    "instance_id": instance["InstanceId"],
                    "imds_v1_calls": instance.get("ImdsV1Calls"),
                    "metadata_options": {
                        "http_tokens": "required",
                        "http_endpoint": options.get("HttpEndpoint", "enabled"),
                        "http_put_response_hop_limit": int(options.get("HttpPutResponseHopLimit") or 2),
                        "http_protocol_ipv6": options.get("HttpProtocolIpv6", "disabled"),
                        "instance_metadata_tags": options.get("InstanceMetadataTags", "disabled"),
                    },
                },
            )
            yield finding


def _template_versions_tokens(template: dict[str, Any]) -> dict[str, str]:
    out = {}
    for version in template.get("Versions", []):
        data = version.get("LaunchTemplateData") or {}
        tokens = (data.get("MetadataOptions") or {}).get("HttpTokens", "optional")
        label = "default" if version.get("DefaultVersion") else "latest"
        out[f"{label} v{version.get('VersionNumber')}"] = tokens
    return out


@control("IMDS-02")
def imds_templates(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    for region in _regions(ctx):
        for template in ctx.inventory.get(region, "launch_templates") or []:
            if "Versions" not in template:
                continue  # the versions could not be read: the error is reported, not a pass
            tags = tags_of(template)
            tokens = _template_versions_tokens(template)
            weak = sorted(label for label, value in tokens.items() if value != "required")
            default = template.get("DefaultVersionNumber")
            yield {
                "passed": not weak,
                "resource_id": template["LaunchTemplateId"],
                "resource_name": template.get("LaunchTemplateName"),
                "resource_arn": _arn(ctx, "ec2", region, f"launch-template/{template['LaunchTemplateId']}"),
                "region": region,
                "environment": environment_of(tags, template.get("LaunchTemplateName", "")),
                "owner": iac_owner(tags),
                "message": (
                    "Default and latest versions require IMDSv2."
                    if not weak
                    else f"Version(s) {', '.join(weak)} allow IMDSv1."
                ),
                "fix": {
                    "launch_template_id": template["LaunchTemplateId"],
                    "source_version": str(default),
                },
            }


def _resolve_template_tokens(region_templates: list[dict[str, Any]], spec: dict[str, Any]) -> str | None:
    for template in region_templates:
        if spec.get("LaunchTemplateId") not in (None, template["LaunchTemplateId"]):
            continue
        if spec.get("LaunchTemplateName") not in (None, template.get("LaunchTemplateName")):
            continue
        wanted = str(spec.get("Version") or "$Default")
        for version in template.get("Versions", []):
            number = str(version.get("VersionNumber"))
            is_default = bool(version.get("DefaultVersion"))
            is_latest = number == str(template.get("LatestVersionNumber"))
            if (
                wanted == number
                or (wanted == "$Default" and is_default)
                or (wanted == "$Latest" and is_latest)
            ):
                data = version.get("LaunchTemplateData") or {}
                return (data.get("MetadataOptions") or {}).get("HttpTokens", "optional")
        return None
    return None


@control("IMDS-03")
def imds_asgs(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    for region in _regions(ctx):
        templates = ctx.inventory.get(region, "launch_templates") or []
        configs = {
            c["LaunchConfigurationName"]: c for c in ctx.inventory.get(region, "launch_configurations") or []
        }
        for group in ctx.inventory.get(region, "asgs") or []:
            tags = tags_of(group)
            spec = group.get("LaunchTemplate") or (
                (group.get("MixedInstancesPolicy") or {})
                .get("LaunchTemplate", {})
                .get("LaunchTemplateSpecification")
            )
            if spec:
                source = f"launch template {spec.get('LaunchTemplateName') or spec.get('LaunchTemplateId')}"
                source += f" version {spec.get('Version') or '$Default'}"
                tokens = _resolve_template_tokens(templates, spec)
            else:
                name = group.get("LaunchConfigurationName", "")
                source = f"launch configuration {name}"
                tokens = (configs.get(name, {}).get("MetadataOptions") or {}).get("HttpTokens", "optional")
            passed = tokens == "required"
            yield {
                "passed": passed,
                "resource_id": group["AutoScalingGroupName"],
                "resource_arn": group.get("AutoScalingGroupARN", ""),
                "region": region,
                "environment": environment_of(tags, group["AutoScalingGroupName"]),
                "owner": iac_owner(tags),
                "message": (
                    f"Launches from {source}, which requires IMDSv2."
                    if passed
                    else f"Launches from {source}, which allows IMDSv1 (HttpTokens={tokens}); "
                    "fixed through IMDS-02."
                ),
            }


@control("IMDS-04")
def imds_account(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    for region in _regions(ctx):
        defaults = ctx.inventory.get(region, "imds_defaults")
        if defaults is None:
            continue
        tokens = defaults.get("HttpTokens") or "no-preference"
        yield {
            "passed": tokens == "required",
            "resource_id": f"{ctx.inventory.account}/{region}/imds-defaults",
            "resource_name": "account IMDS default",
            "region": region,
            "environment": "account",
            "message": f"Account-level IMDS default in {region} is HttpTokens={tokens}.",
            "fix": {"region": region, "http_tokens": "required"},
        }


def _beanstalk_envs(ctx: Context) -> Iterator[tuple[str, dict[str, Any], dict[str, str]]]:
    for region in _regions(ctx):
        for env in ctx.inventory.get(region, "beanstalk") or []:
            yield region, env, tags_of(env)


def _beanstalk_finding(
    region: str,
    env: dict[str, Any],
    tags: dict[str, str],
    *,
    passed: bool,
    message: str,
    settings: list[dict[str, str]],
) -> Finding:
    return {
        "passed": passed,
        "resource_id": env["EnvironmentName"],
        "resource_arn": env.get("EnvironmentArn", ""),
        "region": region,
        "environment": environment_of(tags, env["EnvironmentName"]),
        "owner": iac_owner(tags),
        "message": message,
        "fix": {
            "application_name": env["ApplicationName"],
            "environment_name": env["EnvironmentName"],
            "option_settings": settings,
        },
    }


@control("IMDS-05")
def imds_beanstalk(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    for region, env, tags in _beanstalk_envs(ctx):
        value = (env.get("Options") or {}).get("aws:autoscaling:launchconfiguration:DisableIMDSv1", "unset")
        passed = _bool(value)
        yield _beanstalk_finding(
            region,
            env,
            tags,
            passed=passed,
            message=f"Option DisableIMDSv1 is {value}.",
            settings=[
                {
                    "Namespace": "aws:autoscaling:launchconfiguration",
                    "OptionName": "DisableIMDSv1",
                    "Value": "true",
                }
            ],
        )


# ---------------------------------------------------------------------- security groups


def _covers(permission: dict[str, Any], port: Any) -> bool:
    protocol = str(permission.get("IpProtocol"))
    if protocol == "-1":
        return True
    if port == "all":
        return (
            protocol in ("tcp", "6") and permission.get("FromPort") == 0 and permission.get("ToPort") == 65535
        )
    if protocol not in ("tcp", "6"):
        return False
    low, high = permission.get("FromPort"), permission.get("ToPort")
    return low is not None and high is not None and int(low) <= int(port) <= int(high)


def _internet_rules(permission: dict[str, Any]) -> list[dict[str, Any]]:
    """The single-CIDR rules of a permission that open it to the whole internet."""
    rules = []
    base = {"ip_protocol": str(permission.get("IpProtocol"))}
    if base["ip_protocol"] != "-1":
        base.update(from_port=permission.get("FromPort"), to_port=permission.get("ToPort"))
    for item in permission.get("IpRanges", []):
        if item.get("CidrIp") == "0.0.0.0/0":
            rules.append({**base, "cidr_ip": "0.0.0.0/0", "description": item.get("Description", "")})
    for item in permission.get("Ipv6Ranges", []):
        if item.get("CidrIpv6") == "::/0":
            rules.append({**base, "cidr_ipv6": "::/0", "description": item.get("Description", "")})
    return rules


def _rule_text(rule: dict[str, Any]) -> str:
    ports = (
        "all"
        if rule["ip_protocol"] == "-1"
        else f"{rule['ip_protocol']}/{rule['from_port']}-{rule['to_port']}"
    )
    return f"{ports} from {rule.get('cidr_ip') or rule.get('cidr_ipv6')}"


def _sg_base(ctx: Context, region: str, group: dict[str, Any]) -> Finding:
    tags = tags_of(group)
    name = tags.get("Name") or group.get("GroupName", "")
    return {
        "resource_id": group["GroupId"],
        "resource_name": name,
        "resource_arn": _arn(ctx, "ec2", region, f"security-group/{group['GroupId']}"),
        "region": region,
        "environment": environment_of(tags, name),
        "owner": iac_owner(tags),
    }


def _open_port_control(ctx: Context, meta: dict[str, Any]) -> Iterator[Finding]:
    for region in _regions(ctx):
        for group in ctx.inventory.get(region, "security_groups") or []:
            offending: list[dict[str, Any]] = []
            for permission in group.get("IpPermissions", []):
                if any(_covers(permission, port) for port in meta.get("ports", [])):
                    offending.extend(_internet_rules(permission))
            finding = _sg_base(ctx, region, group)
            finding.update(
                passed=not offending,
                message=(
                    "No ingress from the internet on these ports."
                    if not offending
                    else "Ingress open to the internet: " + "; ".join(_rule_text(r) for r in offending) + "."
                ),
                offending_rules=offending,
                fix={"group_id": group["GroupId"], "region": region, "revoke_ingress": offending},
            )
            yield finding


for _control_id in ("NET-01", "NET-02", "NET-03", "NET-04"):
    control(_control_id)(_open_port_control)


def _tier_of(group: dict[str, Any]) -> str:
    tags = tags_of(group)
    if tags.get("Tier"):
        return tags["Tier"]
    name = tags.get("Name") or group.get("GroupName", "")
    return name.rsplit("-", 1)[-1] if "-" in name else ""


@control("NET-05")
def tier_allow_lists(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    tiers: dict[str, list[dict[str, Any]]] = ctx.params.get("tiers", {})
    for region in _regions(ctx):
        groups = ctx.inventory.get(region, "security_groups") or []
        by_env_tier: dict[tuple[str, str], set[str]] = {}
        for group in groups:
            tags = tags_of(group)
            env = environment_of(tags, tags.get("Name") or group.get("GroupName", ""))
            by_env_tier.setdefault((env, _tier_of(group)), set()).add(group["GroupId"])
        for group in groups:
            tier = _tier_of(group)
            if tier not in tiers:
                continue
            finding = _sg_base(ctx, region, group)
            env = finding["environment"]
            extra: list[str] = []
            for permission in group.get("IpPermissions", []):
                for rule in _expand(permission):
                    if not _allowed(rule, tiers[tier], by_env_tier, env):
                        extra.append(rule["text"])
            finding.update(
                passed=not extra,
                message=(
                    f"Ingress matches the {tier} tier allow-list."
                    if not extra
                    else f"Ingress outside the {tier} tier allow-list: {'; '.join(extra)}."
                ),
            )
            yield finding


def _expand(permission: dict[str, Any]) -> Iterator[dict[str, Any]]:
    protocol = str(permission.get("IpProtocol"))
    ports = (
        "all" if protocol == "-1" else f"{protocol}/{permission.get('FromPort')}-{permission.get('ToPort')}"
    )
    base = {"protocol": protocol, "from": permission.get("FromPort"), "to": permission.get("ToPort")}
    for item in permission.get("IpRanges", []):
        yield {**base, "source": item.get("CidrIp"), "text": f"{ports} from {item.get('CidrIp')}"}
    for item in permission.get("Ipv6Ranges", []):
        yield {**base, "source": item.get("CidrIpv6"), "text": f"{ports} from {item.get('CidrIpv6')}"}
    for item in permission.get("UserIdGroupPairs", []):
        yield {**base, "group": item.get("GroupId"), "text": f"{ports} from {item.get('GroupId')}"}
    for item in permission.get("PrefixListIds", []):
        yield {**base, "source": item.get("PrefixListId"), "text": f"{ports} from {item.get('PrefixListId')}"}


def _allowed(
    rule: dict[str, Any], allow: list[dict[str, Any]], by_env_tier: dict[tuple[str, str], set[str]], env: str
) -> bool:
    if rule["protocol"] not in ("tcp", "6"):
        return False
    for entry in allow:
        if rule["from"] != rule["to"] or rule["from"] not in entry.get("ports", []):
            continue
        source = entry.get("from")
        if source == "internet" and rule.get("source") in INTERNET:
            return True
        if rule.get("group") and rule["group"] in by_env_tier.get((env, str(source)), set()):
            return True
    return False


# ---------------------------------------------------------------------- RDS


def _db_base(ctx: Context, region: str, db: dict[str, Any]) -> Finding:
    tags = tags_of(db, "TagList")
    return {
        "resource_id": db["DBInstanceIdentifier"],
        "resource_arn": db.get("DBInstanceArn", ""),
        "region": region,
        "environment": environment_of(tags, db["DBInstanceIdentifier"]),
        "owner": iac_owner(tags),
    }


def _databases(
    ctx: Context, *, cluster_members: bool = True
) -> Iterator[tuple[str, dict[str, Any], Finding]]:
    """DB instances of the audited regions. An Aurora cluster's members carry backups, deletion
    protection, Multi-AZ and tag copying at the cluster, not the instance (AWS reports them off
    there and refuses to change them), so controls of those settings pass cluster_members=False.
    Those settings of the clusters themselves are not audited yet."""
    for region in _regions(ctx):
        for db in ctx.inventory.get(region, "databases") or []:
            if not cluster_members and db.get("DBClusterIdentifier"):
                continue
            yield region, db, _db_base(ctx, region, db)


def _db_fix(db: dict[str, Any], **settings: Any) -> dict[str, Any]:
    return {"db_instance_identifier": db["DBInstanceIdentifier"], "region": None, **settings}


@control("RDS-01")
def rds_encrypted(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    for _region, db, finding in _databases(ctx):
        encrypted = bool(db.get("StorageEncrypted")) and bool(db.get("KmsKeyId"))
        finding.update(
            passed=encrypted,
            message=(
                f"Storage encrypted with {db.get('KmsKeyId')}."
                if encrypted
                else "Storage is not encrypted; this cannot be changed in place (see the migration path)."
            ),
        )
        yield finding


@control("RDS-02")
def rds_backups(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    minimum = ctx.settings.min_backup_retention_days
    for region, db, finding in _databases(ctx, cluster_members=False):
        days = int(db.get("BackupRetentionPeriod") or 0)
        finding.update(
            passed=days >= minimum,
            message=(
                f"Automated backups kept {days} day(s); the minimum is {minimum}."
                if days
                else f"Automated backups are off; the minimum is {minimum} day(s)."
            ),
            fix={**_db_fix(db, backup_retention_period=minimum), "region": region},
        )
        yield finding


@control("RDS-03")
def rds_dr_replication(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    needed = set(ctx.params.get("dr_replication_environments", []))
    for region, db, finding in _databases(ctx, cluster_members=False):
        if finding["environment"] not in needed or region == ctx.settings.dr_region:
            continue
        replications = db.get("DBInstanceAutomatedBackupsReplications") or []
        finding.update(
            passed=bool(replications),
            message=(
                f"Automated backups replicated ({len(replications)} replication(s))."
                if replications
                else f"Automated backups are not replicated to {ctx.settings.dr_region or 'the DR region'}."
            ),
        )
        yield finding


def _simple_db_control(
    control_id: str,
    field_name: str,
    wanted: bool,
    text: str,
    *,
    fix_key: str | None,
    only_production: bool = False,
    cluster_scoped: bool = False,
) -> None:
    def evaluate(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
        production = set(ctx.params.get("production_environments", ["production"]))
        for region, db, finding in _databases(ctx, cluster_members=not cluster_scoped):
            if only_production and finding["environment"] not in production:
                continue
            value = bool(db.get(field_name))
            passed = value == wanted
            finding.update(passed=passed, message=f"{text} is {'on' if value else 'off'}.")
            if fix_key:
                finding["fix"] = {**_db_fix(db, **{fix_key: wanted}), "region": region}
            yield finding

    control(control_id)(evaluate)


_simple_db_control(
    "RDS-04",
    "DeletionProtection",
    True,
    "Deletion protection",
    fix_key="deletion_protection",
    cluster_scoped=True,
)
_simple_db_control(
    "RDS-05", "MultiAZ", True, "Multi-AZ", fix_key=None, only_production=True, cluster_scoped=True
)
_simple_db_control(
    "RDS-06", "PerformanceInsightsEnabled", True, "Performance Insights", fix_key=None, only_production=True
)
_simple_db_control(
    "RDS-07", "PubliclyAccessible", False, "Public accessibility", fix_key="publicly_accessible"
)
_simple_db_control(
    "RDS-08",
    "CopyTagsToSnapshot",
    True,
    "Copying tags to snapshots",
    fix_key="copy_tags_to_snapshot",
    cluster_scoped=True,
)
_simple_db_control(
    "RDS-09",
    "AutoMinorVersionUpgrade",
    True,
    "Auto minor version upgrade",
    fix_key="auto_minor_version_upgrade",
)


# ---------------------------------------------------------------------- S3


def _buckets(ctx: Context) -> Iterator[tuple[dict[str, Any], Finding]]:
    for bucket in ctx.inventory.buckets:
        if bucket.get("Region") not in ctx.inventory.regions or bucket.get("Tags") is None:
            continue
        tags = tags_of(bucket, "Tags")
        yield (
            bucket,
            {
                "resource_id": bucket["Name"],
                "resource_arn": f"arn:aws:s3:::{bucket['Name']}",
                "region": bucket["Region"],
                "environment": environment_of(tags, bucket["Name"]),
                "owner": iac_owner(tags),
                "data_class": tags.get("DataClassification", "unclassified"),
            },
        )


@control("S3-01")
def s3_kms(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    alias = ctx.params.get("s3_kms_key_alias", "alias/homecare-s3")
    for bucket, finding in _buckets(ctx):
        if bucket.get("Encryption") is None:
            continue
        rules = (bucket.get("Encryption") or {}).get("Rules", [])
        algorithms = [r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm", "") for r in rules]
        passed = any(a.startswith("aws:kms") for a in algorithms)
        finding.update(
            passed=passed,
            message=f"Default encryption: {', '.join(algorithms) or 'none'}.",
            fix={
                "bucket": bucket["Name"],
                "region": bucket["Region"],
                "kms_key": f"arn:aws:kms:{bucket['Region']}:{ctx.inventory.account}:{alias}",
            },
        )
        yield finding


@control("S3-02")
def s3_public_access(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    keys = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    for bucket, finding in _buckets(ctx):
        block = bucket.get("PublicAccessBlock")
        if block is None:
            continue
        missing = [k for k in keys if not block.get(k)]
        finding.update(
            passed=not missing,
            message="All public access is blocked." if not missing else f"Not set: {', '.join(missing)}.",
            fix={"bucket": bucket["Name"], "region": bucket["Region"]},
        )
        yield finding


@control("S3-03")
def s3_versioning(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    classes = set(ctx.params.get("versioned_data_classes", []))
    for bucket, finding in _buckets(ctx):
        if finding["data_class"] not in classes:
            continue
        status = bucket.get("Versioning") or "Disabled"
        finding.update(
            passed=status == "Enabled",
            message=f"Versioning is {status} for {finding['data_class']} data.",
            fix={"bucket": bucket["Name"], "region": bucket["Region"]},
        )
        yield finding


def _denies_insecure(statement: dict[str, Any]) -> bool:
    if statement.get("Effect") != "Deny":
        return False
    principal = statement.get("Principal")
    if principal not in ("*", {"AWS": "*"}):
        return False
    actions = statement.get("Action")
    actions = [actions] if isinstance(actions, str) else (actions or [])
    if not any(a in ("s3:*", "*") for a in actions):
        return False
    condition = (statement.get("Condition") or {}).get("Bool", {})
    return str(condition.get("aws:SecureTransport", "")).lower() == "false"


def tls_only_statement(bucket: str) -> dict[str, Any]:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


@control("S3-04")
def s3_tls_only(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    for bucket, finding in _buckets(ctx):
        raw = bucket.get("Policy")
        if raw is None:
            continue
        policy = json.loads(raw) if raw else {"Version": "2012-10-17", "Statement": []}
        statements = policy.get("Statement", [])
        statements = [statements] if isinstance(statements, dict) else statements
        passed = any(_denies_insecure(s) for s in statements)
        merged = {**policy, "Statement": [*statements, tls_only_statement(bucket["Name"])]}
        finding.update(
            passed=passed,
            message="The policy denies non-TLS requests."
            if passed
            else "No statement denies non-TLS requests.",
            fix={"bucket": bucket["Name"], "region": bucket["Region"], "policy": merged},
        )
        yield finding


# ---------------------------------------------------------------------- account-level data protection


@control("EBS-01")
def ebs_default(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    for region in _regions(ctx):
        value = ctx.inventory.get(region, "ebs_encryption_by_default")
        if value is None:
            continue
        yield {
            "passed": bool(value),
            "resource_id": f"{ctx.inventory.account}/{region}/ebs-encryption-by-default",
            "resource_name": "EBS encryption by default",
            "region": region,
            "environment": "account",
            "message": f"EBS encryption by default is {'on' if value else 'off'} in {region}.",
            "fix": {"region": region, "ebs_encryption_by_default": True},
        }


def _trails(ctx: Context) -> Iterator[tuple[str, dict[str, Any]]]:
    seen: set[str] = set()
    for region in _regions(ctx):
        for trail in ctx.inventory.get(region, "trails") or []:
            if trail["TrailARN"] in seen:
                continue
            seen.add(trail["TrailARN"])
            yield trail.get("HomeRegion") or region, trail


@control("CT-01")
def trail_multi_region(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    if all(ctx.inventory.get(r, "trails") is None for r in _regions(ctx)):
        return
    good = [t for _r, t in _trails(ctx) if t.get("IsMultiRegionTrail") and t.get("IsLogging")]
    yield {
        "passed": bool(good),
        "resource_id": f"{ctx.inventory.account}/cloudtrail",
        "resource_name": "account CloudTrail",
        "region": _regions(ctx)[0],
        "environment": "account",
        "message": (
            f"Multi-region trail(s) logging: {', '.join(t['Name'] for t in good)}."
            if good
            else "No multi-region trail is logging."
        ),
    }


def _trail_finding(region: str, trail: dict[str, Any]) -> Finding:
    return {
        "resource_id": trail["Name"],
        "resource_arn": trail["TrailARN"],
        "region": region,
        "environment": "account",
    }


@control("CT-02")
def trail_validation(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    for region, trail in _trails(ctx):
        finding = _trail_finding(region, trail)
        on = bool(trail.get("LogFileValidationEnabled"))
        finding.update(
            passed=on,
            message=f"Log-file validation is {'on' if on else 'off'}.",
            fix={
                "name": trail["Name"],
                "region": region,
                "s3_bucket_name": trail.get("S3BucketName"),
                "s3_key_prefix": trail.get("S3KeyPrefix"),
                "kms_key_id": trail.get("KmsKeyId"),
                "is_multi_region_trail": bool(trail.get("IsMultiRegionTrail")),
                "include_global_events": bool(trail.get("IncludeGlobalServiceEvents", True)),
                "enable_logging": bool(trail.get("IsLogging", True)),
            },
        )
        yield finding


@control("CT-03")
def trail_kms(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    for region, trail in _trails(ctx):
        finding = _trail_finding(region, trail)
        key = trail.get("KmsKeyId")
        finding.update(
            passed=bool(key), message=f"KMS key: {key}." if key else "Logs are not encrypted with KMS."
        )
        yield finding


@control("GD-01")
def guardduty(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    for region in _regions(ctx):
        detectors = ctx.inventory.get(region, "guardduty_detectors")
        if detectors is None:
            continue
        enabled = [d for d, status in detectors.items() if status == "ENABLED"]
        yield {
            "passed": bool(enabled),
            "resource_id": f"{ctx.inventory.account}/{region}/guardduty",
            "resource_name": "GuardDuty",
            "region": region,
            "environment": "account",
            "message": "GuardDuty detector enabled." if enabled else f"GuardDuty is not enabled in {region}.",
        }


@control("SH-01")
def security_hub(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    for region in _regions(ctx):
        hub = ctx.inventory.get(region, "security_hub")
        if hub is None:
            continue
        yield {
            "passed": bool(hub),
            "resource_id": f"{ctx.inventory.account}/{region}/securityhub",
            "resource_name": "Security Hub",
            "region": region,
            "environment": "account",
            "message": "Security Hub is enabled." if hub else f"Security Hub is not enabled in {region}.",
        }


# ---------------------------------------------------------------------- monitoring


def _alarm_targets(
    ctx: Context, region: str, kind: str
) -> Iterator[tuple[str, str, list[dict[str, str]], dict[str, Any]]]:
    """(name, environment, dimensions, resource) of every resource an alarm kind applies to."""
    if kind == "asg":
        for group in ctx.inventory.get(region, "asgs") or []:
            name = group["AutoScalingGroupName"]
            env = environment_of(tags_of(group), name)
            yield name, env, [{"Name": "AutoScalingGroupName", "Value": name}], group
    elif kind == "rds":
        for db in ctx.inventory.get(region, "databases") or []:
            name = db["DBInstanceIdentifier"]
            env = environment_of(tags_of(db, "TagList"), name)
            yield name, env, [{"Name": "DBInstanceIdentifier", "Value": name}], db
    elif kind == "alb":
        for lb in ctx.inventory.get(region, "load_balancers") or []:
            if lb.get("Type", "application") != "application":
                continue
            suffix = lb["LoadBalancerArn"].split(":loadbalancer/", 1)[-1]
            env = environment_of(tags_of(lb), lb["LoadBalancerName"])
            yield lb["LoadBalancerName"], env, [{"Name": "LoadBalancer", "Value": suffix}], lb
    elif kind == "target_group":
        balancers = {lb["LoadBalancerArn"]: lb for lb in ctx.inventory.get(region, "load_balancers") or []}
        for group in ctx.inventory.get(region, "target_groups") or []:
            for arn in group.get("LoadBalancerArns", [])[:1]:
                lb = balancers.get(arn, {})
                env = environment_of(tags_of(lb), group["TargetGroupName"])
                dims = [
                    {"Name": "TargetGroup", "Value": group["TargetGroupArn"].split(":", 5)[-1]},
                    {"Name": "LoadBalancer", "Value": arn.split(":loadbalancer/", 1)[-1]},
                ]
                yield group["TargetGroupName"], env, dims, group


ALARM_KEYS = (
    "Namespace",
    "MetricName",
    "Statistic",
    "Period",
    "EvaluationPeriods",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
)


def expected_alarms(ctx: Context) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(region, environment, put_metric_alarm arguments) of every alarm the catalogue wants."""
    topic_pattern = ctx.params.get("alarm_topic_name", "homecare-{env}-alarms")
    primary = _regions(ctx)[0]
    for region in _regions(ctx):
        for alarm in ctx.params.get("alarms", []):
            for name, env, dims, resource in _alarm_targets(ctx, region, alarm["resource"]):
                threshold = (alarm.get("threshold") or {}).get(env)
                if threshold is None:
                    continue
                if alarm.get("only_replicas") and not resource.get("ReadReplicaSourceDBInstanceIdentifier"):
                    continue
                topic_region = region if alarm.get("topic_in_resource_region", False) else primary
                topic = _arn(ctx, "sns", topic_region, topic_pattern.format(env=short_env(env)))
                yield (
                    region,
                    env,
                    {
                        "AlarmName": f"{name}-{alarm['suffix']}",
                        "AlarmDescription": f"careops {alarm['id']}: {alarm['description']}",
                        "Namespace": alarm["namespace"],
                        "MetricName": alarm["metric"],
                        "Dimensions": dims,
                        "Statistic": alarm.get("statistic", "Average"),
                        "Period": int(alarm.get("period", 300)),
                        "EvaluationPeriods": int(alarm.get("evaluation_periods", 3)),
                        "Threshold": float(threshold),
                        "ComparisonOperator": alarm.get("comparison", "GreaterThanThreshold"),
                        "TreatMissingData": alarm.get("treat_missing_data", "missing"),
                        "AlarmActions": [topic],
                        "OKActions": [topic],
                    },
                )


def alarm_differences(current: dict[str, Any] | None, wanted: dict[str, Any]) -> list[str]:
    if current is None:
        return ["missing"]
    out = [key for key in ALARM_KEYS if current.get(key) != wanted[key]]
    dims = sorted((d["Name"], d["Value"]) for d in current.get("Dimensions", []))
    if dims != sorted((d["Name"], d["Value"]) for d in wanted["Dimensions"]):
        out.append("Dimensions")
    for key in ("AlarmActions", "OKActions"):
        if not set(wanted[key]) <= set(current.get(key, [])):
            out.append(key)
    return out


@control("MON-01")
def alarms(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    for region, env, wanted in expected_alarms(ctx):
        existing = {a["AlarmName"]: a for a in ctx.inventory.get(region, "alarms") or []}
        diff = alarm_differences(existing.get(wanted["AlarmName"]), wanted)
        yield {
            "passed": not diff,
            "resource_id": wanted["AlarmName"],
            "resource_arn": _arn(ctx, "cloudwatch", region, f"alarm:{wanted['AlarmName']}"),
            "region": region,
            "environment": env,
            "message": (
                f"Alarm on {wanted['MetricName']} notifies {wanted['AlarmActions'][0].rsplit(':', 1)[-1]}."
                if not diff
                else ("Alarm is missing." if diff == ["missing"] else f"Alarm differs in {', '.join(diff)}.")
            ),
            "fix": {"region": region, "alarm": wanted},
        }


def log_class(ctx: Context, name: str) -> dict[str, Any]:
    for entry in ctx.params.get("log_retention", []):
        if fnmatch.fnmatchcase(name, entry["match"]):
            return entry
    return {"class": "default", "days": 365}


@control("MON-02")
def log_retention(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    for region in _regions(ctx):
        for group in ctx.inventory.get(region, "log_groups") or []:
            name = group["logGroupName"]
            wanted = log_class(ctx, name)
            days = group.get("retentionInDays")
            passed = days is not None and int(days) >= int(wanted["days"])
            yield {
                "passed": passed,
                "resource_id": name,
                "resource_arn": (group.get("arn") or "").removesuffix(":*"),
                "region": region,
                "environment": environment_of({}, name) if "/careops/" not in name else "account",
                "data_class": wanted["class"],
                "message": (
                    f"Retention {days} day(s); {wanted['class']} data needs at least {wanted['days']}."
                    if days is not None
                    else f"Events never expire; {wanted['class']} data is kept {wanted['days']} days."
                ),
                "fix": {"region": region, "log_group_name": name, "retention": int(wanted["days"])},
            }


@control("MON-03")
def dashboards(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    primary = _regions(ctx)[0]
    boards = ctx.inventory.get(primary, "dashboards")
    if boards is None:
        return
    names = {b["DashboardName"] for b in boards}
    environments = sorted(
        {
            environment_of(tags_of(db, "TagList"), db["DBInstanceIdentifier"])
            for region in _regions(ctx)
            for db in ctx.inventory.get(region, "databases") or []
        }
        | {
            environment_of(tags_of(group), group["AutoScalingGroupName"])
            for region in _regions(ctx)
            for group in ctx.inventory.get(region, "asgs") or []
        }
    )
    pattern = ctx.params.get("dashboard_name", "careops-{env}")
    for env in environments:
        if env == "unknown":
            continue
        name = pattern.format(env=env)
        yield {
            "passed": name in names,
            "resource_id": name,
            "region": primary,
            "environment": env,
            "message": f"Dashboard {name} {'exists' if name in names else 'is missing'}.",
        }


# ---------------------------------------------------------------------- Beanstalk


@control("EB-01")
def beanstalk_logs(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    minimum = ctx.params.get("beanstalk_log_retention_days", {})
    for region, env, tags in _beanstalk_envs(ctx):
        options = env.get("Options") or {}
        stream = _bool(options.get("aws:elasticbeanstalk:cloudwatch:logs:StreamLogs", "false"))
        days = int(options.get("aws:elasticbeanstalk:cloudwatch:logs:RetentionInDays") or 0)
        environment = environment_of(tags, env["EnvironmentName"])
        wanted = int(minimum.get(environment, 365))
        passed = stream and days >= wanted
        yield _beanstalk_finding(
            region,
            env,
            tags,
            passed=passed,
            message=f"StreamLogs={str(stream).lower()}, RetentionInDays={days} (wanted at least {wanted}).",
            settings=[
                {
                    "Namespace": "aws:elasticbeanstalk:cloudwatch:logs",
                    "OptionName": "StreamLogs",
                    "Value": "true",
                },
                {
                    "Namespace": "aws:elasticbeanstalk:cloudwatch:logs",
                    "OptionName": "RetentionInDays",
                    "Value": str(max(days, wanted)),
                },
            ],
        )


@control("EB-02")
def beanstalk_health(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    for region, env, tags in _beanstalk_envs(ctx):
        value = (env.get("Options") or {}).get(
            "aws:elasticbeanstalk:healthreporting:system:SystemType", "basic"
        )
        yield _beanstalk_finding(
            region,
            env,
            tags,
            passed=value == "enhanced",
            message=f"Health reporting is {value}.",
            settings=[
                {
                    "Namespace": "aws:elasticbeanstalk:healthreporting:system",
                    "OptionName": "SystemType",
                    "Value": "enhanced",
                }
            ],
        )


@control("EB-03")
def beanstalk_updates(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    for region, env, tags in _beanstalk_envs(ctx):
        value = (env.get("Options") or {}).get(
            "aws:elasticbeanstalk:managedactions:ManagedActionsEnabled", "false"
        )
        yield _beanstalk_finding(
            region,
            env,
            tags,
            passed=_bool(value),
            message=f"Managed platform updates: {value}.",
            settings=[
                {
                    "Namespace": "aws:elasticbeanstalk:managedactions",
                    "OptionName": "ManagedActionsEnabled",
                    "Value": "true",
                }
            ],
        )


# ---------------------------------------------------------------------- cost


def _volume_base(ctx: Context, region: str, volume: dict[str, Any]) -> Finding:
    tags = tags_of(volume)
    environment = environment_of(tags, tags.get("Name", ""))
    if environment == "unknown":
        # Root volumes often carry no tags: they belong to their instance's environment.
        owners = {
            i["InstanceId"]: environment_of(tags_of(i), tags_of(i).get("Name", ""))
            for i in ctx.inventory.get(region, "instances") or []
        }
        for attachment in volume.get("Attachments", []):
            environment = owners.get(attachment.get("InstanceId"), environment)
    return {
        "resource_id": volume["VolumeId"],
        "resource_name": tags.get("Name", volume["VolumeId"]),
        "resource_arn": _arn(ctx, "ec2", region, f"volume/{volume['VolumeId']}"),
        "region": region,
        "environment": environment,
        "owner": iac_owner(tags),
    }


@control("COST-01")
def gp2_volumes(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    for region in _regions(ctx):
        for volume in ctx.inventory.get(region, "volumes") or []:
            finding = _volume_base(ctx, region, volume)
            kind = volume.get("VolumeType")
            finding.update(
                passed=kind != "gp2",
                message=f"Volume type {kind}.",
                fix={
                    "region": region,
                    "volume_id": volume["VolumeId"],
                    "zone": volume.get("AvailabilityZone"),
                    "volume_type": "gp3",
                },
            )
            yield finding


@control("COST-02")
def previous_generation(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    old = set(ctx.params.get("previous_generation_families", []))
    for region in _regions(ctx):
        for instance in ctx.inventory.get(region, "instances") or []:
            family = str(instance.get("InstanceType", "")).split(".", 1)[0]
            finding = _instance_base(ctx, region, instance)
            finding.update(
                passed=family not in old,
                message=(
                    f"Instance type {instance.get('InstanceType')} "
                    f"({'previous' if family in old else 'current'} generation)."
                ),
            )
            yield finding


@control("COST-03")
def unattached_volumes(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    for region in _regions(ctx):
        for volume in ctx.inventory.get(region, "volumes") or []:
            finding = _volume_base(ctx, region, volume)
            attached = bool(volume.get("Attachments")) or volume.get("State") == "in-use"
            finding.update(
                passed=attached,
                message=(
                    "Volume is attached."
                    if attached
                    else f"Volume ({volume.get('Size')} GiB {volume.get('VolumeType')}) "
                    "is attached to nothing."
                ),
            )
            yield finding


def _age_days(ctx: Context, when: Any) -> float:
    if isinstance(when, str):
        when = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
    if not isinstance(when, dt.datetime):
        return 0.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return (ctx.settings.now - when).total_seconds() / 86400


def _backs_an_image(snapshot: dict[str, Any]) -> bool:
    """Snapshots behind an AMI live and die with the image; deregistering it is the decision."""
    description = str(snapshot.get("Description", "")).lower()
    return "for ami" in description or "createimage" in description


@control("COST-04")
def old_snapshots(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    limit = float(ctx.params.get("snapshot_max_age_days", 90))
    for region in _regions(ctx):
        for snap in ctx.inventory.get(region, "snapshots") or []:
            if _backs_an_image(snap):
                continue
            age = _age_days(ctx, snap.get("StartTime"))
            tags = tags_of(snap)
            yield {
                "passed": age <= limit,
                "resource_id": snap["SnapshotId"],
                "resource_arn": _arn(ctx, "ec2", region, f"snapshot/{snap['SnapshotId']}"),
                "region": region,
                "environment": environment_of(tags, tags.get("Name", "")),
                "message": f"Manual EBS snapshot is {age:.0f} day(s) old (limit {limit:.0f}).",
            }
        for snap in ctx.inventory.get(region, "db_snapshots") or []:
            age = _age_days(ctx, snap.get("SnapshotCreateTime"))
            tags = tags_of(snap, "TagList")
            yield {
                "passed": age <= limit,
                "resource_id": snap["DBSnapshotIdentifier"],
                "resource_arn": snap.get("DBSnapshotArn", ""),
                "resource_type": "AWS::RDS::DBSnapshot",
                "region": region,
                "environment": environment_of(tags, snap.get("DBInstanceIdentifier", "")),
                "message": f"Manual RDS snapshot is {age:.0f} day(s) old (limit {limit:.0f}).",
            }


# ---------------------------------------------------------------------- tags


@control("TAG-01")
def required_tags(ctx: Context, _meta: dict[str, Any]) -> Iterator[Finding]:
    required = list(ctx.params.get("required_tags", []))

    def finding(
        kind: str, rid: str, region: str, tags: dict[str, str], *, arn: str = "", name: str = ""
    ) -> Finding:
        missing = [t for t in required if not tags.get(t)]
        return {
            "passed": not missing,
            "resource_id": rid,
            "resource_name": name or rid,
            "resource_arn": arn,
            "resource_type": kind,
            "region": region,
            "environment": environment_of(tags, name or rid),
            "message": "All required tags present."
            if not missing
            else f"Missing tags: {', '.join(missing)}.",
        }

    for region in _regions(ctx):
        for instance in ctx.inventory.get(region, "instances") or []:
            tags = tags_of(instance)
            yield finding(
                "AWS::EC2::Instance", instance["InstanceId"], region, tags, name=tags.get("Name", "")
            )
        for group in ctx.inventory.get(region, "security_groups") or []:
            if group.get("GroupName") == "default":
                continue
            tags = tags_of(group)
            yield finding(
                "AWS::EC2::SecurityGroup", group["GroupId"], region, tags, name=tags.get("Name", "")
            )
        for db in ctx.inventory.get(region, "databases") or []:
            tags = tags_of(db, "TagList")
            yield finding(
                "AWS::RDS::DBInstance",
                db["DBInstanceIdentifier"],
                region,
                tags,
                arn=db.get("DBInstanceArn", ""),
            )
        for env in ctx.inventory.get(region, "beanstalk") or []:
            yield finding(
                "AWS::ElasticBeanstalk::Environment",
                env["EnvironmentName"],
                region,
                tags_of(env),
                arn=env.get("EnvironmentArn", ""),
            )
    for bucket, base in _buckets(ctx):
        yield finding(
            "AWS::S3::Bucket", bucket["Name"], base["region"], tags_of(bucket), arn=base["resource_arn"]
        )
