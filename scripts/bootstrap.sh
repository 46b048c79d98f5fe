#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine for careops: OS packages (when root), a Python 3.12+
# interpreter, and the project-local virtual environment at .venv with pinned dependencies.
# Safe to run again: every step checks before it acts, so a warm machine costs seconds.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
venv="$top/.venv"
stamp="$venv/.requirements.sha256"

log() { printf '[bootstrap] %s\n' "$*"; }

# podman/runc/debootstrap run the lab fleet and molecule; postgresql serves the restored
# databases the runbooks verify; lynis measures hardening. Installed only when missing.
os_packages=(podman runc debootstrap uidmap postgresql lynis git make)
missing=()
for pkg in "${os_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    log "installing OS packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null || log "apt-get update failed; trying the install with the cached lists"
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    # Debian starts a cluster on install; the lab runs its own server on loopback instead.
    if [[ " ${missing[*]} " == *" postgresql "* ]] && command -v systemctl >/dev/null; then
      systemctl disable --now postgresql >/dev/null 2>&1 || true
    fi
  else
    log "not root or no apt-get: skipping OS packages (${missing[*]}); the lab fleet needs them"
  fi
fi

find_python() {
  local candidates=(python3.13 python3.12 python3)
  local pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
  for v in "$pyenv_root"/versions/3.1[2-9]*; do
    [[ -x "$v/bin/python3" ]] && candidates=("$v/bin/python3" "${candidates[@]}")
  done
  for c in "${candidates[@]}"; do
    # pyenv shims exist but fail unless a version is selected: run each to be sure.
    if "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
      command -v "$c" || echo "$c"
      return 0
    fi
  done
  return 1
}

if [[ ! -x "$venv/bin/python" ]]; then
  py=$(find_python) || { log "no Python 3.12+ found (ansible-core 2.21 needs it)"; exit 1; }
  log "creating .venv with $py ($("$py" --version))"
  "$py" -m venv "$venv"
fi

want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [[ ! -f "$stamp" || $(cat "$stamp") != "$want" ]]; then
  log "installing pinned Python dependencies (requirements.txt)"
  "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$venv/bin/python" -m pip install -q -r requirements.txt
  echo "$want" >"$stamp"
else
  log ".venv is up to date"
fi
