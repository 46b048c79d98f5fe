"""The lab's fault injection: throttling and 503s that correct retries survive."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest import Lab

from lab import ACCESS_KEY_ID, SECRET_ACCESS_KEY


def _client(lab: Lab, service: str, attempts: int) -> object:
    return boto3.client(
        service,
        region_name=lab.state["region"],
        endpoint_url=lab.endpoint,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        config=Config(retries={"mode": "standard", "max_attempts": attempts}),
    )


@pytest.fixture
def faulty(lab: Lab) -> Iterator[Lab]:
    lab.api("settings", {"fault_rate": 0.3, "throttle_share": 0.7, "seed": 20261203})
    try:
        yield lab
    finally:
        lab.api("settings", {"fault_rate": 0})


def test_standard_retries_survive_throttling_in_every_protocol(faulty: Lab) -> None:
    rds, ec2, logs, s3 = (_client(faulty, s, 10) for s in ("rds", "ec2", "logs", "s3"))
    for _ in range(10):
        assert len(rds.describe_db_instances()["DBInstances"]) >= 8  # query protocol
        assert ec2.describe_security_groups()["SecurityGroups"]  # EC2's own XML errors
        assert logs.describe_log_groups()["logGroups"]  # JSON protocol
        assert s3.list_buckets()["Buckets"]  # REST-XML
    injected = faulty.api("faults")["injected"]
    assert injected["throttle"] > 0
    assert injected["unavailable"] > 0


def test_without_retries_the_faults_surface(faulty: Lab) -> None:
    rds = _client(faulty, "rds", 1)
    errors = []
    for _ in range(30):
        try:
            rds.describe_db_instances()
        except ClientError as error:
            errors.append(error.response["Error"]["Code"])
    assert errors, "a 30% fault rate should fail some of 30 calls made without retries"
    assert set(errors) <= {"Throttling", "ServiceUnavailable"}


def test_bad_fault_rate_is_refused(lab: Lab) -> None:
    with pytest.raises(Exception, match="400"):
        lab.api("settings", {"fault_rate": 1.5})
    assert lab.api("faults")["rate"] == 0
