#!/usr/bin/python
"""Ansible module: probe a PostgreSQL endpoint with short connections and measure its downtime."""

from __future__ import annotations

import os
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule

try:
    import psycopg2

    HAS_PSYCOPG2 = True
except ImportError:
    HAS_PSYCOPG2 = False

DOCUMENTATION = r"""
---
module: careops_connection_probe
short_description: Measure the downtime of a PostgreSQL endpoint, as an application would see it
description:
  - Opens a new connection and runs C(SELECT 1) every I(interval) seconds until I(stop_file)
    exists or I(max_seconds) have passed, and reports every outage (first failed attempt to the
    next successful one), the total downtime and the longest outage.
  - Meant to run with C(async) and C(poll: 0) while a failover drill reboots the instance, then
    to be stopped by creating I(stop_file) and collected with C(async_status).
  - Read-only: it never writes to the database; the session is read-only.
options:
  host:
    description: Endpoint address.
    type: str
    required: true
  port:
    description: Endpoint port.
    type: int
    default: 5432
  dbname:
    description: Database to connect to.
    type: str
    required: true
  user:
    description: Login (read-only).
    type: str
    required: true
  password:
    description: Password of the login.
    type: str
    required: true
  sslmode:
    description: libpq sslmode.
    type: str
    default: prefer
  stop_file:
    description: The probe stops once this file exists.
    type: path
    required: true
  max_seconds:
    description: The probe stops after this many seconds in any case.
    type: float
    default: 900
  interval:
    description: Seconds between attempts; also the resolution of the measurement.
    type: float
    default: 0.25
  connect_timeout:
    description: Seconds one attempt may wait for a connection.
    type: int
    default: 2
requirements:
  - psycopg2
author:
  - careops platform team
"""

EXAMPLES = r"""
- name: Drill | Start the connection probe
  careops_connection_probe:
    host: "{{ endpoint.address }}"
    port: "{{ endpoint.port }}"
    dbname: prod_clinical_records
    user: "{{ login.username }}"
    password: "{{ login.password }}"
    stop_file: /tmp/careops-drill/stop
  async: 1000
  poll: 0
  register: probe_job
  no_log: true
"""

RETURN = r"""
attempts:
  description: Connection attempts made.
  returned: always
  type: int
failures:
  description: Attempts that failed.
  returned: always
  type: int
baseline_ok:
  description: Whether the first attempt succeeded (the probe saw the endpoint up before the drill).
  returned: always
  type: bool
outages:
  description: Each outage with start and end (seconds since the epoch), length in seconds and last error.
  returned: always
  type: list
  elements: dict
downtime_seconds:
  description: Sum of all outages; an outage still open at the end counts up to the end.
  returned: always
  type: float
longest_outage_seconds:
  description: Longest single outage.
  returned: always
  type: float
ended_by:
  description: stop_file or max_seconds.
  returned: always
  type: str
"""


def attempt(params: dict[str, Any]) -> str | None:
    """One connection and SELECT 1; None when it worked, else the error's first line."""
    try:
        connection = psycopg2.connect(
            host=params["host"],
            port=params["port"],
            dbname=params["dbname"],
            user=params["user"],
            password=params["password"],
            sslmode=params["sslmode"],
            connect_timeout=params["connect_timeout"],
            options="-c default_transaction_read_only=on",
        )
    except psycopg2.Error as error:
        return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return None
    except psycopg2.Error as error:
        return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    finally:
        connection.close()


def probe(params: dict[str, Any]) -> dict[str, Any]:
    """Attempt connections until stopped; return the outages seen."""
    started = time.time()
    outages: list[dict[str, Any]] = []
    attempts = failures = 0
    baseline_ok: bool | None = None
    open_outage: dict[str, Any] | None = None
    ended_by = "max_seconds"
    while time.time() - started < params["max_seconds"]:
        if os.path.exists(params["stop_file"]):
            ended_by = "stop_file"
            break
        moment = time.time()
        error = attempt(params)
        attempts += 1
        if baseline_ok is None:
            baseline_ok = error is None
        if error is None and open_outage is not None:
            open_outage.update(end=moment, seconds=round(moment - open_outage["start"], 3))
            outages.append(open_outage)
            open_outage = None
        elif error is not None:
            failures += 1
            if open_outage is None:
                open_outage = {"start": moment, "end": None, "seconds": None, "error": error}
            open_outage["error"] = error
        time.sleep(max(0.0, params["interval"] - (time.time() - moment)))
    if open_outage is not None:
        end = time.time()
        open_outage.update(end=end, seconds=round(end - open_outage["start"], 3), still_down=True)
        outages.append(open_outage)
    lengths = [outage["seconds"] for outage in outages]
    return {
        "attempts": attempts,
        "failures": failures,
        "baseline_ok": bool(baseline_ok),
        "outages": outages,
        "downtime_seconds": round(sum(lengths), 3),
        "longest_outage_seconds": round(max(lengths, default=0.0), 3),
        "ended_by": ended_by,
        "probe_seconds": round(time.time() - started, 3),
    }


def main() -> None:
    """Run the probe and report."""
    module = AnsibleModule(
        argument_spec={
            "host": {"type": "str", "required": True},
            "port": {"type": "int", "default": 5432},
            "dbname": {"type": "str", "required": True},
            "user": {"type": "str", "required": True},
            "password": {"type": "str", "required": True, "no_log": True},
            "sslmode": {"type": "str", "default": "prefer"},
            "stop_file": {"type": "path", "required": True},
            "max_seconds": {"type": "float", "default": 900},
            "interval": {"type": "float", "default": 0.25},
            "connect_timeout": {"type": "int", "default": 2},
        },
        supports_check_mode=True,
    )
    if not HAS_PSYCOPG2:
        module.fail_json(msg="careops_connection_probe needs psycopg2 on the controller")
    module.exit_json(changed=False, **probe(module.params))


if __name__ == "__main__":
    main()
