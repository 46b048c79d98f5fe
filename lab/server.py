"""The lab server process: emulator, PostgreSQL, seeding, and a small control API.

Run by ``python -m lab serve`` (``lab up`` starts it in the background). Everything binds to
127.0.0.1. The process owns the PostgreSQL cluster and stops it when it is told to stop.

Control API, beside the AWS endpoints on the same port (never used by playbooks):
- ``GET /lab-api/health``: ``{"ready": true}`` once the estate is seeded;
- ``POST /lab-api/settings``: ``{"transition_seconds": 0.5}`` changes how long resources
  stay in transitional states;
- ``GET /lab-api/calls``: every AWS call since the last ``POST /lab-api/calls/reset``, as
  ``{"service", "region", "action", "mutating", "status"}`` records, plus ``query`` for REST
  calls (S3's ``?encryption`` and the like name the operation there); tests count write calls
  with it, scripts/iam_from_calls.py derives IAM actions from it, and the least-privilege tests
  find AccessDenied answers (403) that a module might have swallowed;
- ``POST /lab-api/settings`` with ``{"fault_rate": 0.2, "throttle_share": 0.8, "seed": 1}``
  fails that share of AWS requests with throttling errors or 503s; ``GET /lab-api/faults``
  counts what was injected;
- ``POST /lab-api/backdate``: ``{"db_instance_identifier": ID, "days": N}`` makes an instance
  look N days old, which widens its restorable window (tests use it).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import random
import shutil
import signal
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from moto.backends import get_backend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from lab import emulator, estate
from lab.postgres import LabPostgres, find_pg_bin

LOG = logging.getLogger("lab.server")
HISTORY_DAYS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Verbs that change something in AWS. Anything else (Describe, Get, List, ...) is a read.
MUTATING_PREFIXES = (
    "Add",
    "Apply",
    "Associate",
    "Attach",
    "Authorize",
    "Cancel",
    "Copy",
    "Create",
    "Delete",
    "Deregister",
    "Detach",
    "Disable",
    "Disassociate",
    "Enable",
    "Failover",
    "Import",
    "Modify",
    "Promote",
    "Put",
    "Reboot",
    "Register",
    "Remove",
    "Replace",
    "Reset",
    "Restore",
    "Revoke",
    "Rotate",
    "Run",
    "Set",
    "Start",
    "Stop",
    "Tag",
    "Terminate",
    "Untag",
    "Update",
)


def classify(environ: dict[str, Any], body: bytes) -> dict[str, Any]:
    """Name the service and action of one AWS request, and whether it writes."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    service, region = "unknown", ""
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        service = scope[3] if len(scope) > 3 else service
        region = scope[2] if len(scope) > 3 else region
    action = ""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        action = target.rsplit(".", 1)[-1]
    else:
        params = parse_qs(environ.get("QUERY_STRING", ""))
        if not params.get("Action") and body:
            params = parse_qs(body.decode("utf-8", "replace"))
        action = (params.get("Action") or [""])[0]
    method = environ.get("REQUEST_METHOD", "GET")
    record: dict[str, Any] = {"service": service, "region": region}
    if action:
        mutating = action.startswith(MUTATING_PREFIXES)
    else:
        # REST services (S3 and friends): the HTTP method says it; the query names the operation
        # (GET /bucket?encryption is GetBucketEncryption, not ListObjects).
        action = f"{method} {environ.get('PATH_INFO', '')}"
        mutating = method in ("PUT", "POST", "DELETE", "PATCH")
        record["query"] = environ.get("QUERY_STRING", "")
    return {**record, "action": action, "mutating": mutating}


def _protocol(environ: dict[str, Any], record: dict[str, Any]) -> str:
    """How the service spells its errors: ec2, query (XML), json, or rest (S3-style XML)."""
    if record["service"] == "ec2":
        return "ec2"
    if environ.get("HTTP_X_AMZ_TARGET") or "json" in environ.get("CONTENT_TYPE", ""):
        return "json"
    if record["action"] and " " not in record["action"]:
        return "query"
    return "rest"


class FaultInjector:
    """Fails a share of AWS requests the way AWS does under load, before they take effect.

    ``rate`` is the share of requests that fail; of those, ``throttle_share`` are throttling
    errors and the rest HTTP 503s. A failed request changes nothing, as on AWS, so a client
    that retries correctly ends with the same result as without faults.
    """

    def __init__(self) -> None:
        self.rate = 0.0
        self.throttle_share = 0.8
        self.injected: dict[str, int] = {"throttle": 0, "unavailable": 0}
        self._random = random.Random()  # noqa: S311 - fault injection, not cryptography
        self._lock = threading.Lock()

    def configure(self, rate: float, throttle_share: float, seed: int | None) -> None:
        if not 0 <= rate < 1 or not 0 <= throttle_share <= 1:
            raise ValueError("fault_rate must be in [0, 1) and throttle_share in [0, 1]")
        with self._lock:
            self.rate, self.throttle_share = rate, throttle_share
            self._random.seed(seed)
            self.injected = {"throttle": 0, "unavailable": 0}

    def draw(self, record: dict[str, Any]) -> Response | None:
        with self._lock:
            if self.rate <= 0 or self._random.random() >= self.rate:
                return None
            throttle = self._random.random() < self.throttle_share
            self.injected["throttle" if throttle else "unavailable"] += 1
        return _error_response(record["protocol"], throttle)


# Each protocol's throttling error code, and the HTTP status AWS sends with it.
_THROTTLE = {
    "json": ("ThrottlingException", 400),
    "ec2": ("RequestLimitExceeded", 503),
    "rest": ("SlowDown", 503),
    "query": ("Throttling", 400),
}


def _error_response(protocol: str, throttle: bool) -> Response:
    """An error as the service's protocol spells it, so clients parse and classify it."""
    code, status = _THROTTLE[protocol] if throttle else ("ServiceUnavailable", 503)
    message = f"{'Rate exceeded' if throttle else 'Service unavailable'} (lab fault injection)"
    if protocol == "json":
        body = json.dumps({"__type": code, "message": message})
        return Response(body, status=status, content_type="application/x-amz-json-1.1")
    if protocol == "ec2":
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error>"
            "</Errors><RequestID>lab</RequestID></Response>"
        )
        return Response(body, status=status, content_type="text/xml")
    if protocol == "rest":
        body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
        return Response(body, status=status, content_type="application/xml")
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>"
        "</Error><RequestId>lab</RequestId></ErrorResponse>"
    )
    return Response(body, status=status, content_type="text/xml")


class LabApp:
    """WSGI app: the lab's control API in front of moto's dispatcher."""

    def __init__(self) -> None:
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.ready = threading.Event()
        self.calls: list[dict[str, Any]] = []
        self._calls_lock = threading.Lock()
        self.faults = FaultInjector()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/lab-api/"):
            if not path.startswith("/moto-api/"):
                record = self._log_call(environ)

                def recording_start_response(status: str, headers: Any, *rest: Any) -> Any:
                    record["status"] = int(status.split(" ", 1)[0])
                    return start_response(status, headers, *rest)

                fault = self.faults.draw(record)
                if fault is not None:
                    return fault(environ, recording_start_response)
                return self.moto(environ, recording_start_response)
            return self.moto(environ, start_response)
        request = Request(environ)
        try:
            body = self.control(path.removeprefix("/lab-api/"), request)
            response = Response(json.dumps(body), mimetype="application/json")
        except (KeyError, ValueError) as error:
            response = Response(json.dumps({"error": str(error)}), status=400)
        return response(environ, start_response)

    def _log_call(self, environ: dict[str, Any]) -> dict[str, Any]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        record = classify(environ, body)
        record["protocol"] = _protocol(environ, record)
        with self._calls_lock:
            self.calls.append(record)
        return record

    def control(self, action: str, request: Request) -> dict[str, Any]:
        if action == "health":
            return {"ready": self.ready.is_set()}
        if action == "calls":
            with self._calls_lock:
                return {"calls": list(self.calls)}
        if action == "calls/reset":
            with self._calls_lock:
                count = len(self.calls)
                self.calls.clear()
            return {"cleared": count}
        payload = (request.get_json(force=True, silent=True) or {}) if request.method == "POST" else {}
        if action == "settings":
            if "transition_seconds" in payload:
                emulator.SETTINGS.transition_seconds = float(payload["transition_seconds"])
            if "fault_rate" in payload:
                self.faults.configure(
                    float(payload["fault_rate"]),
                    float(payload.get("throttle_share", 0.8)),
                    payload.get("seed"),
                )
            return {
                "transition_seconds": emulator.SETTINGS.transition_seconds,
                "fault_rate": self.faults.rate,
            }
        if action == "faults":
            return {"rate": self.faults.rate, "injected": dict(self.faults.injected)}
        if action in ("backdate", "age-snapshot"):
            return _age(action, payload)
        raise KeyError(f"unknown lab action {action!r}")


def _age(action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Make an instance's history or a snapshot older than the lab is: restore windows and
    retention clean-ups act on days, and tests cannot wait for them."""
    backend = rds_backend(payload.get("region", estate.PRIMARY))
    if action == "backdate":
        database = backend.databases[payload["db_instance_identifier"]]
        database.__dict__["lab_created_at"] = emulator._utcnow() - dt.timedelta(days=float(payload["days"]))
        return {"earliest": emulator.earliest_restorable_time(database).isoformat()}
    pool = backend.cluster_snapshots if payload.get("kind") == "cluster" else backend.database_snapshots
    snapshot = pool[payload["snapshot"]]
    snapshot.created = snapshot.created - dt.timedelta(days=float(payload["days"]))
    return {"created": snapshot.created.isoformat()}


def _wait_for_stop(exit_with: int | None) -> bool:
    """Block until SIGTERM/SIGINT, or until ``exit_with`` is gone; True in the second case."""
    stopping = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        LOG.info("signal %d: stopping", signum)
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stopping.wait(2):
        if exit_with is not None and not _alive(exit_with):
            LOG.info("process %d is gone: stopping the lab it owned", exit_with)
            return True
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_fleet(state_dir: Path) -> None:
    """Remove the containers `lab up` recorded, when nobody is left to run `lab down`."""
    try:
        hosts = json.loads((state_dir / "state.json").read_text())["fleet"]["hosts"]
    except (OSError, ValueError, KeyError):
        return
    from lab import fleet  # noqa: PLC0415 - podman is only needed when there is a fleet

    fleet.stop([host["name"] for host in hosts])
    for name in ("state.json", "server.json", "env"):
        (state_dir / name).unlink(missing_ok=True)


def rds_backend(region: str) -> Any:
    return get_backend("rds")[estate.ACCOUNT][region]


def serve(state_dir: Path, port: int, transition_seconds: float, exit_with: int | None = None) -> None:
    """Start everything, seed, write the state file, then serve until SIGTERM.

    With ``exit_with``, the lab also stops (fleet included) once that process is gone, so a
    test run that is killed before its teardown leaves no server, database or container behind.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    emulator.install()
    postgres: LabPostgres | None = None
    pg_note = None
    if find_pg_bin() is None:
        pg_note = "PostgreSQL server binaries not found: restored databases cannot be verified"
    else:
        # The server runs as the postgres user when the lab runs as root, and the state folder
        # may sit under a private parent (pytest's tmp folders are 0700): use a folder of its own.
        pg_dir = Path(tempfile.mkdtemp(prefix="careops-lab-pg-")) / "data"
        postgres = LabPostgres(pg_dir, free_port())
        postgres.start()
        emulator.SETTINGS.db_endpoint = ("127.0.0.1", postgres.port)
        emulator.SETTINGS.on_restore = postgres.clone_at
        emulator.SETTINGS.on_reboot = postgres.interrupt

    app = LabApp()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{port}"
    LOG.info("emulator listening on %s", endpoint)

    emulator.SETTINGS.transition_seconds = 0
    seeder = estate.Seeder(
        endpoint,
        on_database=(lambda ident: postgres.create_database(ident, HISTORY_DAYS)) if postgres else None,
    )
    seeded = seeder.seed()
    for identifier in seeded.databases:
        rds_backend(estate.PRIMARY).databases[identifier].__dict__["lab_created_at"] = (
            emulator._utcnow() - dt.timedelta(days=HISTORY_DAYS)
        )
    secret_arn = None
    if postgres is not None:
        secret_arn = seeder.client("secretsmanager").create_secret(
            Name="careops/lab/db-verify",
            Description="Read-only login the restore runbooks use to verify restored data (lab)",
            SecretString=json.dumps({"username": "careops_verify", "password": postgres.verify_password}),
        )["ARN"]
    emulator.SETTINGS.transition_seconds = transition_seconds

    state = {
        "pid": os.getpid(),
        "endpoint": endpoint,
        "region": estate.PRIMARY,
        "dr_region": estate.DR,
        "account": estate.ACCOUNT,
        "started_at": emulator._utcnow().isoformat(),
        "transition_seconds": transition_seconds,
        "postgres": (
            {"host": "127.0.0.1", "port": postgres.port, "verify_secret": secret_arn}
            if postgres
            else {"skipped": pg_note}
        ),
        "estate": {
            "vpcs": seeded.vpcs,
            "subnets": seeded.subnets,
            "security_groups": seeded.security_groups,
            "databases": seeded.databases,
            "clusters": seeded.clusters,
            "buckets": seeded.buckets,
            "log_groups": seeded.log_groups,
            "topics": seeded.topics,
            "asgs": seeded.asgs,
            "beanstalk_environments": seeded.beanstalk_environments,
            "image_id": seeded.__dict__.get("image_id"),
        },
        "drift": seeded.drift,
    }
    server_state = state_dir / "server.json"
    server_state.write_text(json.dumps(state, indent=2, default=str))
    server_state.chmod(0o600)
    app.ready.set()
    LOG.info("lab ready")

    orphaned = _wait_for_stop(exit_with)
    server.shutdown()
    if orphaned:
        _remove_fleet(state_dir)
    if postgres is not None:
        postgres.stop()
        shutil.rmtree(postgres.data_dir.parent, ignore_errors=True)
    LOG.info("lab stopped")
