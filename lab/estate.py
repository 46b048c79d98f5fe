"""Seed the emulated account with the platform's estate, drift included.

The estate mirrors production's shape at lab scale: one VPC per region with public, app and
database subnets in two AZs; an ALB, target group, launch templates and auto scaling groups;
the five Elastic Beanstalk applications; six production PostgreSQL 15 databases and two
homologation ones; three Aurora PostgreSQL 15 clusters; the buckets, log groups, topics, trail
and keys around them.

``DRIFT`` lists what is deliberately wrong, so that the audit has something true to find and
the tests can assert it was found. Every entry names the resource and the control it breaks.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import boto3

from lab import ACCESS_KEY_ID, SECRET_ACCESS_KEY

LOG = logging.getLogger("lab.estate")

PRIMARY = "sa-east-1"
DR = "us-east-1"
ACCOUNT = "123456789012"
PREFIX = "homecare"

DATABASES: dict[str, dict[str, Any]] = {
    # id: settings that differ from a healthy production database
    "prod-clinical-records": {"env": "production", "service": "main-app", "class": "db.r6g.xlarge"},
    "prod-auth": {"env": "production", "service": "auth", "class": "db.r6g.large"},
    "prod-scheduling": {"env": "production", "service": "main-app", "class": "db.r6g.large"},
    "prod-billing": {"env": "production", "service": "financial-api", "class": "db.r6g.large"},
    "prod-pharmacy-stock": {"env": "production", "service": "main-app", "class": "db.r6g.large"},
    "prod-reports": {
        "env": "production",
        "service": "reports",
        "class": "db.r6g.large",
        "retention": 1,
        "deletion_protection": False,
    },
    "hml-clinical-records": {
        "env": "homologation",
        "service": "main-app",
        "class": "db.t4g.medium",
        "multi_az": False,
        "encrypted": False,
        "retention": 7,
    },
    "hml-scheduling": {
        "env": "homologation",
        "service": "main-app",
        "class": "db.t4g.medium",
        "multi_az": False,
        "retention": 0,
        "deletion_protection": False,
    },
}

# Aurora PostgreSQL 15 clusters: id -> environment, service and the AZs of their members, the
# writer first. hml-analytics-aurora has a writer only, as cheap homologation clusters often do,
# so that a failover drill there has nothing to fail over to.
AURORA_CLUSTERS: dict[str, dict[str, Any]] = {
    "prod-analytics-aurora": {"env": "production", "service": "reports", "zones": ("a", "b")},
    "hml-reports-aurora": {"env": "homologation", "service": "reports", "zones": ("a", "b")},
    "hml-analytics-aurora": {"env": "homologation", "service": "reports", "zones": ("a",)},
}

BEANSTALK_APPS = ("main-app", "auth", "background-jobs", "reports", "financial-api")
SOLUTION_STACK = "64bit Amazon Linux 2023 v4.3.0 running Python 3.12"

DRIFT: list[dict[str, str]] = [
    {"resource": "hml-app-lt", "control": "imdsv2", "what": "launch template allows IMDSv1"},
    {"resource": "lab-hml-app-a", "control": "imdsv2", "what": "instance allows IMDSv1"},
    {"resource": "hml-main-asg", "control": "imdsv2", "what": "ASG launches IMDSv1 instances"},
    {"resource": "hml-main-app", "control": "imdsv2", "what": "Beanstalk env leaves IMDSv1 on"},
    {"resource": "prod-legacy-admin", "control": "sg", "what": "SSH open to 0.0.0.0/0 and ::/0"},
    {"resource": "hml-db", "control": "sg", "what": "PostgreSQL open to 0.0.0.0/0 and ::/0"},
    {"resource": f"{PREFIX}-hml-files", "control": "s3", "what": "public access not blocked"},
    {"resource": f"{PREFIX}-hml-files", "control": "s3", "what": "SSE-S3, not SSE-KMS"},
    {"resource": f"{PREFIX}-prod-exports-legacy", "control": "s3", "what": "no TLS-only policy"},
    {"resource": "/homecare/prod/legacy-worker", "control": "logs", "what": "no retention"},
    {"resource": "/homecare/hml/main-app", "control": "logs", "what": "no retention"},
    {"resource": "prod-reports", "control": "rds", "what": "1-day backups, no deletion protection"},
    {"resource": "hml-scheduling", "control": "rds", "what": "automated backups off"},
    {"resource": "hml-clinical-records", "control": "rds", "what": "storage not encrypted"},
    {"resource": "homecare-trail", "control": "cloudtrail", "what": "no log-file validation"},
    {"resource": "account", "control": "imdsv2", "what": "no account-level IMDS default"},
    {"resource": "hml-unattached-gp2", "control": "cost", "what": "unattached gp2 volume"},
]


@dataclass
class Estate:
    """What was created, by name, for the lab state file and the tests."""

    vpcs: dict[str, str] = field(default_factory=dict)
    subnets: dict[str, str] = field(default_factory=dict)
    security_groups: dict[str, str] = field(default_factory=dict)
    kms_keys: dict[str, str] = field(default_factory=dict)
    databases: list[str] = field(default_factory=list)
    clusters: dict[str, list[str]] = field(default_factory=dict)
    buckets: list[str] = field(default_factory=list)
    log_groups: list[str] = field(default_factory=list)
    topics: dict[str, str] = field(default_factory=dict)
    asgs: list[str] = field(default_factory=list)
    beanstalk_environments: list[str] = field(default_factory=list)
    drift: list[dict[str, str]] = field(default_factory=lambda: list(DRIFT))


def _tags(env: str, service: str, **extra: str) -> list[dict[str, str]]:
    tags = {
        "Environment": env,
        "Service": service,
        "Owner": "platform-team",
        "DataClassification": "health" if env == "production" else "synthetic",
        "Backup": "daily" if env == "production" else "none",
        **extra,
    }
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _short(env: str) -> str:
    return "prod" if env == "production" else "hml"


class Seeder:
    """Creates the estate through the public API, as an operator's tooling would."""

    def __init__(self, endpoint: str, on_database: Any = None) -> None:
        self.endpoint = endpoint
        self.on_database = on_database
        self.estate = Estate()

    def client(self, service: str, region: str = PRIMARY) -> Any:
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )

    def seed(self) -> Estate:
        for region in (PRIMARY, DR):
            self._network(region)
        self._kms()
        self._security_groups()
        self._compute()
        self._beanstalk()
        self._databases()
        self._aurora()
        self._buckets()
        self._logs_and_topics()
        self._trail()
        self._volumes()
        LOG.info(
            "estate seeded: %d databases, %d Aurora clusters, %d buckets, %d log groups, %d drift items",
            len(self.estate.databases),
            len(self.estate.clusters),
            len(self.estate.buckets),
            len(self.estate.log_groups),
            len(self.estate.drift),
        )
        return self.estate

    # ------------------------------------------------------------------ network
    def _network(self, region: str) -> None:
        ec2 = self.client("ec2", region)
        cidr = "10.20.0.0/16" if region == PRIMARY else "10.30.0.0/16"
        vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
        ec2.create_tags(Resources=[vpc], Tags=[{"Key": "Name", "Value": f"{PREFIX}-{region}"}])
        self.estate.vpcs[region] = vpc
        base = cidr.split(".")[1]
        for index, (tier, zone) in enumerate((t, z) for t in ("public", "app", "db") for z in ("a", "b")):
            subnet = ec2.create_subnet(
                VpcId=vpc, CidrBlock=f"10.{base}.{index}.0/24", AvailabilityZone=f"{region}{zone}"
            )["Subnet"]["SubnetId"]
            name = f"{tier}-{zone}" if region == PRIMARY else f"{region}-{tier}-{zone}"
            ec2.create_tags(Resources=[subnet], Tags=[{"Key": "Name", "Value": name}])
            self.estate.subnets[name] = subnet

    def _kms(self) -> None:
        for region in (PRIMARY, DR):
            kms = self.client("kms", region)
            for purpose in ("rds", "s3", "logs"):
                key = kms.create_key(Description=f"{PREFIX} {purpose} ({region})")["KeyMetadata"]
                kms.create_alias(AliasName=f"alias/{PREFIX}-{purpose}", TargetKeyId=key["KeyId"])
                self.estate.kms_keys[f"{region}/{purpose}"] = key["Arn"]

    def _security_groups(self) -> None:
        ec2 = self.client("ec2")
        vpc = self.estate.vpcs[PRIMARY]

        def group(name: str, env: str, service: str) -> str:
            gid = ec2.create_security_group(GroupName=name, Description=f"{name} tier", VpcId=vpc)["GroupId"]
            ec2.create_tags(Resources=[gid], Tags=[*_tags(env, service), {"Key": "Name", "Value": name}])
            self.estate.security_groups[name] = gid
            return gid

        for env in ("production", "homologation"):
            s = _short(env)
            alb = group(f"{s}-alb", env, "main-app")
            app = group(f"{s}-app", env, "main-app")
            db = group(f"{s}-db", env, "main-app")
            ec2.authorize_security_group_ingress(
                GroupId=alb,
                IpPermissions=[
                    {
                        "IpProtocol": "tcp",
                        "FromPort": port,
                        "ToPort": port,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                        "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
                    }
                    for port in (443, 80)
                ],
            )
            ec2.authorize_security_group_ingress(
                GroupId=app,
                IpPermissions=[
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 8080,
                        "ToPort": 8080,
                        "UserIdGroupPairs": [{"GroupId": alb}],
                    }
                ],
            )
            db_rules: list[dict[str, Any]] = [
                {
                    "IpProtocol": "tcp",
                    "FromPort": 5432,
                    "ToPort": 5432,
                    "UserIdGroupPairs": [{"GroupId": app}],
                }
            ]
            if env == "homologation":
                db_rules.append(
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 5432,
                        "ToPort": 5432,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "temporary debug"}],
                        "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
                    }
                )
            ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=db_rules)
        legacy = group("prod-legacy-admin", "production", "main-app")
        ec2.authorize_security_group_ingress(
            GroupId=legacy,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 22,
                    "ToPort": 22,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "vendor access"}],
                    "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
                }
            ],
        )

    # ------------------------------------------------------------------ compute
    def _compute(self) -> None:
        ec2 = self.client("ec2")
        elb = self.client("elbv2")
        asg = self.client("autoscaling")
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        self.estate.__dict__["image_id"] = image
        for env in ("production", "homologation"):
            s = _short(env)
            tokens = "required" if env == "production" else "optional"
            template = ec2.create_launch_template(
                LaunchTemplateName=f"{s}-app-lt",
                LaunchTemplateData={
                    "ImageId": image,
                    "InstanceType": "m6i.large" if env == "production" else "t3.medium",
                    "SecurityGroupIds": [self.estate.security_groups[f"{s}-app"]],
                    "MetadataOptions": {"HttpTokens": tokens, "HttpPutResponseHopLimit": 2},
                },
                TagSpecifications=[{"ResourceType": "launch-template", "Tags": _tags(env, "main-app")}],
            )["LaunchTemplate"]["LaunchTemplateId"]
            subnets = [self.estate.subnets["public-a"], self.estate.subnets["public-b"]]
            lb = elb.create_load_balancer(
                Name=f"{s}-main-alb",
                Subnets=subnets,
                SecurityGroups=[self.estate.security_groups[f"{s}-alb"]],
                Scheme="internet-facing",
                Type="application",
                Tags=_tags(env, "main-app"),
            )["LoadBalancers"][0]["LoadBalancerArn"]
            tg = elb.create_target_group(
                Name=f"{s}-main-tg",
                Protocol="HTTP",
                Port=8080,
                VpcId=self.estate.vpcs[PRIMARY],
                HealthCheckPath="/health",
                TargetType="instance",
            )["TargetGroups"][0]["TargetGroupArn"]
            elb.create_listener(
                LoadBalancerArn=lb,
                Protocol="HTTP",
                Port=80,
                DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
            )
            capacity = 2 if env == "production" else 1
            asg.create_auto_scaling_group(
                AutoScalingGroupName=f"{s}-main-asg",
                LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
                MinSize=capacity,
                MaxSize=capacity * 3,
                DesiredCapacity=capacity,
                VPCZoneIdentifier=",".join([self.estate.subnets["app-a"], self.estate.subnets["app-b"]]),
                TargetGroupARNs=[tg],
                HealthCheckType="ELB",
                HealthCheckGracePeriod=120,
                Tags=[
                    {
                        **tag,
                        "PropagateAtLaunch": True,
                        "ResourceId": f"{s}-main-asg",
                        "ResourceType": "auto-scaling-group",
                    }
                    for tag in _tags(env, "main-app", Name=f"{s}-main-app")
                ],
            )
            self.estate.asgs.append(f"{s}-main-asg")

    def _beanstalk(self) -> None:
        eb = self.client("elasticbeanstalk")
        for app in BEANSTALK_APPS:
            eb.create_application(ApplicationName=app)
            for env in ("production", "homologation"):
                if env == "homologation" and app not in ("main-app", "auth"):
                    continue
                name = f"{_short(env)}-{app}"
                healthy = env == "production"
                eb.create_environment(
                    ApplicationName=app,
                    EnvironmentName=name,
                    SolutionStackName=SOLUTION_STACK,
                    Tags=[t for t in _tags(env, app) if t["Key"] != "Name"],
                    OptionSettings=[
                        {
                            "Namespace": "aws:autoscaling:launchconfiguration",
                            "OptionName": "DisableIMDSv1",
                            "Value": "true" if healthy else "false",
                        },
                        {
                            "Namespace": "aws:elasticbeanstalk:cloudwatch:logs",
                            "OptionName": "StreamLogs",
                            "Value": "true" if healthy else "false",
                        },
                        {
                            "Namespace": "aws:elasticbeanstalk:cloudwatch:logs",
                            "OptionName": "RetentionInDays",
                            "Value": "365" if healthy else "7",
                        },
                        {
                            "Namespace": "aws:elasticbeanstalk:healthreporting:system",
                            "OptionName": "SystemType",
                            "Value": "enhanced",
                        },
                        {
                            "Namespace": "aws:elasticbeanstalk:managedactions",
                            "OptionName": "ManagedActionsEnabled",
                            "Value": "true",
                        },
                    ],
                )
                self.estate.beanstalk_environments.append(name)

    # ------------------------------------------------------------------ data
    def _databases(self) -> None:
        rds = self.client("rds")
        rds.create_db_subnet_group(
            DBSubnetGroupName=f"{PREFIX}-db",
            DBSubnetGroupDescription="database subnets in two AZs",
            SubnetIds=[self.estate.subnets["db-a"], self.estate.subnets["db-b"]],
        )
        rds.create_db_parameter_group(
            DBParameterGroupName=f"{PREFIX}-postgres15",
            DBParameterGroupFamily="postgres15",
            Description="careops PostgreSQL 15 settings",
        )
        for identifier, spec in DATABASES.items():
            env = spec["env"]
            encrypted = spec.get("encrypted", True)
            kwargs: dict[str, Any] = {
                "DBInstanceIdentifier": identifier,
                "DBInstanceClass": spec["class"],
                "Engine": "postgres",
                "EngineVersion": "15.8",
                "DBName": identifier.replace("-", "_"),
                "MasterUsername": "careops_admin",
                "ManageMasterUserPassword": True,
                "AllocatedStorage": 100,
                "StorageType": "gp3",
                "DBSubnetGroupName": f"{PREFIX}-db",
                "DBParameterGroupName": f"{PREFIX}-postgres15",
                "VpcSecurityGroupIds": [self.estate.security_groups[f"{_short(env)}-db"]],
                "MultiAZ": spec.get("multi_az", env == "production"),
                "AvailabilityZone": None,
                "BackupRetentionPeriod": spec.get("retention", 14 if env == "production" else 7),
                "DeletionProtection": spec.get("deletion_protection", True),
                "StorageEncrypted": encrypted,
                "EnablePerformanceInsights": env == "production",
                "PubliclyAccessible": False,
                "CopyTagsToSnapshot": True,
                "AutoMinorVersionUpgrade": True,
                "Tags": _tags(env, spec["service"]),
            }
            if kwargs["MultiAZ"]:
                kwargs.pop("AvailabilityZone")
            else:
                kwargs["AvailabilityZone"] = f"{PRIMARY}a"
            if encrypted:
                kwargs["KmsKeyId"] = self.estate.kms_keys[f"{PRIMARY}/rds"]
            rds.create_db_instance(**kwargs)
            self.estate.databases.append(identifier)
            if self.on_database is not None:
                self.on_database(identifier)

    def _aurora(self) -> None:
        """Aurora clusters with a writer and readers in their own AZs, encrypted, backed up."""
        rds = self.client("rds")
        for identifier, spec in AURORA_CLUSTERS.items():
            env = spec["env"]
            production = env == "production"
            rds.create_db_cluster(
                DBClusterIdentifier=identifier,
                Engine="aurora-postgresql",
                EngineVersion="15.8",
                DatabaseName=identifier.replace("-", "_"),
                MasterUsername="careops_admin",
                ManageMasterUserPassword=True,
                DBSubnetGroupName=f"{PREFIX}-db",
                VpcSecurityGroupIds=[self.estate.security_groups[f"{_short(env)}-db"]],
                AvailabilityZones=[f"{PRIMARY}{zone}" for zone in ("a", "b")],
                StorageEncrypted=True,
                KmsKeyId=self.estate.kms_keys[f"{PRIMARY}/rds"],
                BackupRetentionPeriod=14 if production else 7,
                DeletionProtection=True,
                CopyTagsToSnapshot=True,
                Tags=_tags(env, spec["service"]),
            )
            members = []
            for tier, zone in enumerate(spec["zones"]):
                member = f"{identifier}-{zone}"
                rds.create_db_instance(
                    DBInstanceIdentifier=member,
                    DBClusterIdentifier=identifier,
                    Engine="aurora-postgresql",
                    DBInstanceClass="db.r6g.large" if production else "db.t4g.medium",
                    AvailabilityZone=f"{PRIMARY}{zone}",
                    PromotionTier=tier,
                    EnablePerformanceInsights=production,
                    PubliclyAccessible=False,
                    AutoMinorVersionUpgrade=True,
                    Tags=_tags(env, spec["service"]),
                )
                members.append(member)
            self.estate.clusters[identifier] = members
            if self.on_database is not None:
                self.on_database(identifier)

    def _buckets(self) -> None:
        s3 = self.client("s3")
        kms_key = self.estate.kms_keys[f"{PRIMARY}/s3"]
        buckets = {
            # name: (env, service, versioned, kms, public access blocked, TLS-only policy)
            f"{PREFIX}-prod-frontend-web": ("production", "main-app", False, True, True, True),
            f"{PREFIX}-prod-files": ("production", "main-app", True, True, True, True),
            f"{PREFIX}-prod-artifacts": ("production", "main-app", True, True, True, True),
            f"{PREFIX}-prod-backups": ("production", "main-app", True, True, True, True),
            f"{PREFIX}-prod-cloudtrail": ("production", "main-app", True, True, True, True),
            f"{PREFIX}-prod-exports-legacy": ("production", "reports", False, True, True, False),
            f"{PREFIX}-tfstate": ("production", "main-app", True, True, True, True),
            f"{PREFIX}-hml-files": ("homologation", "main-app", False, False, False, True),
        }
        for name, (env, service, versioned, kms, blocked, tls_only) in buckets.items():
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": PRIMARY})
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tags(env, service)})
            if versioned:
                s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
            if kms:
                s3.put_bucket_encryption(
                    Bucket=name,
                    ServerSideEncryptionConfiguration={
                        "Rules": [
                            {
                                "ApplyServerSideEncryptionByDefault": {
                                    "SSEAlgorithm": "aws:kms",
                                    "KMSMasterKeyID": kms_key,
                                },
                                "BucketKeyEnabled": True,
                            }
                        ]
                    },
                )
            if blocked:
                s3.put_public_access_block(
                    Bucket=name,
                    PublicAccessBlockConfiguration={
                        "BlockPublicAcls": True,
                        "IgnorePublicAcls": True,
                        "BlockPublicPolicy": True,
                        "RestrictPublicBuckets": True,
                    },
                )
            if tls_only:
                s3.put_bucket_policy(Bucket=name, Policy=json.dumps(_tls_only_policy(name)))
            self.estate.buckets.append(name)
        # Evidence of runbooks goes to a bucket with Object Lock, as auditors expect.
        evidence = f"{PREFIX}-prod-evidence"
        s3.create_bucket(
            Bucket=evidence,
            CreateBucketConfiguration={"LocationConstraint": PRIMARY},
            ObjectLockEnabledForBucket=True,
        )
        s3.put_bucket_tagging(Bucket=evidence, Tagging={"TagSet": _tags("production", "main-app")})
        s3.put_object_lock_configuration(
            Bucket=evidence,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 365}},
            },
        )
        self.estate.buckets.append(evidence)

    def _logs_and_topics(self) -> None:
        logs = self.client("logs")
        groups = {
            # name: retention days (None = never expires, the drift)
            "/aws/elasticbeanstalk/prod-main-app/var/log/web.stdout.log": 365,
            "/aws/elasticbeanstalk/prod-auth/var/log/web.stdout.log": 365,
            "/aws/elasticbeanstalk/prod-financial-api/var/log/web.stdout.log": 365,
            "/aws/rds/instance/prod-clinical-records/postgresql": 90,
            "/homecare/prod/main-app": 365,
            "/homecare/prod/legacy-worker": None,
            "/homecare/hml/main-app": None,
            "/careops/evidence": 3653,
        }
        for name, retention in groups.items():
            logs.create_log_group(logGroupName=name)
            if retention:
                logs.put_retention_policy(logGroupName=name, retentionInDays=retention)
            self.estate.log_groups.append(name)
        sns = self.client("sns")
        for env in ("production", "homologation"):
            arn = sns.create_topic(Name=f"{PREFIX}-{_short(env)}-alarms", Tags=_tags(env, "main-app"))[
                "TopicArn"
            ]
            self.estate.topics[env] = arn
        cloudwatch = self.client("cloudwatch")
        cloudwatch.put_metric_alarm(
            AlarmName="prod-clinical-records-cpu-high",
            Namespace="AWS/RDS",
            MetricName="CPUUtilization",
            Dimensions=[{"Name": "DBInstanceIdentifier", "Value": "prod-clinical-records"}],
            Statistic="Average",
            Period=300,
            EvaluationPeriods=3,
            Threshold=80.0,
            ComparisonOperator="GreaterThanThreshold",
            AlarmActions=[self.estate.topics["production"]],
        )

    def _trail(self) -> None:
        trail = self.client("cloudtrail")
        trail.create_trail(
            Name=f"{PREFIX}-trail",
            S3BucketName=f"{PREFIX}-prod-cloudtrail",
            IsMultiRegionTrail=True,
            EnableLogFileValidation=False,
            KmsKeyId=self.estate.kms_keys[f"{PRIMARY}/logs"],
        )
        trail.start_logging(Name=f"{PREFIX}-trail")

    def _volumes(self) -> None:
        ec2 = self.client("ec2")
        volume = ec2.create_volume(
            AvailabilityZone=f"{PRIMARY}a",
            Size=50,
            VolumeType="gp2",
            TagSpecifications=[
                {
                    "ResourceType": "volume",
                    "Tags": [
                        *_tags("homologation", "main-app"),
                        {"Key": "Name", "Value": "hml-unattached-gp2"},
                    ],
                }
            ],
        )
        self.estate.__dict__["unattached_volume"] = volume["VolumeId"]


def _tls_only_policy(bucket: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
