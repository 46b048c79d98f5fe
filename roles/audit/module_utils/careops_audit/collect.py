"""Read the estate of an AWS account in one pass: paginated, concurrent, read-only.

The audit needs the same few dozen list calls whatever the size of the estate, then a
bounded number of per-resource detail calls (bucket settings, launch template versions,
Beanstalk option settings). Both phases run on a thread pool, so wall time follows the
slowest call, not the number of resources. Every call here is a Describe, Get or List:
the module that drives this code never writes to AWS, and the lab counts calls to prove it.

A call that fails (access denied, a service not offered in the region) does not stop the
audit: it is recorded in ``errors`` with the region, service and operation, and the
controls that needed it report the gap.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

try:
    import botocore.exceptions
except ImportError:  # pragma: no cover - AnsibleAWSModule reports the missing library
    botocore = None  # type: ignore[assignment]

ClientFactory = Callable[[str, str], Any]

# Services read per region; S3 and STS are read once, from the first region.
REGIONAL_SERVICES = (
    "ec2",
    "autoscaling",
    "rds",
    "logs",
    "cloudtrail",
    "guardduty",
    "securityhub",
    "cloudwatch",
    "elasticbeanstalk",
    "elbv2",
)


@dataclass
class Inventory:
    """Everything the checks read, keyed by region, plus the global parts."""

    account: str = ""
    regions: list[str] = field(default_factory=list)
    data: dict[str, dict[str, Any]] = field(default_factory=dict)
    buckets: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    calls: int = 0

    def get(self, region: str, key: str, default: Any = None) -> Any:
        return self.data.get(region, {}).get(key, default)


def _error_text(error: Exception) -> str:
    if botocore is not None and isinstance(error, botocore.exceptions.ClientError):
        err = error.response.get("Error", {})
        return f"{err.get('Code', 'Error')}: {err.get('Message', '')}".strip()
    return f"{type(error).__name__}: {error}"


class Collector:
    """Runs the read calls of one audit on a thread pool and keeps what they return."""

    def __init__(self, client: ClientFactory, regions: list[str], workers: int = 16) -> None:
        self.client_for = client
        self.regions = regions
        self.workers = max(1, workers)
        self.inventory = Inventory(regions=list(regions))
        self._clients: dict[tuple[str, str], Any] = {}

    # ------------------------------------------------------------------ plumbing
    def _client(self, service: str, region: str) -> Any:
        return self._clients[(service, region)]

    def _prepare_clients(self) -> None:
        # boto3 sessions are not thread-safe while creating clients: create them all first.
        for region in self.regions:
            for service in REGIONAL_SERVICES:
                self._clients[(service, region)] = self.client_for(service, region)
        primary = self.regions[0]
        for service in ("s3", "sts"):
            self._clients[(service, primary)] = self.client_for(service, primary)

    def _call(self, region: str, service: str, operation: str, **kwargs: Any) -> Any:
        """One API call; None and a recorded error if it fails."""
        self.inventory.calls += 1
        try:
            return getattr(self._client(service, region), operation)(**kwargs)
        except Exception as error:
            self._record(region, service, operation, error)
            return None

    def _paginate(
        self, region: str, service: str, operation: str, key: str, **kwargs: Any
    ) -> list[Any] | None:
        """All pages of a list call, or None (and a recorded error) if any page fails."""
        items: list[Any] = []
        try:
            paginator = self._client(service, region).get_paginator(operation)
            for page in paginator.paginate(**kwargs):
                self.inventory.calls += 1
                items.extend(page.get(key, []))
        except Exception as error:
            self._record(region, service, operation, error)
            return None
        return items

    def _record(self, region: str, service: str, operation: str, error: Exception) -> None:
        self.inventory.errors.append(
            {"region": region, "service": service, "operation": operation, "error": _error_text(error)}
        )

    def _run(self, jobs: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> None:
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for future in [pool.submit(func, *args) for func, args in jobs]:
                future.result()

    def _put(self, region: str, key: str, value: Any) -> None:
        self.inventory.data.setdefault(region, {})[key] = value

    # ------------------------------------------------------------------ entry point
    def collect(self, imds_usage_days: int = 0) -> Inventory:
        """Read the whole estate: list calls first, then detail calls, both concurrent."""
        self._prepare_clients()
        for region in self.regions:
            self.inventory.data[region] = {}
        identity = self._call(self.regions[0], "sts", "get_caller_identity")
        self.inventory.account = (identity or {}).get("Account", "")
        first: list[tuple[Callable[..., Any], tuple[Any, ...]]] = [(self._list_buckets, ())]
        for region in self.regions:
            first += [(func, (region,)) for func in self._list_jobs()]
        self._run(first)
        second: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        for bucket in self.inventory.buckets:
            second.append((self._bucket_details, (bucket,)))
        for region in self.regions:
            if self.inventory.get(region, "launch_templates"):
                second.append((self._template_versions, (region,)))
            for env in self.inventory.get(region, "beanstalk") or []:
                second.append((self._beanstalk_details, (region, env)))
            for trail in self.inventory.get(region, "trails") or []:
                second.append((self._trail_status, (region, trail)))
            for detector in self.inventory.get(region, "guardduty_detector_ids") or []:
                second.append((self._detector, (region, detector)))
            second.append((self._elb_tags, (region,)))
            if imds_usage_days > 0:
                for instance in self.inventory.get(region, "instances") or []:
                    if instance.get("MetadataOptions", {}).get("HttpTokens") != "required":
                        second.append((self._imds_usage, (region, instance, imds_usage_days)))
        self._run(second)
        return self.inventory

    def _list_jobs(self) -> list[Callable[[str], None]]:
        return [
            self._instances,
            self._launch_templates,
            self._security_groups,
            self._volumes,
            self._snapshots,
            self._ec2_account,
            self._imds_defaults,
            self._asgs,
            self._launch_configurations,
            self._databases,
            self._db_snapshots,
            self._log_groups,
            self._trails,
            self._guardduty,
            self._security_hub,
            self._alarms,
            self._dashboards,
            self._beanstalk,
            self._load_balancers,
            self._target_groups,
        ]

    # ------------------------------------------------------------------ EC2
    def _instances(self, region: str) -> None:
        reservations = self._paginate(
            region,
            "ec2",
            "describe_instances",
            "Reservations",
            Filters=[
                {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}
            ],
        )
        if reservations is not None:
            instances = [i for r in reservations for i in r.get("Instances", [])]
            self._put(region, "instances", instances)

    def _launch_templates(self, region: str) -> None:
        templates = self._paginate(region, "ec2", "describe_launch_templates", "LaunchTemplates")
        self._put(region, "launch_templates", templates)

    def _template_versions(self, region: str) -> None:
        """The default and latest version of every launch template of the region, in pages.

        Without a template ID, DescribeLaunchTemplateVersions answers ``$Default`` and
        ``$Latest`` for all the account's templates: one call per page of 200 versions, where
        asking template by template would cost one call per template.
        """
        versions = self._paginate(
            region,
            "ec2",
            "describe_launch_template_versions",
            "LaunchTemplateVersions",
            Versions=["$Default", "$Latest"],
            PaginationConfig={"PageSize": 200},  # the API's maximum; it documents no default
        )
        if versions is None:
            return
        by_template: dict[str, dict[Any, dict[str, Any]]] = {}
        for version in versions:
            # A template whose default is its latest version is listed once for each.
            numbered = by_template.setdefault(version.get("LaunchTemplateId", ""), {})
            numbered[version.get("VersionNumber")] = version
        for template in self.inventory.get(region, "launch_templates") or []:
            template["Versions"] = list(by_template.get(template["LaunchTemplateId"], {}).values())

    def _security_groups(self, region: str) -> None:
        self._put(
            region,
            "security_groups",
            self._paginate(region, "ec2", "describe_security_groups", "SecurityGroups"),
        )

    def _volumes(self, region: str) -> None:
        self._put(region, "volumes", self._paginate(region, "ec2", "describe_volumes", "Volumes"))

    def _snapshots(self, region: str) -> None:
        self._put(
            region,
            "snapshots",
            self._paginate(region, "ec2", "describe_snapshots", "Snapshots", OwnerIds=["self"]),
        )

    def _ec2_account(self, region: str) -> None:
        reply = self._call(region, "ec2", "get_ebs_encryption_by_default")
        if reply is not None:
            self._put(region, "ebs_encryption_by_default", bool(reply.get("EbsEncryptionByDefault")))

    def _imds_defaults(self, region: str) -> None:
        reply = self._call(region, "ec2", "get_instance_metadata_defaults")
        if reply is not None:
            self._put(region, "imds_defaults", reply.get("AccountLevel") or {})

    def _imds_usage(self, region: str, instance: dict[str, Any], days: int) -> None:
        end = dt.datetime.now(dt.UTC)
        reply = self._call(
            region,
            "cloudwatch",
            "get_metric_statistics",
            Namespace="AWS/EC2",
            MetricName="MetadataNoToken",
            Dimensions=[{"Name": "InstanceId", "Value": instance["InstanceId"]}],
            StartTime=end - dt.timedelta(days=days),
            EndTime=end,
            Period=86400,
            Statistics=["Sum"],
        )
        if reply is not None:
            instance["ImdsV1Calls"] = int(sum(p.get("Sum", 0) for p in reply.get("Datapoints", [])))

    # ------------------------------------------------------------------ Auto Scaling
    def _asgs(self, region: str) -> None:
        self._put(
            region,
            "asgs",
            self._paginate(region, "autoscaling", "describe_auto_scaling_groups", "AutoScalingGroups"),
        )

    def _launch_configurations(self, region: str) -> None:
        self._put(
            region,
            "launch_configurations",
            self._paginate(region, "autoscaling", "describe_launch_configurations", "LaunchConfigurations"),
        )

    # ------------------------------------------------------------------ RDS
    def _databases(self, region: str) -> None:
        self._put(region, "databases", self._paginate(region, "rds", "describe_db_instances", "DBInstances"))

    def _db_snapshots(self, region: str) -> None:
        self._put(
            region,
            "db_snapshots",
            self._paginate(region, "rds", "describe_db_snapshots", "DBSnapshots", SnapshotType="manual"),
        )

    # ------------------------------------------------------------------ logs, trail, detectors
    def _log_groups(self, region: str) -> None:
        self._put(region, "log_groups", self._paginate(region, "logs", "describe_log_groups", "logGroups"))

    def _trails(self, region: str) -> None:
        reply = self._call(region, "cloudtrail", "describe_trails", includeShadowTrails=False)
        if reply is not None:
            self._put(region, "trails", reply.get("trailList", []))

    def _trail_status(self, region: str, trail: dict[str, Any]) -> None:
        reply = self._call(region, "cloudtrail", "get_trail_status", Name=trail["TrailARN"])
        if reply is not None:
            trail["IsLogging"] = bool(reply.get("IsLogging"))

    def _guardduty(self, region: str) -> None:
        ids = self._paginate(region, "guardduty", "list_detectors", "DetectorIds")
        self._put(region, "guardduty_detector_ids", ids)
        self._put(region, "guardduty_detectors", {} if ids is not None else None)

    def _detector(self, region: str, detector_id: str) -> None:
        reply = self._call(region, "guardduty", "get_detector", DetectorId=detector_id)
        if reply is not None:
            self.inventory.data[region]["guardduty_detectors"][detector_id] = reply.get("Status")

    def _security_hub(self, region: str) -> None:
        try:
            self.inventory.calls += 1
            self._client("securityhub", region).describe_hub()
            self._put(region, "security_hub", True)
        except Exception as error:
            code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
            if code in ("InvalidAccessException", "ResourceNotFoundException"):
                self._put(region, "security_hub", False)
            else:
                self._record(region, "securityhub", "describe_hub", error)

    # ------------------------------------------------------------------ CloudWatch
    def _alarms(self, region: str) -> None:
        self._put(
            region,
            "alarms",
            self._paginate(
                region, "cloudwatch", "describe_alarms", "MetricAlarms", AlarmTypes=["MetricAlarm"]
            ),
        )

    def _dashboards(self, region: str) -> None:
        self._put(
            region,
            "dashboards",
            self._paginate(region, "cloudwatch", "list_dashboards", "DashboardEntries"),
        )

    # ------------------------------------------------------------------ Beanstalk
    def _beanstalk(self, region: str) -> None:
        reply = self._call(region, "elasticbeanstalk", "describe_environments", IncludeDeleted=False)
        if reply is not None:
            self._put(region, "beanstalk", reply.get("Environments", []))

    def _beanstalk_details(self, region: str, env: dict[str, Any]) -> None:
        settings = self._call(
            region,
            "elasticbeanstalk",
            "describe_configuration_settings",
            ApplicationName=env["ApplicationName"],
            EnvironmentName=env["EnvironmentName"],
        )
        if settings is not None:
            options: dict[str, str] = {}
            for config in settings.get("ConfigurationSettings", []):
                for item in config.get("OptionSettings", []):
                    options[f"{item.get('Namespace')}:{item.get('OptionName')}"] = str(item.get("Value"))
            env["Options"] = options
        if env.get("EnvironmentArn"):
            tags = self._call(
                region, "elasticbeanstalk", "list_tags_for_resource", ResourceArn=env["EnvironmentArn"]
            )
            if tags is not None:
                env["Tags"] = tags.get("ResourceTags", [])

    # ------------------------------------------------------------------ load balancers
    def _load_balancers(self, region: str) -> None:
        self._put(
            region,
            "load_balancers",
            self._paginate(region, "elbv2", "describe_load_balancers", "LoadBalancers"),
        )

    def _target_groups(self, region: str) -> None:
        self._put(
            region,
            "target_groups",
            self._paginate(region, "elbv2", "describe_target_groups", "TargetGroups"),
        )

    def _elb_tags(self, region: str) -> None:
        arns = [lb["LoadBalancerArn"] for lb in self.inventory.get(region, "load_balancers") or []]
        tags: dict[str, list[dict[str, str]]] = {}
        for start in range(0, len(arns), 20):
            reply = self._call(region, "elbv2", "describe_tags", ResourceArns=arns[start : start + 20])
            for item in (reply or {}).get("TagDescriptions", []):
                tags[item["ResourceArn"]] = item.get("Tags", [])
        for lb in self.inventory.get(region, "load_balancers") or []:
            lb["Tags"] = tags.get(lb["LoadBalancerArn"], [])

    # ------------------------------------------------------------------ S3
    def _list_buckets(self) -> None:
        # Paginated, as AWS asks (an unpaginated ListBuckets is refused above a 10,000-bucket
        # quota); a paginated answer also names each bucket's region, which saves a
        # GetBucketLocation per bucket.
        buckets = self._paginate(
            self.regions[0], "s3", "list_buckets", "Buckets", PaginationConfig={"PageSize": 1000}
        )
        if buckets is not None:
            self.inventory.buckets = [
                {"Name": b["Name"], **({"Region": b["BucketRegion"]} if b.get("BucketRegion") else {})}
                for b in buckets
            ]

    def _bucket_details(self, bucket: dict[str, Any]) -> None:
        region0 = self.regions[0]
        name = bucket["Name"]
        if "Region" not in bucket:
            location = self._call(region0, "s3", "get_bucket_location", Bucket=name)
            if location is None:
                return
            bucket["Region"] = location.get("LocationConstraint") or "us-east-1"
        if bucket["Region"] not in self.regions:
            return
        bucket["Tags"] = self._optional_s3(name, "get_bucket_tagging", "NoSuchTagSet", "TagSet", [])
        bucket["Encryption"] = self._optional_s3(
            name,
            "get_bucket_encryption",
            "ServerSideEncryptionConfigurationNotFoundError",
            "ServerSideEncryptionConfiguration",
            {},
        )
        bucket["PublicAccessBlock"] = self._optional_s3(
            name,
            "get_public_access_block",
            "NoSuchPublicAccessBlockConfiguration",
            "PublicAccessBlockConfiguration",
            {},
        )
        bucket["Policy"] = self._optional_s3(name, "get_bucket_policy", "NoSuchBucketPolicy", "Policy", "")
        versioning = self._call(region0, "s3", "get_bucket_versioning", Bucket=name)
        bucket["Versioning"] = (versioning or {}).get("Status", "Disabled")

    def _optional_s3(self, bucket: str, operation: str, absent: str, key: str, empty: Any) -> Any:
        """A bucket setting, its empty value when AWS says it is not set, None when unreadable."""
        self.inventory.calls += 1
        try:
            return getattr(self._client("s3", self.regions[0]), operation)(Bucket=bucket).get(key, empty)
        except Exception as error:
            code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
            if code == absent:
                return empty
            self._record(self.regions[0], "s3", f"{operation} {bucket}", error)
            return None
