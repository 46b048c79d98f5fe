"""The lab is a faithful place to rehearse: its added AWS behaviours and its seeded drift."""

from __future__ import annotations

import datetime as dt
import json
import time

import psycopg2
import pytest
from botocore.exceptions import ClientError
from conftest import Lab

UTC = dt.UTC


def _db(lab: Lab, identifier: str) -> dict:
    return lab.client("rds").describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]


def _wait_available(lab: Lab, identifier: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        db = _db(lab, identifier)
        if db["DBInstanceStatus"] == "available":
            return db
        assert time.monotonic() < deadline, f"{identifier} stuck in {db['DBInstanceStatus']}"
        time.sleep(0.3)


def _window(lab: Lab, identifier: str) -> dict:
    backups = lab.client("rds").describe_db_instance_automated_backups(DBInstanceIdentifier=identifier)
    return backups["DBInstanceAutomatedBackups"][0]["RestoreWindow"]


def _verify_login(lab: Lab) -> dict:
    secret = lab.client("secretsmanager").get_secret_value(SecretId="careops/lab/db-verify")
    return json.loads(secret["SecretString"])


# --------------------------------------------------------------------------- restore window


def test_restore_window_is_reported_from_retention(lab: Lab) -> None:
    window = _window(lab, "prod-clinical-records")
    span = window["LatestTime"] - window["EarliestTime"]
    # 14 days of retention on an instance the lab made 30 days old.
    assert dt.timedelta(days=13, hours=23) < span <= dt.timedelta(days=14, minutes=1)


@pytest.mark.parametrize(
    ("offset", "why"),
    [(dt.timedelta(days=-20), "before the window"), (dt.timedelta(hours=2), "in the future")],
)
def test_restore_outside_window_is_refused(lab: Lab, offset: dt.timedelta, why: str) -> None:
    rds = lab.client("rds")
    with pytest.raises(ClientError) as refused:
        rds.restore_db_instance_to_point_in_time(
            SourceDBInstanceIdentifier="prod-auth",
            TargetDBInstanceIdentifier=f"lab-refused-{int(offset.total_seconds()) % 1000}",
            RestoreTime=dt.datetime.now(UTC) + offset,
        )
    assert refused.value.response["Error"]["Code"] == "InvalidRestoreFault", why
    assert "outside the restorable window of prod-auth" in str(refused.value)
    names = [d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]]
    assert not [n for n in names if n.startswith("lab-refused")]


def test_restore_without_automated_backups_is_refused(lab: Lab) -> None:
    with pytest.raises(ClientError) as refused:
        lab.client("rds").restore_db_instance_to_point_in_time(
            SourceDBInstanceIdentifier="hml-scheduling",
            TargetDBInstanceIdentifier="lab-no-backups",
            UseLatestRestorableTime=True,
        )
    assert refused.value.response["Error"]["Code"] == "InvalidDBInstanceState"


def test_restore_inside_window_holds_data_as_of_the_point(lab: Lab) -> None:
    point = (dt.datetime.now(UTC) - dt.timedelta(days=3)).replace(microsecond=0)
    restored = lab.client("rds").restore_db_instance_to_point_in_time(
        SourceDBInstanceIdentifier="prod-billing",
        TargetDBInstanceIdentifier="lab-billing-restored",
        RestoreTime=point,
    )["DBInstance"]
    assert restored["DBInstanceStatus"] == "creating"
    db = _wait_available(lab, "lab-billing-restored")
    login = _verify_login(lab)
    with (
        psycopg2.connect(
            host=db["Endpoint"]["Address"],
            port=db["Endpoint"]["Port"],
            dbname=db["DBName"],
            user=login["username"],
            password=login["password"],
        ) as conn,
        conn.cursor() as cur,
    ):
        cur.execute("SELECT count(*), max(written_at) FROM records")
        restored_rows, newest = cur.fetchone()
    with (
        psycopg2.connect(
            host=db["Endpoint"]["Address"],
            port=db["Endpoint"]["Port"],
            dbname="prod_billing",
            user=login["username"],
            password=login["password"],
        ) as conn,
        conn.cursor() as cur,
    ):
        cur.execute("SELECT count(*) FROM records")
        (source_rows,) = cur.fetchone()
    assert newest <= point
    assert 0 < restored_rows < source_rows


# --------------------------------------------------------------------------- failover


def test_forced_failover_moves_primary_and_emits_events(lab: Lab) -> None:
    rds = lab.client("rds")
    before = _db(lab, "prod-pharmacy-stock")
    assert before["MultiAZ"] is True
    rebooted = rds.reboot_db_instance(DBInstanceIdentifier="prod-pharmacy-stock", ForceFailover=True)
    assert rebooted["DBInstance"]["DBInstanceStatus"] == "rebooting"
    after = _wait_available(lab, "prod-pharmacy-stock")
    assert after["AvailabilityZone"] == before["SecondaryAvailabilityZone"]
    assert after["SecondaryAvailabilityZone"] == before["AvailabilityZone"]
    events = rds.describe_events(SourceIdentifier="prod-pharmacy-stock", SourceType="db-instance")
    messages = [e["Message"] for e in events["Events"]]
    assert "Multi-AZ instance failover completed." in messages


def test_failover_on_single_az_instance_is_refused(lab: Lab) -> None:
    before = _db(lab, "hml-clinical-records")
    with pytest.raises(ClientError) as refused:
        lab.client("rds").reboot_db_instance(DBInstanceIdentifier="hml-clinical-records", ForceFailover=True)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert _db(lab, "hml-clinical-records")["AvailabilityZone"] == before["AvailabilityZone"]


def test_reboot_interrupts_connections_for_the_transition(lab: Lab) -> None:
    db = _db(lab, "prod-scheduling")
    login = _verify_login(lab)
    args = {
        "host": db["Endpoint"]["Address"],
        "port": db["Endpoint"]["Port"],
        "dbname": db["DBName"],
        "user": login["username"],
        "password": login["password"],
        "connect_timeout": 2,
    }
    lab.client("rds").reboot_db_instance(DBInstanceIdentifier="prod-scheduling")
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(**args).close()
    _wait_available(lab, "prod-scheduling")
    deadline = time.monotonic() + 10
    while True:
        try:
            psycopg2.connect(**args).close()
            break
        except psycopg2.OperationalError:
            assert time.monotonic() < deadline, "connections never came back after the reboot"
            time.sleep(0.2)


def test_modify_while_busy_is_refused(lab: Lab) -> None:
    rds = lab.client("rds")
    rds.reboot_db_instance(DBInstanceIdentifier="prod-auth")
    with pytest.raises(ClientError) as refused:
        rds.modify_db_instance(DBInstanceIdentifier="prod-auth", BackupRetentionPeriod=20)
    assert refused.value.response["Error"]["Code"] == "InvalidDBInstanceState"
    _wait_available(lab, "prod-auth")


# --------------------------------------------------------------------------- other gaps


def test_account_imds_defaults_round_trip(lab: Lab) -> None:
    ec2 = lab.client("ec2", "us-east-1")
    assert ec2.get_instance_metadata_defaults()["AccountLevel"] == {}
    ec2.modify_instance_metadata_defaults(HttpTokens="required", HttpPutResponseHopLimit=2)
    assert ec2.get_instance_metadata_defaults()["AccountLevel"] == {
        "HttpTokens": "required",
        "HttpPutResponseHopLimit": 2,
    }
    ec2.modify_instance_metadata_defaults(HttpTokens="no-preference", HttpPutResponseHopLimit=-1)
    assert ec2.get_instance_metadata_defaults()["AccountLevel"] == {}


def test_launch_templates_page_like_aws(lab: Lab) -> None:
    # moto alone answers the first 15 and no NextToken: a caller that pages still misses the rest.
    ec2 = lab.client("ec2", "eu-west-1")  # a region the estate and the other tests leave empty
    names = [f"lab-test-pages-{n:02d}" for n in range(18)]
    for name in names:
        ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={"InstanceType": "t3.micro"})
    try:
        first = ec2.describe_launch_templates()
        assert len(first["LaunchTemplates"]) == 15
        assert first["NextToken"]
        pages = ec2.get_paginator("describe_launch_templates").paginate()
        assert sorted(t["LaunchTemplateName"] for p in pages for t in p["LaunchTemplates"]) == names
        versions = ec2.get_paginator("describe_launch_template_versions").paginate(Versions=["$Latest"])
        assert sorted(v["LaunchTemplateName"] for p in versions for v in p["LaunchTemplateVersions"]) == names
        with pytest.raises(ClientError, match="InvalidNextToken"):
            ec2.describe_launch_templates(NextToken="not-a-token")
    finally:
        for name in names:
            ec2.delete_launch_template(LaunchTemplateName=name)


def test_list_buckets_pages_and_names_regions_like_aws(lab: Lab) -> None:
    s3 = lab.client("s3")
    every = s3.list_buckets()["Buckets"]  # unpaginated: all at once, as AWS up to 10,000
    assert "ContinuationToken" not in s3.list_buckets()
    pages = list(s3.get_paginator("list_buckets").paginate(PaginationConfig={"PageSize": 2}))
    assert len(pages) == (len(every) + 1) // 2
    listed = [b for page in pages for b in page["Buckets"]]
    assert [b["Name"] for b in listed] == sorted(b["Name"] for b in every)
    for bucket in listed:
        assert bucket["BucketRegion"] == (
            s3.get_bucket_location(Bucket=bucket["Name"])["LocationConstraint"] or "us-east-1"
        )
    with pytest.raises(ClientError, match="InvalidArgument"):
        s3.list_buckets(MaxBuckets=2, ContinuationToken="not-a-token")


def test_new_buckets_get_sse_s3_like_aws(lab: Lab) -> None:
    s3 = lab.client("s3")
    s3.create_bucket(
        Bucket="lab-test-new-bucket", CreateBucketConfiguration={"LocationConstraint": "sa-east-1"}
    )
    rules = s3.get_bucket_encryption(Bucket="lab-test-new-bucket")["ServerSideEncryptionConfiguration"]
    assert rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    s3.delete_bucket(Bucket="lab-test-new-bucket")


def test_call_log_tells_reads_from_writes(lab: Lab) -> None:
    lab.reset_calls()
    lab.client("rds").describe_db_instances()
    lab.client("logs").describe_log_groups()
    assert lab.mutating_calls() == []
    lab.client("logs").put_retention_policy(logGroupName="/careops/evidence", retentionInDays=3653)
    lab.client("s3").put_bucket_versioning(
        Bucket="homecare-tfstate", VersioningConfiguration={"Status": "Enabled"}
    )
    writes = lab.mutating_calls()
    assert "logs:PutRetentionPolicy" in writes
    assert any(w.startswith("s3:PUT") for w in writes)
    reads = [c["action"] for c in lab.calls() if not c["mutating"]]
    assert "DescribeDBInstances" in reads


# --------------------------------------------------------------------------- seeded drift


def test_drift_is_really_there(lab: Lab) -> None:
    ec2, s3, logs = (lab.client(s) for s in ("ec2", "s3", "logs"))
    groups = {g["GroupName"]: g for g in ec2.describe_security_groups()["SecurityGroups"]}
    legacy = groups["prod-legacy-admin"]["IpPermissions"]
    assert any(
        p["FromPort"] == 22
        and {"CidrIp": "0.0.0.0/0", "Description": "vendor access"} in p["IpRanges"]
        and {"CidrIpv6": "::/0"} in p["Ipv6Ranges"]
        for p in legacy
    )
    assert any(
        p["FromPort"] == 5432 and any(r["CidrIp"] == "0.0.0.0/0" for r in p["IpRanges"])
        for p in groups["hml-db"]["IpPermissions"]
    )
    templates = ec2.describe_launch_template_versions(LaunchTemplateName="hml-app-lt")
    assert (
        templates["LaunchTemplateVersions"][0]["LaunchTemplateData"]["MetadataOptions"]["HttpTokens"]
        == "optional"
    )
    if lab.hosts:
        hml = ec2.describe_instances(Filters=[{"Name": "tag:LabContainer", "Values": [f"{lab.hosts[-1]}"]}])
        instance = hml["Reservations"][0]["Instances"][0]
        assert instance["MetadataOptions"]["HttpTokens"] == "optional"
    with pytest.raises(ClientError):
        s3.get_public_access_block(Bucket="homecare-hml-files")
    sse = s3.get_bucket_encryption(Bucket="homecare-hml-files")["ServerSideEncryptionConfiguration"]
    assert sse["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    with pytest.raises(ClientError):
        s3.get_bucket_policy(Bucket="homecare-prod-exports-legacy")
    no_retention = {
        g["logGroupName"] for g in logs.describe_log_groups()["logGroups"] if "retentionInDays" not in g
    }
    assert {"/homecare/prod/legacy-worker", "/homecare/hml/main-app"} <= no_retention
    reports = _db(lab, "prod-reports")
    assert reports["BackupRetentionPeriod"] == 1
    assert reports["DeletionProtection"] is False
    assert _db(lab, "hml-scheduling")["BackupRetentionPeriod"] == 0
    assert _db(lab, "hml-clinical-records")["StorageEncrypted"] is False
    trail = lab.client("cloudtrail").describe_trails()["trailList"][0]
    assert trail["LogFileValidationEnabled"] is False
    volumes = ec2.describe_volumes(Filters=[{"Name": "tag:Name", "Values": ["hml-unattached-gp2"]}])
    assert volumes["Volumes"][0]["VolumeType"] == "gp2"
    assert volumes["Volumes"][0]["Attachments"] == []
    settings = lab.client("elasticbeanstalk").describe_configuration_settings(
        ApplicationName="main-app", EnvironmentName="hml-main-app"
    )["ConfigurationSettings"][0]["OptionSettings"]
    assert {
        "Namespace": "aws:autoscaling:launchconfiguration",
        "OptionName": "DisableIMDSv1",
        "Value": "false",
    } in settings


def test_estate_shape(lab: Lab) -> None:
    databases = lab.client("rds").describe_db_instances()["DBInstances"]
    seeded = [d for d in databases if d["DBInstanceIdentifier"] in lab.state["estate"]["databases"]]
    assert len(seeded) == 8
    assert {d["Engine"] for d in seeded} == {"postgres"}
    assert {d["EngineVersion"].split(".")[0] for d in seeded} == {"15"}
    production = [d for d in seeded if d["DBInstanceIdentifier"].startswith("prod-")]
    assert len(production) == 6
    assert all(d["MultiAZ"] and d["StorageEncrypted"] and d["KmsKeyId"] for d in production)
    zones = {s["AvailabilityZone"] for s in lab.client("ec2").describe_subnets()["Subnets"]}
    assert {"sa-east-1a", "sa-east-1b"} <= zones
    apps = lab.client("elasticbeanstalk").describe_applications()["Applications"]
    assert {a["ApplicationName"] for a in apps} == {
        "main-app",
        "auth",
        "background-jobs",
        "reports",
        "financial-api",
    }
    groups = lab.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    assert {g["AutoScalingGroupName"] for g in groups} >= {"prod-main-asg", "hml-main-asg"}
