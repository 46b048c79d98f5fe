"""A real PostgreSQL server on loopback that stands behind every emulated RDS endpoint.

A restore runbook is only proved if its verification code runs against a database with
data in it. The lab therefore starts one PostgreSQL 15 cluster on 127.0.0.1, gives each
seeded RDS instance its own database with timestamped rows, and, when the emulator restores
an instance, clones the source's database and removes the rows written after the restore
point: the restored copy then holds what AWS would have restored.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import pwd
import secrets
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from psycopg2 import sql

LOG = logging.getLogger("lab.postgres")

PG_BIN_CANDIDATES = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin")
VERIFY_ROLE = "careops_verify"
ADMIN_ROLE = "careops_admin"

# Tables every lab database holds, with the column that says when a row was written; the
# clone for a restore drops rows newer than the restore point in exactly these columns.
SCHEMA: dict[str, tuple[str, str]] = {
    "records": (
        "CREATE TABLE records (id bigserial PRIMARY KEY, subject text NOT NULL, "
        "body text NOT NULL, written_at timestamptz NOT NULL)",
        "written_at",
    ),
    "audit_log": (
        "CREATE TABLE audit_log (id bigserial PRIMARY KEY, actor text NOT NULL, "
        "action text NOT NULL, occurred_at timestamptz NOT NULL)",
        "occurred_at",
    ),
}


def db_name_for(instance_id: str) -> str:
    """The PostgreSQL database name behind an RDS instance identifier."""
    return instance_id.replace("-", "_")


def find_pg_bin() -> Path | None:
    for candidate in PG_BIN_CANDIDATES:
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@dataclass
class LabPostgres:
    """One PostgreSQL cluster owned by the lab."""

    data_dir: Path
    port: int
    admin_password: str = ""
    verify_password: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._run_as: str | None = "postgres" if os.geteuid() == 0 else None

    # ----------------------------------------------------------------- lifecycle
    def _cmd(self, *args: str) -> list[str]:
        if self._run_as:
            return ["runuser", "-u", self._run_as, "--", *args]
        return list(args)

    def _run(self, *command: str) -> None:
        result = subprocess.run(self._cmd(*command), check=False, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(
                f"{Path(command[0]).name} failed ({result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-400:]}"
            )

    def start(self) -> None:
        bin_dir = find_pg_bin()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL server binaries not found; run scripts/bootstrap.sh")
        self.admin_password = self.admin_password or secrets.token_urlsafe(18)
        self.verify_password = self.verify_password or secrets.token_urlsafe(18)
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self.data_dir.mkdir(parents=True)
        if self._run_as:
            user = pwd.getpwnam(self._run_as)
            os.chown(self.data_dir, user.pw_uid, user.pw_gid)
            self.data_dir.parent.chmod(0o755)
        self.data_dir.chmod(0o700)
        self._run(
            str(bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "postgres",
            "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
        )  # fmt: skip
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a") as handle:
            handle.write(
                "\n# careops lab: loopback only, small footprint\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {self.port}\n"
                f"unix_socket_directories = '{self.data_dir}'\n"
                "shared_buffers = 16MB\nmax_connections = 50\nfsync = off\n"
            )
        self._run(
            str(bin_dir / "pg_ctl"), "-D", str(self.data_dir),
            "-l", str(self.data_dir / "server.log"), "-w", "start",
        )  # fmt: skip
        with self._superuser("postgres") as cur:
            cur.execute(
                sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD %s").format(sql.Identifier(ADMIN_ROLE)),
                (self.admin_password,),
            )
            cur.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD %s IN ROLE pg_read_all_data").format(
                    sql.Identifier(VERIFY_ROLE)
                ),
                (self.verify_password,),
            )
        LOG.info("PostgreSQL listening on 127.0.0.1:%d", self.port)

    def stop(self) -> None:
        bin_dir = find_pg_bin()
        if bin_dir is None or not (self.data_dir / "postmaster.pid").exists():
            return
        subprocess.run(
            self._cmd(str(bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "stop"),
            check=False,
            capture_output=True,
        )

    # ----------------------------------------------------------------- data
    def _superuser(self, dbname: str) -> _Cursor:
        return _Cursor(str(self.data_dir), self.port, dbname)

    def create_database(self, instance_id: str, history_days: int, rows: int = 400) -> str:
        """A database for one RDS instance, with rows spread over the last ``history_days``."""
        name = db_name_for(instance_id)
        with self._superuser("postgres") as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        with self._superuser(name) as cur:
            for ddl, _ in SCHEMA.values():
                cur.execute(ddl)
            cur.execute(
                "INSERT INTO records (subject, body, written_at) "
                "SELECT 'subject-' || g, md5(g::text), "
                "now() - make_interval(secs => (%s * 86400.0) * (%s - g) / %s) "
                "FROM generate_series(1, %s) AS g",
                (history_days, rows, rows, rows),
            )
            cur.execute(
                "INSERT INTO audit_log (actor, action, occurred_at) "
                "SELECT 'lab', 'seed', written_at FROM records"
            )
        return name

    def clone_at(self, source_id: str, target_id: str, point: dt.datetime) -> str:
        """Copy the source's database as of ``point`` under the target's name."""
        source, target = db_name_for(source_id), db_name_for(target_id)
        with self._lock:
            with self._superuser("postgres") as cur:
                cur.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (source,),
                )
                cur.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        sql.Identifier(target), sql.Identifier(source)
                    )
                )
            with self._superuser(target) as cur:
                for table, (_, column) in SCHEMA.items():
                    cur.execute(
                        sql.SQL("DELETE FROM {} WHERE {} > %s").format(
                            sql.Identifier(table), sql.Identifier(column)
                        ),
                        (point,),
                    )
        LOG.info("restored database %s from %s as of %s", target, source, point.isoformat())
        return target

    def interrupt(self, instance_id: str, seconds: float) -> None:
        """Refuse connections to an instance's database for ``seconds`` (a reboot)."""
        name = db_name_for(instance_id)

        def allow(flag: bool) -> None:
            try:
                with self._superuser("postgres") as cur:
                    cur.execute(
                        sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                            sql.Identifier(name), sql.SQL("true" if flag else "false")
                        )
                    )
                    if not flag:
                        cur.execute(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                            (name,),
                        )
            except psycopg2.Error as error:
                LOG.warning("could not change connections of %s: %s", name, error)

        allow(False)
        timer = threading.Timer(seconds, allow, args=(True,))
        timer.daemon = True
        timer.start()

    def rename(self, old_id: str, new_id: str) -> None:
        """Follow an RDS rename so the endpoint keeps pointing at the same data."""
        old, new = db_name_for(old_id), db_name_for(new_id)
        with self._lock, self._superuser("postgres") as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (old,),
            )
            cur.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(old), sql.Identifier(new))
            )


class _Cursor:
    """A superuser cursor over the cluster's unix socket, autocommit, closed on exit."""

    def __init__(self, socket_dir: str, port: int, dbname: str) -> None:
        self._args = {"host": socket_dir, "port": port, "dbname": dbname, "user": "postgres"}

    def __enter__(self) -> psycopg2.extensions.cursor:
        self._conn = psycopg2.connect(**self._args)
        self._conn.autocommit = True
        self._cur = self._conn.cursor()
        return self._cur

    def __exit__(self, *exc: object) -> None:
        self._cur.close()
        self._conn.close()
