"""Helpers shared by the careops modules: one botocore configuration for all of them.

Standard retry mode with jittered exponential backoff, and enough attempts to ride out
throttling on large accounts: a baseline run that gives up half-way leaves an estate half
fixed, which is worse than a slow run.
"""

from __future__ import annotations

from typing import Any

try:
    from botocore.config import Config
except ImportError:  # AnsibleAWSModule reports the missing botocore itself
    Config = None

RETRY_ATTEMPTS = 10


def client(module: Any, service: str, region: str, attempts: int = RETRY_ATTEMPTS, pool: int = 10) -> Any:
    """A boto3 client for one region, with standard retries; credentials as the module got them."""
    config = Config(
        retries={"max_attempts": attempts, "mode": "standard"},
        max_pool_connections=pool,
        connect_timeout=10,
        read_timeout=60,
    )
    return module.client(service, region=region, config=config)
