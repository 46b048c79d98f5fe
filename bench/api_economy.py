#!/usr/bin/env python3
"""Benchmark: AWS calls of the audit and of the baseline's check run, at the seeded estate and 10x.

One command (about 5-8 minutes on a shared 2-core machine, most of it the two baseline runs)::

    .venv/bin/python bench/api_economy.py                  # seeded estate, then 10x
    .venv/bin/python bench/api_economy.py --factor 5 --json /tmp/economy.json

It brings up a lab of its own (AWS side only, in a temporary folder, through the tests'
``start_lab``), then, at the seeded size and again after growing the estate:

- runs ``playbooks/audit.yml`` and ``playbooks/aws_baseline.yml --check --diff`` with the lab
  inventory, as tests/test_audit.py and tests/test_baseline.py do, each with a cold inventory
  cache (so each run pays the inventory's one DescribeInstances, and only one);
- counts every request the lab logged during each run (``GET /lab-api/calls``), per
  ``service:Action`` (REST calls such as S3's resolved to their operation through botocore's
  routes, with scripts/iam_from_calls.py's ``api_operation``);
- counts the resources the audit reads, per kind and region, through boto3.

Growth copies the seeded resources through the public API, settings and tags included, until
each kind the audit enumerates is ``--factor`` times its seeded count: security groups with
their rules, launch templates, auto scaling groups with their target group, load balancer and
listener (the groups launch the instances), volumes, RDS instances, Aurora clusters with their
members, buckets with tags, versioning, encryption, public access block, policy and Object
Lock, log groups with retention, alarms, Beanstalk environments with their option settings.
Deliberate drift is copied with the rest, so the failing findings grow in proportion too.
Account-level singletons (the trail, detectors, Security Hub, account defaults) are not
copied: an account has one of each per region, whatever its size.

The claim under test: list and describe calls grow with pages, not with resources; calls that
grow with resources are named. moto answers most list calls in one page where AWS would page
(50 log groups, 100 databases, 50 auto scaling groups...), so a second table estimates the
pages AWS would need from the documented page sizes in ``PAGE_SIZES``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "scripts")]
from conftest import Lab, run_playbook, start_lab  # noqa: E402 - the tests' lab start-up, reused
from iam_from_calls import api_operation  # noqa: E402

from lab.estate import SOLUTION_STACK  # noqa: E402 - the lab package lives at ROOT

AUDIT = "playbooks/audit.yml"
BASELINE = "playbooks/aws_baseline.yml"

# Kinds that are moto's, not the estate's: moto lists the snapshots behind its public AMIs as
# the account's own, about 1,300 per region. They are counted, never added to the totals.
NOT_ESTATE = {"ec2_snapshots", "regions", "account"}

# Page size AWS uses when a request names none (the audit names none), from the API reference
# text that botocore ships (``MaxRecords``/``limit``/``PageSize`` documentation). None: one
# response holds everything. Where only a maximum is documented, that maximum is used, so the
# estimate is a lower bound on the pages.
PAGE_SIZES: dict[str, tuple[str, int | None, str]] = {
    "ec2:DescribeInstances": ("instances", None, "no MaxResults: one response (EC2 guide: use 1,000)"),
    "ec2:DescribeSecurityGroups": ("security_groups", None, "no MaxResults: all items returned"),
    "ec2:DescribeVolumes": ("volumes", None, "no MaxResults: one response"),
    "ec2:DescribeSnapshots": ("ec2_snapshots", None, "no MaxResults: one response"),
    "ec2:DescribeLaunchTemplates": ("launch_templates", 200, "maximum 200, no default documented"),
    "ec2:DescribeLaunchTemplateVersions": (
        "launch_templates",
        200,
        "the audit asks for 200, the maximum; two versions a template at most",
    ),
    "autoscaling:DescribeAutoScalingGroups": ("asgs", 50, "default 50"),
    "autoscaling:DescribeLaunchConfigurations": ("launch_configurations", 50, "default 50"),
    "rds:DescribeDBInstances": ("db_instances", 100, "default 100"),
    "rds:DescribeDBSnapshots": ("db_snapshots", 100, "default 100"),
    "logs:DescribeLogGroups": ("log_groups", 50, "default 50"),
    "cloudwatch:DescribeAlarms": ("alarms", 100, "maximum 100, no default documented"),
    "cloudwatch:ListDashboards": ("dashboards", 1000, "1,000 per page"),
    "elasticbeanstalk:DescribeEnvironments": ("beanstalk_environments", None, "no MaxRecords: one response"),
    "elasticloadbalancing:DescribeLoadBalancers": ("load_balancers", 400, "maximum 400"),
    "elasticloadbalancing:DescribeTargetGroups": ("target_groups", 400, "maximum 400"),
    "elasticloadbalancing:DescribeTags": ("load_balancers", 20, "20 ARNs per call (the audit batches)"),
    "guardduty:ListDetectors": ("detectors", 50, "default 50"),
    "cloudtrail:DescribeTrails": ("trails", None, "not paginated"),
    "s3:ListBuckets": ("buckets", 1000, "the audit asks for 1,000 a page, the maximum"),
}

# What each remaining action reads, for the resource columns; the service decides otherwise.
ACTION_KINDS = {
    "ec2:DescribeLaunchTemplateVersions": "launch_templates",
    "ec2:GetEbsEncryptionByDefault": "regions",
    "ec2:GetInstanceMetadataDefaults": "regions",
    "securityhub:DescribeHub": "regions",
    "cloudwatch:GetMetricStatistics": "instances",
    "guardduty:GetDetector": "detectors",
    "sts:GetCallerIdentity": "account",
    "iam:ListAccountAliases": "account",
}
SERVICE_KINDS = {
    "s3": "buckets",
    "elasticbeanstalk": "beanstalk_environments",
    "cloudtrail": "trails",
    "rds": "db_instances",
    "logs": "log_groups",
    "ec2": "instances",
    "autoscaling": "asgs",
    "elasticloadbalancing": "load_balancers",
    "cloudwatch": "alarms",
}


# ---------------------------------------------------------------------- counting


def kind_of(action: str) -> str:
    if action in PAGE_SIZES:
        return PAGE_SIZES[action][0]
    return ACTION_KINDS.get(action) or SERVICE_KINDS.get(action.split(":", 1)[0], "account")


def paged(lab: Lab, service: str, region: str, operation: str, key: str, **kwargs: Any) -> list[Any]:
    items: list[Any] = []
    for page in lab.client(service, region).get_paginator(operation).paginate(**kwargs):
        items.extend(page.get(key, []))
    return items


def census(lab: Lab, regions: list[str]) -> dict[str, dict[str, int]]:
    """Resources per kind and region, read the way the audit reads them (same filters)."""
    states = ["pending", "running", "stopping", "stopped"]
    counts: dict[str, dict[str, int]] = {}

    def put(kind: str, region: str, value: int) -> None:
        counts.setdefault(kind, {})[region] = value

    for region in regions:
        reservations = paged(
            lab,
            "ec2",
            region,
            "describe_instances",
            "Reservations",
            Filters=[{"Name": "instance-state-name", "Values": states}],
        )
        put("instances", region, sum(len(r["Instances"]) for r in reservations))
        listings = [
            ("security_groups", "ec2", "describe_security_groups", "SecurityGroups", {}),
            ("volumes", "ec2", "describe_volumes", "Volumes", {}),
            ("ec2_snapshots", "ec2", "describe_snapshots", "Snapshots", {"OwnerIds": ["self"]}),
            ("launch_templates", "ec2", "describe_launch_templates", "LaunchTemplates", {}),
            ("asgs", "autoscaling", "describe_auto_scaling_groups", "AutoScalingGroups", {}),
            (
                "launch_configurations",
                "autoscaling",
                "describe_launch_configurations",
                "LaunchConfigurations",
                {},
            ),
            ("db_instances", "rds", "describe_db_instances", "DBInstances", {}),
            ("db_snapshots", "rds", "describe_db_snapshots", "DBSnapshots", {"SnapshotType": "manual"}),
            ("log_groups", "logs", "describe_log_groups", "logGroups", {}),
            ("alarms", "cloudwatch", "describe_alarms", "MetricAlarms", {"AlarmTypes": ["MetricAlarm"]}),
            ("dashboards", "cloudwatch", "list_dashboards", "DashboardEntries", {}),
            ("load_balancers", "elbv2", "describe_load_balancers", "LoadBalancers", {}),
            ("target_groups", "elbv2", "describe_target_groups", "TargetGroups", {}),
            ("detectors", "guardduty", "list_detectors", "DetectorIds", {}),
        ]
        for kind, service, operation, key, kwargs in listings:
            put(kind, region, len(paged(lab, service, region, operation, key, **kwargs)))
        eb = lab.client("elasticbeanstalk", region).describe_environments(IncludeDeleted=False)
        put("beanstalk_environments", region, len(eb["Environments"]))
        trails = lab.client("cloudtrail", region).describe_trails(includeShadowTrails=False)
        put("trails", region, len(trails["trailList"]))
        put("regions", region, 1)
    put("buckets", regions[0], len(lab.client("s3", regions[0]).list_buckets()["Buckets"]))
    put("account", regions[0], 1)
    return counts


def total(counts: dict[str, dict[str, int]], kind: str) -> int:
    return sum(counts.get(kind, {}).values())


def estate_size(counts: dict[str, dict[str, int]]) -> int:
    return sum(total(counts, kind) for kind in counts if kind not in NOT_ESTATE)


def aws_pages(counts: dict[str, dict[str, int]], action: str) -> int:
    """Pages AWS would answer for one list action over the regions the audit reads."""
    kind, size, _note = PAGE_SIZES[action]
    per_region = counts.get(kind, {})
    if action == "s3:ListBuckets":
        per_region = {"global": total(counts, kind)}
    if action == "ec2:DescribeLaunchTemplateVersions":  # $Default and $Latest of each template
        per_region = {region: 2 * n for region, n in per_region.items()}
    return sum(1 if size is None else max(1, math.ceil(n / size)) for n in per_region.values())


# ---------------------------------------------------------------------- runs


def run(lab: Lab, workdir: Path, label: str, playbook: str, *, check: bool) -> dict[str, Any]:
    """Run one playbook as the tests do, with a cold inventory cache; count what it called."""
    env = lab.env | {"ANSIBLE_INVENTORY_CACHE_CONNECTION": str(workdir / f"inventory-cache-{label}")}
    report = workdir / f"report-{label}"
    extra = {"report_dir": str(report)} if playbook == AUDIT else None
    lab.reset_calls()
    started = time.monotonic()
    result = run_playbook(dataclasses.replace(lab, env=env), playbook, extra, check=check, timeout=900)
    wall = time.monotonic() - started
    calls = lab.calls()
    (workdir / f"{label}.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise RuntimeError(f"{playbook} failed (rc {result.returncode}):\n{result.stdout[-3000:]}")
    figures: dict[str, Any] = {
        "seconds": round(wall, 1),
        "calls": dict(sorted(Counter(api_operation(c) for c in calls).items())),
        "writes": sorted({api_operation(c) for c in calls if c["mutating"]}),
        # 4xx include S3's "not set" answers (NoSuchTagSet, NoSuchBucketPolicy...), which are normal.
        "error_answers": sum(1 for c in calls if int(c.get("status") or 200) >= 400),
    }
    if playbook == AUDIT:
        findings = json.loads((report / "findings.json").read_text())
        figures["failing_findings"] = sum(1 for f in findings if f["status"] == "FAIL")
    else:
        recap = re.search(r"localhost\s+:\s+ok=\d+\s+changed=(\d+)", result.stdout)
        figures["changed"] = int(recap.group(1)) if recap else None
    print(f"  {label}: {sum(figures['calls'].values())} calls in {figures['seconds']} s", flush=True)
    return figures


# ---------------------------------------------------------------------- growth


def plan[T](originals: list[T], have: int, want: int) -> Iterator[tuple[str, T]]:
    """(name suffix, original) for each copy to make so that ``have`` resources become ``want``."""
    if not originals:
        return
    for index in range(max(0, want - have)):
        yield f"-x{index // len(originals) + 1:03d}", originals[index % len(originals)]


def renamed(tags: list[dict[str, Any]], suffix: str) -> list[dict[str, str]]:
    """Tags as the original has them, the Name tag suffixed; AWS-reserved keys left out."""
    out = []
    for tag in tags:
        if tag["Key"].startswith(("aws:", "elasticbeanstalk:")):
            continue
        value = tag["Value"] + suffix if tag["Key"] == "Name" else tag["Value"]
        out.append({"Key": tag["Key"], "Value": value})
    return out


class Grower:
    """Copies the seeded estate through the public API until each kind is ``factor`` times its size."""

    def __init__(self, lab: Lab, seeded: dict[str, dict[str, int]], factor: int) -> None:
        self.lab = lab
        self.seeded = seeded
        self.factor = factor
        self.region = lab.state["region"]
        self.regions = list(seeded["regions"])
        self.made: Counter[str] = Counter()

    def want(self, kind: str) -> int:
        return self.factor * total(self.seeded, kind)

    def grow(self) -> dict[str, int]:
        steps: list[Callable[[], None]] = [
            self.security_groups,
            self.stacks,
            self.volumes,
            self.databases,
            self.clusters,
            self.alarms,
            self.buckets,
            self.log_groups,
            self.beanstalk,
        ]
        for step in steps:
            started = time.monotonic()
            step()
            print(f"  grew {step.__name__} in {time.monotonic() - started:.0f} s", flush=True)
        return dict(self.made)

    # -------------------------------------------------------------- EC2
    def security_groups(self) -> None:
        originals = [
            (region, group)
            for region in self.regions
            for group in self.lab.client("ec2", region).describe_security_groups()["SecurityGroups"]
            if group["GroupName"] != "default"
        ]
        for suffix, (region, group) in plan(
            originals, total(self.seeded, "security_groups"), self.want("security_groups")
        ):
            ec2 = self.lab.client("ec2", region)
            copy = ec2.create_security_group(
                GroupName=group["GroupName"] + suffix, Description=group["Description"], VpcId=group["VpcId"]
            )["GroupId"]
            ec2.create_tags(Resources=[copy], Tags=renamed(group.get("Tags", []), suffix))
            rules = [
                {
                    "IpProtocol": rule["IpProtocol"],
                    "FromPort": rule["FromPort"],
                    "ToPort": rule["ToPort"],
                    "IpRanges": rule.get("IpRanges", []),
                    "Ipv6Ranges": rule.get("Ipv6Ranges", []),
                    "UserIdGroupPairs": [{"GroupId": p["GroupId"]} for p in rule.get("UserIdGroupPairs", [])],
                }
                for rule in group["IpPermissions"]
            ]
            if rules:
                ec2.authorize_security_group_ingress(GroupId=copy, IpPermissions=rules)
            self.made["security_groups"] += 1

    def stacks(self) -> None:
        """Auto scaling groups with a copy of their launch template, target group, ALB and listener."""
        asg = self.lab.client("autoscaling", self.region)
        originals = asg.describe_auto_scaling_groups()["AutoScalingGroups"]
        for suffix, group in plan(originals, total(self.seeded, "asgs"), self.want("asgs")):
            template = self._copy_template(group["LaunchTemplate"]["LaunchTemplateId"], suffix)
            target_groups = [self._copy_target_group(arn, suffix) for arn in group["TargetGroupARNs"]]
            name = group["AutoScalingGroupName"] + suffix
            asg.create_auto_scaling_group(
                AutoScalingGroupName=name,
                LaunchTemplate={"LaunchTemplateId": template, "Version": group["LaunchTemplate"]["Version"]},
                MinSize=group["MinSize"],
                MaxSize=group["MaxSize"],
                DesiredCapacity=group["DesiredCapacity"],
                VPCZoneIdentifier=group["VPCZoneIdentifier"],
                TargetGroupARNs=target_groups,
                HealthCheckType=group["HealthCheckType"],
                HealthCheckGracePeriod=group["HealthCheckGracePeriod"],
                Tags=[
                    {
                        "Key": tag["Key"],
                        "Value": tag["Value"] + suffix if tag["Key"] == "Name" else tag["Value"],
                        "PropagateAtLaunch": tag["PropagateAtLaunch"],
                        "ResourceId": name,
                        "ResourceType": "auto-scaling-group",
                    }
                    for tag in group["Tags"]
                ],
            )
            self.made["asgs"] += 1

    def _copy_template(self, template_id: str, suffix: str) -> str:
        ec2 = self.lab.client("ec2", self.region)
        template = ec2.describe_launch_templates(LaunchTemplateIds=[template_id])["LaunchTemplates"][0]
        data = ec2.describe_launch_template_versions(LaunchTemplateId=template_id, Versions=["$Latest"])[
            "LaunchTemplateVersions"
        ][0]["LaunchTemplateData"]
        data.pop("TagSpecifications", None)
        self.made["launch_templates"] += 1
        return ec2.create_launch_template(
            LaunchTemplateName=template["LaunchTemplateName"] + suffix,
            LaunchTemplateData=data,
            TagSpecifications=[{"ResourceType": "launch-template", "Tags": template.get("Tags", [])}],
        )["LaunchTemplate"]["LaunchTemplateId"]

    def _copy_target_group(self, arn: str, suffix: str) -> str:
        elb = self.lab.client("elbv2", self.region)
        group = elb.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]
        copy = elb.create_target_group(
            Name=group["TargetGroupName"] + suffix,
            Protocol=group["Protocol"],
            Port=group["Port"],
            VpcId=group["VpcId"],
            HealthCheckPath=group["HealthCheckPath"],
            TargetType=group["TargetType"],
        )["TargetGroups"][0]["TargetGroupArn"]
        self.made["target_groups"] += 1
        for balancer_arn in group.get("LoadBalancerArns", []):
            balancer = elb.describe_load_balancers(LoadBalancerArns=[balancer_arn])["LoadBalancers"][0]
            tags = elb.describe_tags(ResourceArns=[balancer_arn])["TagDescriptions"][0]["Tags"]
            new = elb.create_load_balancer(
                Name=balancer["LoadBalancerName"] + suffix,
                Subnets=[zone["SubnetId"] for zone in balancer["AvailabilityZones"]],
                SecurityGroups=balancer["SecurityGroups"],
                Scheme=balancer["Scheme"],
                Type=balancer["Type"],
                Tags=tags,
            )["LoadBalancers"][0]["LoadBalancerArn"]
            for listener in elb.describe_listeners(LoadBalancerArn=balancer_arn)["Listeners"]:
                elb.create_listener(
                    LoadBalancerArn=new,
                    Protocol=listener["Protocol"],
                    Port=listener["Port"],
                    DefaultActions=[{"Type": "forward", "TargetGroupArn": copy}],
                )
            self.made["load_balancers"] += 1
        return copy

    def volumes(self) -> None:
        """Unattached volumes; attached ones came with the auto scaling groups' instances."""
        ec2 = self.lab.client("ec2", self.region)
        existing = ec2.describe_volumes()["Volumes"]
        have = sum(len(self.lab.client("ec2", r).describe_volumes()["Volumes"]) for r in self.regions)
        loose = [v for v in existing if not v["Attachments"]]
        for suffix, volume in plan(loose, have, self.want("volumes")):
            ec2.create_volume(
                AvailabilityZone=volume["AvailabilityZone"],
                Size=volume["Size"],
                VolumeType=volume["VolumeType"],
                TagSpecifications=[
                    {"ResourceType": "volume", "Tags": renamed(volume.get("Tags", []), suffix)}
                ],
            )
            self.made["volumes"] += 1

    # -------------------------------------------------------------- RDS
    def databases(self) -> None:
        rds = self.lab.client("rds", self.region)
        standalone = [
            d for d in rds.describe_db_instances()["DBInstances"] if not d.get("DBClusterIdentifier")
        ]
        for suffix, db in plan(standalone, len(standalone), self.factor * len(standalone)):
            kwargs: dict[str, Any] = {
                "DBInstanceIdentifier": db["DBInstanceIdentifier"] + suffix,
                "DBInstanceClass": db["DBInstanceClass"],
                "Engine": db["Engine"],
                "EngineVersion": db["EngineVersion"],
                "DBName": db["DBName"],
                "MasterUsername": db["MasterUsername"],
                "ManageMasterUserPassword": True,
                "AllocatedStorage": db["AllocatedStorage"],
                "StorageType": db["StorageType"],
                "DBSubnetGroupName": db["DBSubnetGroup"]["DBSubnetGroupName"],
                "DBParameterGroupName": db["DBParameterGroups"][0]["DBParameterGroupName"],
                "VpcSecurityGroupIds": [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]],
                "MultiAZ": db["MultiAZ"],
                "BackupRetentionPeriod": db["BackupRetentionPeriod"],
                "DeletionProtection": db["DeletionProtection"],
                "StorageEncrypted": db["StorageEncrypted"],
                "EnablePerformanceInsights": bool(db.get("PerformanceInsightsEnabled")),
                "PubliclyAccessible": db["PubliclyAccessible"],
                "CopyTagsToSnapshot": db["CopyTagsToSnapshot"],
                "AutoMinorVersionUpgrade": db["AutoMinorVersionUpgrade"],
                "Tags": db.get("TagList", []),
            }
            if not db["MultiAZ"]:
                kwargs["AvailabilityZone"] = db["AvailabilityZone"]
            if db["StorageEncrypted"]:
                kwargs["KmsKeyId"] = db["KmsKeyId"]
            rds.create_db_instance(**kwargs)
            self.made["db_instances"] += 1

    def clusters(self) -> None:
        rds = self.lab.client("rds", self.region)
        originals = rds.describe_db_clusters()["DBClusters"]
        for suffix, cluster in plan(originals, len(originals), self.factor * len(originals)):
            name = cluster["DBClusterIdentifier"] + suffix
            rds.create_db_cluster(
                DBClusterIdentifier=name,
                Engine=cluster["Engine"],
                EngineVersion=cluster["EngineVersion"],
                DatabaseName=cluster["DatabaseName"],
                MasterUsername=cluster["MasterUsername"],
                ManageMasterUserPassword=True,
                DBSubnetGroupName=cluster["DBSubnetGroup"],
                VpcSecurityGroupIds=[g["VpcSecurityGroupId"] for g in cluster["VpcSecurityGroups"]],
                AvailabilityZones=cluster["AvailabilityZones"],
                StorageEncrypted=cluster["StorageEncrypted"],
                KmsKeyId=cluster["KmsKeyId"],
                BackupRetentionPeriod=cluster["BackupRetentionPeriod"],
                DeletionProtection=cluster["DeletionProtection"],
                CopyTagsToSnapshot=cluster["CopyTagsToSnapshot"],
                Tags=cluster.get("TagList", []),
            )
            self.made["db_clusters"] += 1
            for member in cluster["DBClusterMembers"]:
                source = rds.describe_db_instances(DBInstanceIdentifier=member["DBInstanceIdentifier"])[
                    "DBInstances"
                ][0]
                rds.create_db_instance(
                    DBInstanceIdentifier=name
                    + member["DBInstanceIdentifier"][len(cluster["DBClusterIdentifier"]) :],
                    DBClusterIdentifier=name,
                    Engine=cluster["Engine"],
                    DBInstanceClass=source["DBInstanceClass"],
                    AvailabilityZone=source["AvailabilityZone"],
                    PromotionTier=member["PromotionTier"],
                    EnablePerformanceInsights=bool(source.get("PerformanceInsightsEnabled")),
                    PubliclyAccessible=source["PubliclyAccessible"],
                    AutoMinorVersionUpgrade=source["AutoMinorVersionUpgrade"],
                    Tags=source.get("TagList", []),
                )
                self.made["db_instances"] += 1

    # -------------------------------------------------------------- CloudWatch, logs
    def alarms(self) -> None:
        cloudwatch = self.lab.client("cloudwatch", self.region)
        originals = cloudwatch.describe_alarms(AlarmTypes=["MetricAlarm"])["MetricAlarms"]
        for suffix, alarm in plan(originals, total(self.seeded, "alarms"), self.want("alarms")):
            cloudwatch.put_metric_alarm(
                AlarmName=alarm["AlarmName"] + suffix,
                Namespace=alarm["Namespace"],
                MetricName=alarm["MetricName"],
                # The copy watches the copy of the database, which exists under the same suffix.
                Dimensions=[{"Name": d["Name"], "Value": d["Value"] + suffix} for d in alarm["Dimensions"]],
                Statistic=alarm["Statistic"],
                Period=alarm["Period"],
                EvaluationPeriods=alarm["EvaluationPeriods"],
                Threshold=alarm["Threshold"],
                ComparisonOperator=alarm["ComparisonOperator"],
                ActionsEnabled=alarm["ActionsEnabled"],
                AlarmActions=alarm["AlarmActions"],
                OKActions=alarm["OKActions"],
                InsufficientDataActions=alarm["InsufficientDataActions"],
            )
            self.made["alarms"] += 1

    def log_groups(self) -> None:
        originals = [
            (region, group)
            for region in self.regions
            for group in paged(self.lab, "logs", region, "describe_log_groups", "logGroups")
        ]
        for suffix, (region, group) in plan(
            originals, total(self.seeded, "log_groups"), self.want("log_groups")
        ):
            logs = self.lab.client("logs", region)
            name = group["logGroupName"] + suffix
            logs.create_log_group(logGroupName=name)
            if group.get("retentionInDays"):
                logs.put_retention_policy(logGroupName=name, retentionInDays=group["retentionInDays"])
            self.made["log_groups"] += 1

    # -------------------------------------------------------------- S3
    def buckets(self) -> None:
        s3 = self.lab.client("s3", self.region)
        originals = [b["Name"] for b in s3.list_buckets()["Buckets"]]
        for suffix, name in plan(originals, len(originals), self.want("buckets")):
            self._copy_bucket(name, name + suffix)
            self.made["buckets"] += 1

    def _copy_bucket(self, name: str, copy: str) -> None:
        s3 = self.lab.client("s3", self.region)
        region = s3.get_bucket_location(Bucket=name).get("LocationConstraint") or "us-east-1"
        s3 = self.lab.client("s3", region)
        lock = _optional(lambda: s3.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"])
        create: dict[str, Any] = {"Bucket": copy}
        if region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": region}
        if lock and lock.get("ObjectLockEnabled") == "Enabled":
            create["ObjectLockEnabledForBucket"] = True
        s3.create_bucket(**create)
        if lock and lock.get("Rule"):
            retention = {k: v for k, v in lock["Rule"]["DefaultRetention"].items() if v}
            s3.put_object_lock_configuration(
                Bucket=copy,
                ObjectLockConfiguration={
                    "ObjectLockEnabled": "Enabled",
                    "Rule": {"DefaultRetention": retention},
                },
            )
        tags = _optional(lambda: s3.get_bucket_tagging(Bucket=name)["TagSet"])
        if tags:
            s3.put_bucket_tagging(Bucket=copy, Tagging={"TagSet": tags})
        if s3.get_bucket_versioning(Bucket=name).get("Status") == "Enabled":
            s3.put_bucket_versioning(Bucket=copy, VersioningConfiguration={"Status": "Enabled"})
        encryption = _optional(
            lambda: s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]
        )
        if encryption:
            s3.put_bucket_encryption(Bucket=copy, ServerSideEncryptionConfiguration=encryption)
        block = _optional(lambda: s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"])
        if block:
            s3.put_public_access_block(Bucket=copy, PublicAccessBlockConfiguration=block)
        policy = _optional(lambda: s3.get_bucket_policy(Bucket=name)["Policy"])
        if policy:
            s3.put_bucket_policy(
                Bucket=copy, Policy=policy.replace(f"arn:aws:s3:::{name}", f"arn:aws:s3:::{copy}")
            )

    # -------------------------------------------------------------- Beanstalk
    def beanstalk(self) -> None:
        eb = self.lab.client("elasticbeanstalk", self.region)
        originals = eb.describe_environments(IncludeDeleted=False)["Environments"]
        want = self.want("beanstalk_environments")
        for suffix, env in plan(originals, total(self.seeded, "beanstalk_environments"), want):
            settings = eb.describe_configuration_settings(
                ApplicationName=env["ApplicationName"], EnvironmentName=env["EnvironmentName"]
            )["ConfigurationSettings"][0]["OptionSettings"]
            tags = eb.list_tags_for_resource(ResourceArn=env["EnvironmentArn"])["ResourceTags"]
            eb.create_environment(
                ApplicationName=env["ApplicationName"],
                EnvironmentName=env["EnvironmentName"] + suffix,
                SolutionStackName=SOLUTION_STACK,
                Tags=renamed(tags, suffix),
                OptionSettings=[
                    {"Namespace": o["Namespace"], "OptionName": o["OptionName"], "Value": o["Value"]}
                    for o in settings
                ],
            )
            self.made["beanstalk_environments"] += 1


def _optional(read: Callable[[], Any]) -> Any:
    """A bucket setting, or None where S3 says it is not set."""
    try:
        return read()
    except Exception as error:  # botocore ClientError: NoSuch..., ...NotFoundError
        if "NoSuch" in str(error) or "NotFound" in str(error):
            return None
        raise


# ---------------------------------------------------------------------- report


def growth_class(before: int, after: int, resource_growth: float, action: str) -> str:
    if before == after:
        return "constant"
    if before == 0 or after / before >= 0.5 * resource_growth:
        return "per resource"
    return "pages" if action in PAGE_SIZES else "grows"


def rows(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per action seen in any run, with both sizes of both playbooks."""
    small, large = figures["census"]["1x"], figures["census"]["grown"]
    runs = figures["runs"]
    actions = sorted({a for run in runs.values() for a in run["calls"]})
    out = []
    for action in actions:
        kind = kind_of(action)
        r1, r10 = total(small, kind), total(large, kind)
        row: dict[str, Any] = {"action": action, "kind": kind, "resources": (r1, r10)}
        for playbook in ("audit", "baseline"):
            c1 = runs[f"{playbook} 1x"]["calls"].get(action, 0)
            c10 = runs[f"{playbook} grown"]["calls"].get(action, 0)
            row[playbook] = (c1, c10, growth_class(c1, c10, r10 / r1 if r1 else 1.0, action))
        out.append(row)
    return out


def print_tables(figures: dict[str, Any]) -> None:
    factor = figures["factor"]
    small, large = figures["census"]["1x"], figures["census"]["grown"]
    runs = figures["runs"]
    print(f"\n### Calls per action, seeded estate (1x) and grown ({factor}x)\n")
    print(
        f"| Action | Reads | Resources 1x | {factor}x | Audit 1x | {factor}x | Audit growth "
        f"| Baseline --check 1x | {factor}x | Baseline growth |"
    )
    print("|---|---|---:|---:|---:|---:|---|---:|---:|---|")
    for row in rows(figures):
        r1, r10 = row["resources"]
        a1, a10, ac = row["audit"]
        b1, b10, bc = row["baseline"]
        print(
            f"| {row['action']} | {row['kind']} | {r1} | {r10} | {a1} | {a10} | {ac} | {b1} | {b10} | {bc} |"
        )
    e1, e10 = estate_size(small), estate_size(large)
    totals = {name: sum(run["calls"].values()) for name, run in runs.items()}
    print(
        f"| **Total** | estate | **{e1}** | **{e10}** "
        f"| **{totals['audit 1x']}** | **{totals['audit grown']}** "
        f"| | **{totals['baseline 1x']}** | **{totals['baseline grown']}** | |"
    )
    print(
        f"| Calls per resource | | | | {totals['audit 1x'] / e1:.2f} | {totals['audit grown'] / e10:.2f} | "
        f"| {totals['baseline 1x'] / e1:.2f} | {totals['baseline grown'] / e10:.2f} | |"
    )
    print(f"\n### List calls: pages moto answered (audit) and pages AWS would answer ({factor}x)\n")
    print(
        f"| Action | Resources {factor}x (per region) | AWS page size "
        f"| moto 1x | moto {factor}x | AWS 1x | AWS {factor}x |"
    )
    print("|---|---|---|---:|---:|---:|---:|")
    for action, (kind, size, note) in PAGE_SIZES.items():
        moto1 = runs["audit 1x"]["calls"].get(action, 0)
        moto10 = runs["audit grown"]["calls"].get(action, 0)
        if not moto1 and not moto10:
            continue
        regions = ", ".join(str(n) for n in large.get(kind, {}).values())
        label = note if size is None else f"{size} ({note})"
        print(
            f"| {action} | {regions} | {label} | {moto1} | {moto10} "
            f"| {aws_pages(small, action)} | {aws_pages(large, action)} |"
        )
    print("\n### Runs\n")
    print("| Run | Wall (s) | Calls | Write calls | Error answers | Failing findings / changed |")
    print("|---|---:|---:|---|---:|---|")
    for name, run in runs.items():
        outcome = (
            f"{run['failing_findings']} failing findings"
            if "failing_findings" in run
            else f"changed={run['changed']}"
        )
        writes = ", ".join(run["writes"]) or "none"
        print(
            f"| {name} | {run['seconds']} | {sum(run['calls'].values())} | {writes} "
            f"| {run['error_answers']} | {outcome} |"
        )
    print("\n### Resources the audit reads\n")
    print(f"| Kind | 1x | {factor}x |")
    print("|---|---:|---:|")
    for kind in sorted(large):
        if kind in ("regions", "account"):
            continue
        note = " (moto's AMI snapshots, not in totals)" if kind == "ec2_snapshots" else ""
        print(f"| {kind}{note} | {total(small, kind)} | {total(large, kind)} |")


def lab_regions() -> list[str]:
    """The regions both playbooks read: the lab inventory's aws_regions."""
    group_vars = yaml.safe_load((ROOT / "inventories" / "lab" / "group_vars" / "all.yml").read_text())
    return list(group_vars["aws_regions"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--factor", type=int, default=10, help="grow each kind to this many times its seeded size"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="careops-economy-"))
    workdir = folder / "work"
    workdir.mkdir()
    figures: dict[str, Any] = {"factor": args.factor, "census": {}, "runs": {}}
    print(f"lab in {folder}", flush=True)
    with start_lab(folder / "lab", f"econ{os.getpid()}", "--no-fleet", "--transition-seconds", "0") as lab:
        regions = lab_regions()
        for size in ("1x", "grown"):
            if size == "grown":
                print(f"growing the estate {args.factor}x", flush=True)
                grow_started = time.monotonic()
                figures["made"] = Grower(lab, figures["census"]["1x"], args.factor).grow()
                figures["grow_seconds"] = round(time.monotonic() - grow_started, 1)
            figures["census"][size] = census(lab, regions)
            print(f"estate {size}: {estate_size(figures['census'][size])} resources", flush=True)
            figures["runs"][f"audit {size}"] = run(lab, workdir, f"audit-{size}", AUDIT, check=False)
            figures["runs"][f"baseline {size}"] = run(lab, workdir, f"baseline-{size}", BASELINE, check=True)
    figures["seconds"] = round(time.monotonic() - started, 1)
    figures["cpus"] = os.cpu_count()
    figures["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print_tables(figures)
    print(f"\nwall {figures['seconds']} s, {figures['cpus']} CPUs, load average {figures['load_average']}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    writes = [name for name, run in figures["runs"].items() if run["writes"]]
    if writes:
        print(f"FAILED: write calls in {', '.join(writes)}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
