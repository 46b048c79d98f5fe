"""Helpers shared by the careops modules: one boto3 session and one retry policy for all calls.

Standard retry mode with jittered exponential backoff, and enough attempts to ride out
throttling on large accounts: a run that gives up half-way leaves an estate half read or half
fixed, which is worse than a slow run.

``AnsibleAWSModule.client`` builds a new boto3 session for every client, and each session loads
botocore's service data again: for the audit's two dozen clients that was most of its run time.
``client_factory`` builds the session once, from the same connection settings the module got
(profile, keys, endpoint), and hands out clients from it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

try:
    import boto3
    from botocore.config import Config
except ImportError:  # AnsibleAWSModule reports the missing libraries itself
    boto3 = None
    Config = None

from ansible_collections.amazon.aws.plugins.module_utils.botocore import get_aws_connection_info

RETRY_ATTEMPTS = 10


def retry_config(attempts: int = RETRY_ATTEMPTS, pool: int = 10) -> Any:
    return Config(
        retries={"max_attempts": attempts, "mode": "standard"},
        max_pool_connections=pool,
        connect_timeout=10,
        read_timeout=60,
    )


def client_factory(module: Any, attempts: int = RETRY_ATTEMPTS, pool: int = 10) -> Callable[[str, str], Any]:
    """A function (service, region) -> client, all clients from one session."""
    _region, endpoint, params = get_aws_connection_info(module)
    params = dict(params)
    session = boto3.session.Session(profile_name=params.pop("profile_name", None))
    user_config = params.pop("aws_config", None) or params.pop("config", None)
    config = retry_config(attempts, pool)
    if user_config is not None:
        config = config.merge(user_config if isinstance(user_config, Config) else Config(**user_config))

    def make(service: str, region: str) -> Any:
        return session.client(service, region_name=region, endpoint_url=endpoint, config=config, **params)

    return make


def client(module: Any, service: str, region: str, attempts: int = RETRY_ATTEMPTS, pool: int = 10) -> Any:
    """A boto3 client for one region, with standard retries; credentials as the module got them."""
    return module.client(service, region=region, config=retry_config(attempts, pool))
