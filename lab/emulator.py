"""The lab's AWS emulator: moto server plus the AWS behaviours the runbooks depend on.

moto answers nearly every call careops makes, but it differs from AWS where a runbook's
safety checks live: it restores to any point in time, ignores a forced failover, makes every
resource available at once and has no account-level IMDS defaults. A rehearsal on such an
emulator proves nothing about the checks that matter at 3 a.m., so this module patches moto
in-process (the server runs in this same process) to behave like AWS there:

- point-in-time restores outside the source's restorable window are refused, as are restores
  of instances without automated backups; automated backups report their ``RestoreWindow``;
- ``RebootDBInstance`` with ``ForceFailover`` moves a Multi-AZ primary to its secondary AZ and
  emits failover events, and is refused for a single-AZ instance;
- ``FailoverDBCluster`` moves an Aurora cluster's writer to a reader in another AZ, shows the
  cluster ``failing-over`` for the transition time, emits cluster events, and is refused for a
  cluster with one member or one that is not available; cluster endpoints resolve to the lab's
  PostgreSQL like instance endpoints do;
- every RDS instance has its own DbiResourceId (moto gives all the same one);
- gp3 instances report their baseline IOPS and throughput, and EBS volumes an empty SnapshotId
  when not made from a snapshot, as AWS does (amazon.aws modules read both);
- RDS instances and snapshots pass through ``creating``/``modifying``/``rebooting``/``renaming``
  for a configurable time before they are ``available``; cluster snapshots ``creating`` and
  snapshot copies ``pending`` likewise;
- a cross-region copy of an encrypted DB or cluster snapshot without a KMS key of the
  destination region is refused, as AWS refuses it;
- ``Get/ModifyInstanceMetadataDefaults`` keep per-region account defaults;
- ``DescribeLaunchTemplates`` and ``DescribeLaunchTemplateVersions`` page with ``NextToken``
  as AWS does (moto cuts the answer at ``MaxResults``, 15 by default, and says nothing more);
- ``ListBuckets`` pages with ``MaxBuckets`` and ``ContinuationToken`` and names each bucket's
  ``BucketRegion``, as AWS does (moto cuts at ``MaxBuckets`` with no token and no region);
- Elastic Beanstalk environments keep their option settings (CreateEnvironment,
  UpdateEnvironment, DescribeConfigurationSettings), which moto drops;
- new S3 buckets get SSE-S3 default encryption, as AWS applies since January 2023, and
  deleting a bucket's encryption configuration returns it to SSE-S3.

Every behaviour is listed in docs/lab.md. Nothing here is imported by playbooks or roles.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import elastic_block_store as ec2_ebs_models
from moto.ec2.responses import EC2Response
from moto.elasticbeanstalk.exceptions import InvalidParameterValueError
from moto.elasticbeanstalk.responses import EBResponse
from moto.rds import models as rds_models
from moto.rds.exceptions import DBClusterNotFoundError, RDSClientError
from moto.rds.responses import RDSResponse
from moto.s3 import exceptions as s3_exceptions
from moto.s3 import models as s3_models
from moto.s3.responses import S3Response

LOG = logging.getLogger("lab.emulator")

SSE_S3_DEFAULT = {
    "Rule": {
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
        "BucketKeyEnabled": "false",
    }
}


@dataclass
class LabSettings:
    """Knobs of the emulated behaviours; changed at run time through ``/lab-api/settings``."""

    # Seconds a resource spends in a transitional state. AWS takes minutes; tests want seconds.
    transition_seconds: float = 2.0
    # Called after an instance is restored (source id, target id, restore point) so the lab
    # can give the new instance its own copy of the data as of that point.
    on_restore: Callable[[str, str, dt.datetime], str | None] | None = None
    # Called with (instance id, seconds) when an instance reboots, so connections fail then.
    on_reboot: Callable[[str, float], None] | None = None
    # Host and port that every DB instance endpoint resolves to (the lab's PostgreSQL).
    db_endpoint: tuple[str, int] | None = None
    instance_metadata_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)


SETTINGS = LabSettings()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime | str) -> dt.datetime:
    """moto hands times over as naive UTC datetimes or ISO strings; compare them as aware."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _client_error(code: str, message: str) -> RDSClientError:
    return RDSClientError(code, message)


# --------------------------------------------------------------------------- transitions


def _busy(resource: Any, status: str, seconds: float | None = None) -> None:
    """Show ``status`` for a while, then the resource's settled status again."""
    seconds = SETTINGS.transition_seconds if seconds is None else seconds
    if seconds <= 0:
        return
    resource.__dict__["lab_busy_status"] = status
    resource.__dict__["lab_busy_until"] = time.monotonic() + seconds


def _status_property() -> property:
    def getter(self: Any) -> str:
        until = self.__dict__.get("lab_busy_until")
        if until is not None and time.monotonic() < until:
            return self.__dict__["lab_busy_status"]
        return self.__dict__.get("lab_status", "available")

    def setter(self: Any, value: str) -> None:
        self.__dict__["lab_status"] = value

    return property(getter, setter)


def _require_available(database: Any) -> None:
    if database.status != "available":
        raise _client_error(
            "InvalidDBInstanceState",
            f"DB instance {database.db_instance_identifier} is {database.status}, not available.",
        )


# --------------------------------------------------------------------------- RDS instances

_DBI_ALPHABET = string.ascii_uppercase + string.digits
_LAB_KEYS = ("lab_status", "lab_busy_status", "lab_busy_until", "lab_created_at")


def _patch_db_instance() -> None:
    cls = rds_models.DBInstance
    original_init = cls.__init__

    def __init__(self: Any, backend: Any, **kwargs: Any) -> None:  # noqa: N807
        for key in _LAB_KEYS:
            kwargs.pop(key, None)
        kwargs.pop("secondary_availability_zone", None)
        original_init(self, backend, **kwargs)
        self.__dict__["lab_created_at"] = _utcnow()
        if SETTINGS.db_endpoint is not None:
            self.port = SETTINGS.db_endpoint[1]
        self.secondary_availability_zone = _secondary_az(self) if self.multi_az else None
        # moto gives every instance the same DbiResourceId; AWS gives each its own, and it survives
        # renames, which is how a cut-over proves which instance now serves a name.
        self.dbi_resource_id = "db-" + "".join(secrets.choice(_DBI_ALPHABET) for _ in range(26))
        if self.storage_type == "gp3":
            # AWS reports gp3's baseline (3,000 IOPS and 125 MiB/s below 400 GiB); moto leaves
            # both unset, and amazon.aws.rds_instance reads both on every modify (rename, tags).
            self.iops = self.iops or 3000
            self.storage_throughput = self.storage_throughput or 125

    cls.__init__ = __init__
    cls.status = _status_property()

    def address(self: Any) -> str:
        if SETTINGS.db_endpoint is not None:
            return SETTINGS.db_endpoint[0]
        return f"{self.db_instance_identifier}.lab.{self.region}.rds.amazonaws.com"

    cls.address = property(address)

    def latest_restorable_time(self: Any) -> dt.datetime | None:
        if not self.backup_retention_period:
            return None
        return _utcnow().replace(microsecond=0)

    cls.latest_restorable_time = property(latest_restorable_time)

    original_update = cls.update

    def update(self: Any, **kwargs: Any) -> None:
        original_update(self, **kwargs)
        self.secondary_availability_zone = (
            (getattr(self, "secondary_availability_zone", None) or _secondary_az(self))
            if self.multi_az
            else None
        )

    cls.update = update


def earliest_restorable_time(database: Any) -> dt.datetime | None:
    """Start of the restorable window: creation, or the retention period back from now."""
    if not database.backup_retention_period:
        return None
    horizon = _utcnow() - dt.timedelta(days=int(database.backup_retention_period))
    return max(database.__dict__["lab_created_at"], horizon).replace(microsecond=0)


def _secondary_az(database: Any) -> str:
    """Another AZ of the instance's subnet group, as AWS picks for a Multi-AZ standby."""
    zones: list[str] = []
    group = getattr(database, "db_subnet_group", None)
    for subnet in getattr(group, "subnets", []) or []:
        zone = getattr(subnet, "availability_zone", None)
        if zone and zone not in zones:
            zones.append(zone)
    others = [zone for zone in zones if zone != database.availability_zone]
    if others:
        return others[0]
    return f"{database.region}b" if not database.availability_zone.endswith("b") else f"{database.region}a"


def _patch_automated_backups() -> None:
    def restore_window(self: Any) -> dict[str, dt.datetime] | None:
        database = self.backend.databases.get(self.db_instance_identifier)
        if database is None or not database.backup_retention_period:
            return None
        return {
            "EarliestTime": earliest_restorable_time(database),
            "LatestTime": database.latest_restorable_time,
        }

    rds_models.DBInstanceAutomatedBackup.restore_window = property(restore_window)


def _patch_backend() -> None:
    backend_cls = rds_models.RDSBackend

    original_create = backend_cls.create_db_instance

    def create_db_instance(self: Any, db_kwargs: dict[str, Any]) -> Any:
        database = original_create(self, db_kwargs)
        _busy(database, "creating")
        return database

    backend_cls.create_db_instance = create_db_instance

    original_modify = backend_cls.modify_db_instance

    def modify_db_instance(self: Any, db_instance_identifier: str, db_kwargs: dict[str, Any]) -> Any:
        _require_available(self.describe_db_instances(db_instance_identifier)[0])
        renaming = db_kwargs.get("new_db_instance_identifier") not in (None, db_instance_identifier)
        database = original_modify(self, db_instance_identifier, db_kwargs)
        _busy(database, "renaming" if renaming else "modifying")
        return database

    backend_cls.modify_db_instance = modify_db_instance

    original_pitr = backend_cls.restore_db_instance_to_point_in_time

    def restore_db_instance_to_point_in_time(
        self: Any, source_db_identifier: str, target_db_identifier: str, overrides: dict[str, Any]
    ) -> Any:
        source = self.describe_db_instances(db_instance_identifier=source_db_identifier)[0]
        restore_point = _validate_restore_point(source, overrides)
        overrides = {
            k: v for k, v in overrides.items() if k not in ("restore_time", "use_latest_restorable_time")
        }
        target = original_pitr(self, source_db_identifier, target_db_identifier, overrides)
        _after_restore(target, source_db_identifier, restore_point)
        return target

    backend_cls.restore_db_instance_to_point_in_time = restore_db_instance_to_point_in_time

    original_from_snapshot = backend_cls.restore_db_instance_from_db_snapshot

    def restore_db_instance_from_db_snapshot(
        self: Any, from_snapshot_id: str, overrides: dict[str, Any]
    ) -> Any:
        target = original_from_snapshot(self, from_snapshot_id, overrides)
        name = from_snapshot_id.rsplit(":", 1)[-1]
        snapshot = self.describe_db_snapshots(db_instance_identifier=None, db_snapshot_identifier=name)[0]
        _after_restore(target, snapshot.database.db_instance_identifier, _aware(snapshot.created))
        return target

    backend_cls.restore_db_instance_from_db_snapshot = restore_db_instance_from_db_snapshot

    original_snapshot = backend_cls.create_db_snapshot

    def create_db_snapshot(self: Any, *args: Any, **kwargs: Any) -> Any:
        identifier = kwargs.get("db_instance_identifier") or (args[0] if args else None)
        manual = kwargs.get("snapshot_type", "manual") == "manual"
        if manual and identifier in self.databases:
            _require_available(self.databases[identifier])
        snapshot = original_snapshot(self, *args, **kwargs)
        if manual:
            _busy(snapshot, "creating")
        return snapshot

    backend_cls.create_db_snapshot = create_db_snapshot
    rds_models.DBSnapshot.status = _status_property()

    original_delete = backend_cls.delete_db_instance

    def delete_db_instance(self: Any, *args: Any, **kwargs: Any) -> Any:
        identifier = kwargs.get("db_instance_identifier") or (args[0] if args else None)
        database = self.databases.get(identifier)
        if database is not None and database.deletion_protection:
            raise _client_error(
                "InvalidParameterCombination",
                "Cannot delete protected DB Instance, please disable deletion protection and try again.",
            )
        return original_delete(self, *args, **kwargs)

    backend_cls.delete_db_instance = delete_db_instance


def _validate_restore_point(source: Any, overrides: dict[str, Any]) -> dt.datetime:
    """Refuse what AWS refuses: no backups, both or neither time options, outside the window."""
    if not source.backup_retention_period:
        raise _client_error(
            "InvalidDBInstanceState",
            f"Automated backups are not enabled for {source.db_instance_identifier}; "
            "point-in-time restore is not possible.",
        )
    restore_time = overrides.get("restore_time")
    use_latest = str(overrides.get("use_latest_restorable_time", "")).lower() == "true"
    if restore_time and use_latest:
        raise _client_error(
            "InvalidParameterCombination",
            "Cannot specify both RestoreTime and UseLatestRestorableTime.",
        )
    latest = source.latest_restorable_time
    if use_latest:
        return latest
    if not restore_time:
        raise _client_error(
            "InvalidParameterCombination", "Either RestoreTime or UseLatestRestorableTime is required."
        )
    point = _aware(restore_time)
    earliest = earliest_restorable_time(source)
    if point < earliest or point > latest:
        raise _client_error(
            "InvalidRestoreFault",
            f"Restore time {point.isoformat()} is outside the restorable window of "
            f"{source.db_instance_identifier} ({earliest.isoformat()} to {latest.isoformat()}).",
        )
    return point


def _after_restore(target: Any, source_id: str, restore_point: dt.datetime) -> None:
    _busy(target, "creating")
    target.__dict__["lab_restore_point"] = restore_point
    if SETTINGS.on_restore is not None:
        db_name = SETTINGS.on_restore(source_id, target.db_instance_identifier, restore_point)
        if db_name:
            target.db_name = db_name


# --------------------------------------------------------------------------- failover

_FAILOVER_EVENTS = {
    "DB_INSTANCE_REBOOT": {"Categories": ["availability"], "Message": "DB instance restarted"},
    "DB_INSTANCE_FAILOVER_START": {
        "Categories": ["failover"],
        "Message": "Multi-AZ instance failover started.",
    },
    "DB_INSTANCE_FAILOVER_FINISH": {
        "Categories": ["failover"],
        "Message": "Multi-AZ instance failover completed.",
    },
}


def reboot(backend: Any, identifier: str, force_failover: bool) -> Any:
    """RebootDBInstance as AWS does it, including the failover that moto ignores."""
    database = backend.describe_db_instances(db_instance_identifier=identifier)[0]
    _require_available(database)
    if force_failover and not database.multi_az:
        raise _client_error(
            "InvalidParameterCombination",
            f"{identifier} is not a Multi-AZ instance; ForceFailover cannot be used.",
        )
    if force_failover:
        database.add_event("DB_INSTANCE_FAILOVER_START")
        primary, standby = database.availability_zone, database.secondary_availability_zone
        database.availability_zone, database.secondary_availability_zone = standby, primary
        database.add_event("DB_INSTANCE_FAILOVER_FINISH")
        LOG.info("failover of %s: primary moved from %s to %s", identifier, primary, standby)
    database.add_event("DB_INSTANCE_REBOOT")
    _busy(database, "rebooting")
    if SETTINGS.on_reboot is not None:
        SETTINGS.on_reboot(identifier, SETTINGS.transition_seconds)
    return database


def _patch_reboot() -> None:
    rds_models.Event.EVENT_MAP.update(_FAILOVER_EVENTS)

    def reboot_db_instance(self: Any) -> ActionResult:
        identifier = self.params.get("DBInstanceIdentifier")
        force = str(self.params.get("ForceFailover", "false")).lower() == "true"
        return ActionResult({"DBInstance": reboot(self.backend, identifier, force)})

    RDSResponse.reboot_db_instance = reboot_db_instance


# --------------------------------------------------------------------------- Aurora clusters

_CLUSTER_EVENTS = {
    "DB_CLUSTER_FAILOVER_STARTED": {
        "Categories": ["failover"],
        "Message": "Started cross AZ failover to DB instance: {target}",
    },
    "DB_CLUSTER_FAILOVER_COMPLETED": {
        "Categories": ["failover"],
        "Message": "Completed failover to DB instance: {target}",
    },
}


def _cluster_status_property() -> property:
    """moto shows a new cluster ``creating`` once and then ``available``; the lab holds each
    transitional state for the transition time instead, as it does for instances."""

    def getter(self: Any) -> str:
        until = self.__dict__.get("lab_busy_until")
        if until is not None and time.monotonic() < until:
            return self.__dict__["lab_busy_status"]
        status = self.__dict__.get("_status", "available")
        return "available" if status == "creating" else status

    def setter(self: Any, value: str) -> None:
        self.__dict__["_status"] = value

    return property(getter, setter)


def _add_cluster_event(cluster: Any, event_type: str, target: str) -> None:
    """A cluster event whose message names the new writer, as AWS's do."""
    event = rds_models.Event(event_type, cluster)
    event.message = event.message.format(target=target)
    cluster.backend.events.append(event)


def failover_cluster(backend: Any, identifier: str, target_id: str | None) -> Any:
    """FailoverDBCluster as AWS does it: the writer moves to a healthy reader, preferably in
    another AZ; the cluster is ``failing-over`` meanwhile and its database drops connections."""
    cluster = backend.clusters.get(identifier)
    if cluster is None:
        raise DBClusterNotFoundError(identifier)
    if cluster.status != "available":
        raise _client_error(
            "InvalidDBClusterStateFault", f"DB cluster {identifier} is {cluster.status}, not available."
        )
    members = cluster.members
    writer = cluster.writer
    readers = [m for m in members if m is not writer and m.status == "available"]
    if target_id is not None:
        readers = [m for m in readers if m.db_instance_identifier == target_id]
        if not readers:
            raise _client_error(
                "InvalidParameterValue",
                f"{target_id} is not an available reader of DB cluster {identifier}.",
            )
    if len(members) < 2 or not readers:
        raise _client_error(
            "InvalidDBClusterStateFault",
            f"DB cluster {identifier} has no available reader to fail over to "
            f"({len(members)} member(s)); add a reader first.",
        )
    before = writer.availability_zone if writer is not None else None
    readers.sort(key=lambda m: (m.availability_zone == before, m.promotion_tier))
    target = readers[0]
    _add_cluster_event(cluster, "DB_CLUSTER_FAILOVER_STARTED", target.db_instance_identifier)
    cluster.failover(target)
    _add_cluster_event(cluster, "DB_CLUSTER_FAILOVER_COMPLETED", target.db_instance_identifier)
    LOG.info(
        "failover of cluster %s: writer %s (%s) -> %s (%s)",
        identifier,
        writer.db_instance_identifier if writer is not None else None,
        before,
        target.db_instance_identifier,
        target.availability_zone,
    )
    _busy(cluster, "failing-over")
    for member in (writer, target):
        if member is not None:
            _busy(member, "rebooting")
    if SETTINGS.on_reboot is not None:
        SETTINGS.on_reboot(identifier, SETTINGS.transition_seconds)
    return cluster


def _patch_clusters() -> None:
    rds_models.Event.EVENT_MAP.update(_CLUSTER_EVENTS)
    cls = rds_models.DBCluster
    cls.event_source_type = "db-cluster"
    cls.status = _cluster_status_property()

    def endpoint(self: Any) -> str:
        if SETTINGS.db_endpoint is not None:
            return SETTINGS.db_endpoint[0]
        return f"{self.db_cluster_identifier}.cluster-lab.{self.region}.rds.amazonaws.com"

    def reader_endpoint(self: Any) -> str:
        if SETTINGS.db_endpoint is not None:
            return SETTINGS.db_endpoint[0]
        return f"{self.db_cluster_identifier}.cluster-ro-lab.{self.region}.rds.amazonaws.com"

    cls.endpoint = property(endpoint)
    cls.reader_endpoint = property(reader_endpoint)

    backend_cls = rds_models.RDSBackend
    original_create = backend_cls.create_db_cluster

    def create_db_cluster(self: Any, kwargs: dict[str, Any]) -> Any:
        cluster = original_create(self, kwargs)
        if SETTINGS.db_endpoint is not None:
            cluster.port = SETTINGS.db_endpoint[1]
        _busy(cluster, "creating")
        return cluster

    backend_cls.create_db_cluster = create_db_cluster

    def failover_db_cluster(
        self: Any, db_cluster_identifier: str, target_db_instance_identifier: str | None = None
    ) -> Any:
        return failover_cluster(self, db_cluster_identifier, target_db_instance_identifier)

    backend_cls.failover_db_cluster = failover_db_cluster


# --------------------------------------------------------------------------- snapshot copies


def _cross_region_source(backend: Any, source: str) -> str | None:
    """The source snapshot's region when it is given as an ARN of another region."""
    if source.startswith("arn:"):
        region = source.split(":")[3]
        if region != backend.region_name:
            return region
    return None


def _refuse_copy_without_destination_key(backend: Any, source: Any, source_id: str, kms_key_id: Any) -> None:
    region = _cross_region_source(backend, source_id)
    if region and kms_key_id is None and getattr(source, "encrypted", False):
        raise _client_error(
            "InvalidParameterValue",
            f"Copying encrypted snapshot {source_id} from {region} to {backend.region_name} needs KmsKeyId, "
            f"a KMS key of {backend.region_name}.",
        )


def _patch_snapshot_copies() -> None:
    backend_cls = rds_models.RDSBackend
    rds_models.DBClusterSnapshot.status = _status_property()

    original_copy = backend_cls.copy_db_snapshot

    def copy_db_snapshot(
        self: Any, source_db_snapshot_identifier: str, target_db_snapshot_identifier: str, **kwargs: Any
    ) -> Any:
        source = self.get_db_snapshot(source_db_snapshot_identifier)
        _refuse_copy_without_destination_key(
            self, source, source_db_snapshot_identifier, kwargs.get("kms_key_id")
        )
        snapshot = original_copy(self, source_db_snapshot_identifier, target_db_snapshot_identifier, **kwargs)
        _busy(snapshot, "pending")
        return snapshot

    backend_cls.copy_db_snapshot = copy_db_snapshot

    original_cluster_copy = backend_cls.copy_db_cluster_snapshot

    def copy_db_cluster_snapshot(
        self: Any,
        source_db_cluster_snapshot_identifier: str,
        target_db_cluster_snapshot_identifier: str,
        **kwargs: Any,
    ) -> Any:
        source = self.get_db_cluster_snapshot(source_db_cluster_snapshot_identifier)
        _refuse_copy_without_destination_key(
            self, source, source_db_cluster_snapshot_identifier, kwargs.get("kms_key_id")
        )
        snapshot = original_cluster_copy(
            self, source_db_cluster_snapshot_identifier, target_db_cluster_snapshot_identifier, **kwargs
        )
        _busy(snapshot, "pending")
        return snapshot

    backend_cls.copy_db_cluster_snapshot = copy_db_cluster_snapshot

    original_cluster_snapshot = backend_cls.create_db_cluster_snapshot

    def create_db_cluster_snapshot(self: Any, *args: Any, **kwargs: Any) -> Any:
        snapshot = original_cluster_snapshot(self, *args, **kwargs)
        if snapshot.snapshot_type == "manual":
            _busy(snapshot, "creating")
        return snapshot

    backend_cls.create_db_cluster_snapshot = create_db_cluster_snapshot


# --------------------------------------------------------------------------- EC2 IMDS defaults


def _patch_imds_defaults() -> None:
    def get_instance_metadata_defaults(self: Any) -> ActionResult:
        account_level = SETTINGS.instance_metadata_defaults.get(self.region, {})
        return ActionResult({"AccountLevel": dict(account_level)})

    def modify_instance_metadata_defaults(self: Any) -> ActionResult:
        self.error_on_dryrun()
        current = SETTINGS.instance_metadata_defaults.setdefault(self.region, {})
        for param, key in (
            ("HttpTokens", "HttpTokens"),
            ("HttpPutResponseHopLimit", "HttpPutResponseHopLimit"),
            ("HttpEndpoint", "HttpEndpoint"),
            ("InstanceMetadataTags", "InstanceMetadataTags"),
        ):
            value = self._get_param(param)
            if value in (None, ""):
                continue
            # AWS spells "no preference" as a word for strings and as -1 for the hop limit.
            if value in ("no-preference", "-1", -1):
                current.pop(key, None)
            else:
                current[key] = int(value) if key == "HttpPutResponseHopLimit" else value
        return ActionResult({"Return": True})

    EC2Response.get_instance_metadata_defaults = get_instance_metadata_defaults
    EC2Response.modify_instance_metadata_defaults = modify_instance_metadata_defaults


# --------------------------------------------------------------------------- S3 encryption


def _patch_s3_default_encryption() -> None:
    backend_cls = s3_models.S3Backend
    original_create = backend_cls.create_bucket

    def create_bucket(self: Any, *args: Any, **kwargs: Any) -> Any:
        bucket = original_create(self, *args, **kwargs)
        if bucket.encryption is None:
            bucket.encryption = copy.deepcopy(SSE_S3_DEFAULT)
        return bucket

    def delete_bucket_encryption(self: Any, bucket_name: str) -> None:
        self.get_bucket(bucket_name).encryption = copy.deepcopy(SSE_S3_DEFAULT)

    backend_cls.create_bucket = create_bucket
    backend_cls.delete_bucket_encryption = delete_bucket_encryption


def _offset_page(items: list[Any], token: Any, size: int) -> tuple[list[Any], str | None] | None:
    """One page of ``items`` from the offset ``token`` names, and the token of the next page.

    None when the token is not one this emulator handed out (callers raise their service's
    own error). The lab's tokens are plain offsets: callers must treat them as opaque anyway.
    """
    if not str(token or 0).isdigit():
        return None
    offset = int(token or 0)
    end = offset + size
    return items[offset:end], (str(end) if end < len(items) else None)


# AWS's page when a paginated ListBuckets names no MaxBuckets (bucket-region, prefix or a token).
LIST_BUCKETS_DEFAULT_PAGE = 10_000


def _patch_list_buckets_pages() -> None:
    """ListBuckets in pages, sorted by name, each bucket with its BucketRegion."""

    def all_buckets(self: Any) -> Any:
        self.data["Action"] = "ListAllMyBuckets"
        self._authenticate_and_authorize_s3_action()
        size = self._get_param("max-buckets")
        token = self._get_param("continuation-token")
        prefix = self._get_param("prefix")
        region = self._get_param("bucket-region")
        buckets = sorted(
            self.backend.list_buckets(prefix=prefix, bucket_region=region, max_buckets=None),
            key=lambda bucket: bucket.name,
        )
        paginated = any(value is not None for value in (size, token, prefix, region))
        page = _offset_page(
            buckets, token, int(size or LIST_BUCKETS_DEFAULT_PAGE) if paginated else len(buckets)
        )
        if page is None:
            raise s3_exceptions.InvalidArgumentError(
                "The continuation token provided is incorrect", "continuation-token", token
            )
        listed, following = page
        result: dict[str, Any] = {
            "Owner": {"ID": "careops-lab-canonical-user", "DisplayName": "careops-lab"},
            "Buckets": [
                {"Name": b.name, "CreationDate": b.creation_date_ISO8601, "BucketRegion": b.region_name}
                for b in listed
            ],
        }
        if following:
            result["ContinuationToken"] = following
        if prefix is not None:
            result["Prefix"] = prefix
        self.data["Action"] = "ListBuckets"
        return self.serialized(ActionResult(result))

    S3Response.all_buckets = all_buckets


# --------------------------------------------------------------------------- Beanstalk options


def _merge_options(env: Any, settings: list[dict[str, Any]], removals: list[dict[str, Any]]) -> None:
    options: dict[tuple[str, str], str] = env.__dict__.setdefault("lab_options", {})
    for item in removals:
        options.pop((item.get("Namespace", ""), item.get("OptionName", "")), None)
    for item in settings:
        options[(item.get("Namespace", ""), item.get("OptionName", ""))] = str(item.get("Value", ""))


def _find_environment(backend: Any, name: str) -> Any:
    for env in backend.describe_environments():
        if env.environment_name == name:
            return env
    raise InvalidParameterValueError(f"No Environment found for EnvironmentName = '{name}'.")


def _patch_beanstalk_options() -> None:
    original_create = EBResponse.create_environment

    def create_environment(self: Any) -> ActionResult:
        result = original_create(self)
        env = _find_environment(self.elasticbeanstalk_backend, self._get_param("EnvironmentName"))
        _merge_options(env, self._get_param("OptionSettings", []) or [], [])
        return result

    def update_environment(self: Any) -> ActionResult:
        env = _find_environment(self.elasticbeanstalk_backend, self._get_param("EnvironmentName"))
        _merge_options(
            env,
            self._get_param("OptionSettings", []) or [],
            self._get_param("OptionsToRemove", []) or [],
        )
        env.date_updated = _utcnow()
        return ActionResult(env)

    def describe_configuration_settings(self: Any) -> ActionResult:
        env = _find_environment(self.elasticbeanstalk_backend, self._get_param("EnvironmentName"))
        options = env.__dict__.get("lab_options", {})
        return ActionResult(
            {
                "ConfigurationSettings": [
                    {
                        "ApplicationName": env.application.application_name,
                        "EnvironmentName": env.environment_name,
                        "SolutionStackName": env.solution_stack_name,
                        "DeploymentStatus": "deployed",
                        "OptionSettings": [
                            {"Namespace": ns, "OptionName": name, "Value": value}
                            for (ns, name), value in sorted(options.items())
                        ],
                    }
                ]
            }
        )

    EBResponse.create_environment = create_environment
    EBResponse.update_environment = update_environment
    EBResponse.describe_configuration_settings = describe_configuration_settings


# --------------------------------------------------------------------------- EBS volumes


def _patch_volume_snapshot_id() -> None:
    """AWS reports SnapshotId "" for a volume not made from a snapshot; moto leaves it out."""
    cls = ec2_ebs_models.Volume
    original_init = cls.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807
        original_init(self, *args, **kwargs)
        if self.snapshot_id is None:
            self.snapshot_id = ""

    cls.__init__ = __init__


# --------------------------------------------------------------------------- EC2 launch templates

# moto's default page when a request names no MaxResults; kept, so that the lab's callers page.
LAUNCH_TEMPLATE_PAGE = 15


def _patch_launch_template_pages() -> None:
    """Page launch templates and their versions with NextToken instead of cutting the answer.

    moto returns the first ``MaxResults`` items and no token, so a caller that pages correctly
    still sees only 15 launch templates. The wrapper lets moto build the whole answer, then
    serves it a page at a time; the token is the offset of the next page.
    """
    for operation, key in (
        ("describe_launch_templates", "LaunchTemplates"),
        ("describe_launch_template_versions", "LaunchTemplateVersions"),
    ):
        setattr(EC2Response, operation, _paged(getattr(EC2Response, operation), key))


def _paged(original: Callable[[Any], ActionResult], key: str) -> Callable[[Any], ActionResult]:
    def answer(self: Any) -> ActionResult:
        size = self._get_int_param("MaxResults", LAUNCH_TEMPLATE_PAGE)
        token = self._get_param("NextToken")
        read_int = self._get_int_param

        def everything(name: str, if_none: Any = None) -> Any:
            return 10**9 if name == "MaxResults" else read_int(name, if_none)

        self._get_int_param = everything
        try:
            whole = dict(original(self).result)
        finally:
            del self._get_int_param
        page = _offset_page(whole[key], token, size)
        if page is None:
            raise EC2ClientError("InvalidNextToken", f"The token '{token}' is invalid.")
        whole[key], following = page
        if following:
            whole["NextToken"] = following
        return ActionResult(whole)

    answer.__name__ = original.__name__
    return answer


_INSTALLED = threading.Event()


def install() -> None:
    """Apply every lab behaviour to moto, once per process."""
    if _INSTALLED.is_set():
        return
    _patch_db_instance()
    _patch_automated_backups()
    _patch_backend()
    _patch_reboot()
    _patch_clusters()
    _patch_snapshot_copies()
    _patch_imds_defaults()
    _patch_launch_template_pages()
    _patch_s3_default_encryption()
    _patch_list_buckets_pages()
    _patch_beanstalk_options()
    _patch_volume_snapshot_id()
    _INSTALLED.set()
    LOG.debug("lab behaviours installed on moto")
