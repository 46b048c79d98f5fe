"""The lab server process: emulator, PostgreSQL, seeding, and a small control API.

Run by ``python -m lab serve`` (``lab up`` starts it in the background). Everything binds to
127.0.0.1. The process owns the PostgreSQL cluster and stops it when it is told to stop.

Control API, beside the AWS endpoints on the same port (never used by playbooks):
- ``GET /lab-api/health``: ``{"ready": true}`` once the estate is seeded;
- ``POST /lab-api/settings``: ``{"transition_seconds": 0.5}`` changes how long resources
  stay in transitional states;
- ``GET /lab-api/calls``: every AWS call since the last ``POST /lab-api/calls/reset``, as
  ``{"service", "action", "mutating"}`` records; tests count write calls with it;
- ``POST /lab-api/backdate``: ``{"db_instance_identifier": ID, "days": N}`` makes an instance
  look N days old, which widens its restorable window (tests use it).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
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
    service = "unknown"
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        service = scope[3] if len(scope) > 3 else service
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
    if action:
        mutating = action.startswith(MUTATING_PREFIXES)
    else:
        # REST services (S3 and friends): the HTTP method says it.
        action = f"{method} {environ.get('PATH_INFO', '')}"
        mutating = method in ("PUT", "POST", "DELETE", "PATCH")
    return {"service": service, "action": action, "mutating": mutating}


class LabApp:
    """WSGI app: the lab's control API in front of moto's dispatcher."""

    def __init__(self) -> None:
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.ready = threading.Event()
        self.calls: list[dict[str, Any]] = []
        self._calls_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/lab-api/"):
            if not path.startswith("/moto-api/"):
                self._log_call(environ)
            return self.moto(environ, start_response)
        request = Request(environ)
        try:
            body = self.control(path.removeprefix("/lab-api/"), request)
            response = Response(json.dumps(body), mimetype="application/json")
        except (KeyError, ValueError) as error:
            response = Response(json.dumps({"error": str(error)}), status=400)
        return response(environ, start_response)

    def _log_call(self, environ: dict[str, Any]) -> None:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        record = classify(environ, body)
        with self._calls_lock:
            self.calls.append(record)

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
            emulator.SETTINGS.transition_seconds = float(payload["transition_seconds"])
            return {"transition_seconds": emulator.SETTINGS.transition_seconds}
        if action == "backdate":
            database = rds_backend(payload.get("region", estate.PRIMARY)).databases[
                payload["db_instance_identifier"]
            ]
            database.__dict__["lab_created_at"] = emulator._utcnow() - dt.timedelta(
                days=float(payload["days"])
            )
            return {"earliest": emulator.earliest_restorable_time(database).isoformat()}
        raise KeyError(f"unknown lab action {action!r}")


def rds_backend(region: str) -> Any:
    return get_backend("rds")[estate.ACCOUNT][region]


def serve(state_dir: Path, port: int, transition_seconds: float) -> None:
    """Start everything, seed, write the state file, then serve until SIGTERM."""
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

    stopping = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        LOG.info("signal %d: stopping", signum)
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stopping.wait()
    server.shutdown()
    if postgres is not None:
        postgres.stop()
        shutil.rmtree(postgres.data_dir.parent, ignore_errors=True)
    LOG.info("lab stopped")
