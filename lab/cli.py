"""Command line of the lab: ``python -m lab up|down|status|env|image|serve``.

``up`` starts the server process in the background, waits until the estate is seeded,
starts the podman fleet and registers it, then writes two files into the state folder
(``.lab/`` unless ``CAREOPS_LAB_DIR`` says otherwise):

- ``state.json``: endpoint, PostgreSQL port, estate, drift and fleet, for tests and tools;
- ``env``: shell exports (``AWS_ENDPOINT_URL``, the emulator's throw-away credentials, region)
  that make ``ansible-playbook`` and ``ansible-inventory`` talk to the lab.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from lab import ACCESS_KEY_ID, SECRET_ACCESS_KEY

ROOT = Path(__file__).resolve().parent.parent
LOG = logging.getLogger("lab")


def state_dir() -> Path:
    return Path(os.environ.get("CAREOPS_LAB_DIR", ROOT / ".lab")).resolve()


def read_state(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / "state.json").read_text())
    except (OSError, ValueError):
        return None


def healthy(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/lab-api/health", timeout=2) as reply:  # noqa: S310
            return bool(json.load(reply).get("ready"))
    except (OSError, ValueError, urllib.error.URLError):
        return False


def lab_env(state: dict[str, Any]) -> dict[str, str]:
    """Environment that points AWS clients at the lab; the keys are the emulator's, not AWS's."""
    return {
        "AWS_ENDPOINT_URL": state["endpoint"],
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_REGION": state["region"],
        "AWS_DEFAULT_REGION": state["region"],
        "CAREOPS_LAB_DIR": str(state["state_dir"]),
    }


def cmd_up(args: argparse.Namespace) -> int:
    folder = state_dir()
    folder.mkdir(parents=True, exist_ok=True)
    existing = read_state(folder)
    if existing and healthy(existing["endpoint"]):
        print(f"lab already up at {existing['endpoint']} (state in {folder})")
        if existing["fleet"]["hosts"]:
            _mirror_agent_standin()
        return 0
    from lab.server import free_port  # noqa: PLC0415 - keeps `lab down` free of moto imports

    port = args.port or free_port()
    log = (folder / "server.log").open("ab")
    (folder / "server.json").unlink(missing_ok=True)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lab",
            "serve",
            "--port",
            str(port),
            "--transition-seconds",
            str(args.transition_seconds),
            *(["--exit-with", str(args.exit_with)] if args.exit_with else []),
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "CAREOPS_LAB_DIR": str(folder)},
    )
    endpoint = f"http://127.0.0.1:{port}"
    print(f"lab: starting the emulator on {endpoint} (pid {process.pid})")
    deadline = time.monotonic() + args.timeout
    while not healthy(endpoint):
        if process.poll() is not None:
            print(f"lab: the server exited with {process.returncode}; see {folder / 'server.log'}")
            return 1
        if time.monotonic() > deadline:
            process.terminate()
            print(f"lab: not ready after {args.timeout} s; see {folder / 'server.log'}")
            return 1
        time.sleep(0.3)
    state = json.loads((folder / "server.json").read_text())
    state["state_dir"] = str(folder)
    state["fleet"] = {"hosts": [], "skipped": None}
    print(
        f"lab: estate seeded ({len(state['estate']['databases'])} databases, "
        f"{len(state['estate'].get('clusters', {}))} Aurora clusters, "
        f"{len(state['estate']['buckets'])} buckets, {len(state['drift'])} deliberate drifts)"
    )
    if args.no_fleet:
        state["fleet"]["skipped"] = "--no-fleet was given"
    else:
        from lab import fleet  # noqa: PLC0415

        reason = fleet.unavailable_reason()
        if reason:
            state["fleet"]["skipped"] = reason
            print(f"lab: fleet skipped: {reason}. The AWS side of the lab is up.")
        else:
            import boto3  # noqa: PLC0415

            ec2 = boto3.client(
                "ec2",
                region_name=state["region"],
                endpoint_url=endpoint,
                aws_access_key_id=ACCESS_KEY_ID,
                aws_secret_access_key=SECRET_ACCESS_KEY,
            )
            print("lab: starting the fleet (systemd containers)")
            state["fleet"]["hosts"] = fleet.start(
                args.prefix,
                ec2,
                state["estate"]["subnets"],
                state["estate"]["security_groups"],
                state["estate"]["image_id"],
            )
            names = ", ".join(h["name"] for h in state["fleet"]["hosts"])
            print(f"lab: fleet up: {names}")
            _mirror_agent_standin()
    write_state(folder, state)
    shutil.rmtree(ROOT / ".cache" / "inventory" / "lab", ignore_errors=True)
    print(f"lab: up. To use it from a shell: . {folder / 'env'}")
    return 0


def _mirror_agent_standin() -> None:
    """Put the CloudWatch agent LAB STAND-IN package where the lab inventory points the role."""
    from lab.agent_standin.build import DEFAULT_OUT, build  # noqa: PLC0415

    package, _ = build(DEFAULT_OUT)
    print(f"lab: CloudWatch agent LAB STAND-IN package in the local mirror: {package}")


def write_state(folder: Path, state: dict[str, Any]) -> None:
    target = folder / "state.json"
    target.write_text(json.dumps(state, indent=2))
    target.chmod(0o600)
    exports = "".join(f"export {k}={v}\n" for k, v in lab_env(state).items())
    (folder / "env").write_text(
        "# Generated by `python -m lab up`: points AWS clients at the lab.\n" + exports
    )


def cmd_down(_args: argparse.Namespace) -> int:
    folder = state_dir()
    state = read_state(folder)
    server = None
    if state is None and (folder / "server.json").exists():
        server = json.loads((folder / "server.json").read_text())
    state = state or server
    if state is None:
        print("lab: not running")
        return 0
    names = [h["name"] for h in state.get("fleet", {}).get("hosts", [])]
    if names:
        from lab import fleet  # noqa: PLC0415

        fleet.stop(names)
        print(f"lab: removed containers {', '.join(names)}")
    pid = state.get("pid")
    if pid:
        try:
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                os.kill(pid, 0)
                time.sleep(0.2)
        except ProcessLookupError:
            pass
    for name in ("state.json", "server.json", "env"):
        (folder / name).unlink(missing_ok=True)
    shutil.rmtree(ROOT / ".cache" / "inventory" / "lab", ignore_errors=True)
    print("lab: down")
    return 0


def cmd_status(_args: argparse.Namespace) -> int:
    state = read_state(state_dir())
    if state is None or not healthy(state["endpoint"]):
        print("lab: down")
        return 1
    hosts = state["fleet"]["hosts"]
    print(f"lab: up at {state['endpoint']} (region {state['region']}, account {state['account']})")
    print(f"  databases: {', '.join(state['estate']['databases'])}")
    print(f"  postgres:  {state['postgres']}")
    if hosts:
        from lab import fleet  # noqa: PLC0415

        alive = fleet.running([h["name"] for h in hosts])
        for host in hosts:
            mark = "running" if host["name"] in alive else "MISSING"
            print(f"  fleet:     {host['name']} {host['instance_id']} {host['zone']} {mark}")
    else:
        print(f"  fleet:     skipped ({state['fleet']['skipped']})")
    return 0


def cmd_env(_args: argparse.Namespace) -> int:
    state = read_state(state_dir())
    if state is None:
        print("lab: down; run `make lab-up` first", file=sys.stderr)
        return 1
    for key, value in lab_env(state).items():
        print(f"export {key}={value}")
    return 0


def cmd_image(args: argparse.Namespace) -> int:
    from lab import image  # noqa: PLC0415

    print(image.build_image(force=args.force))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from lab.server import serve  # noqa: PLC0415

    serve(state_dir(), args.port, args.transition_seconds, args.exit_with)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the emulator, seed the estate, start the fleet")
    up.add_argument("--port", type=int, default=int(os.environ.get("CAREOPS_LAB_PORT", "0")))
    up.add_argument("--transition-seconds", type=float, default=2.0)
    up.add_argument("--no-fleet", action="store_true", help="only the AWS side")
    up.add_argument("--prefix", default=os.environ.get("CAREOPS_LAB_PREFIX", "lab"))
    up.add_argument("--timeout", type=float, default=120)
    up.add_argument(
        "--exit-with", type=int, metavar="PID", help="stop the lab when this process ends (tests)"
    )
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop the lab and remove its containers").set_defaults(func=cmd_down)
    sub.add_parser("status", help="what is running").set_defaults(func=cmd_status)
    sub.add_parser("env", help="print shell exports for the lab").set_defaults(func=cmd_env)
    img = sub.add_parser("image", help="build the Debian 12 systemd image")
    img.add_argument("--force", action="store_true")
    img.set_defaults(func=cmd_image)
    serve = sub.add_parser("serve", help="(internal) run the server in the foreground")
    serve.add_argument("--port", type=int, required=True)
    serve.add_argument("--transition-seconds", type=float, default=2.0)
    serve.add_argument("--exit-with", type=int, metavar="PID")
    serve.set_defaults(func=cmd_serve)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("botocore").setLevel(logging.WARNING)
    return args.func(args)
