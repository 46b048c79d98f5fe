#!/usr/bin/env bash
# Fail when a tracked file holds a secret that .secrets.baseline does not already list.
#
# Runs detect-secrets-hook (pinned in requirements.txt) over every file git tracks, against a
# copy of the baseline, so that `make lint` never rewrites the committed baseline. The lab's
# throw-away key ("lab") is excluded in the baseline itself (filters_used), not here.
#
#   scripts/check_secrets.sh            # from the repository root, or through make lint
#
# To accept a reviewed false positive: .venv/bin/detect-secrets scan --baseline .secrets.baseline
# then .venv/bin/detect-secrets audit .secrets.baseline, and commit the baseline.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
hook="${DETECT_SECRETS_HOOK:-$root/.venv/bin/detect-secrets-hook}"
[ -x "$hook" ] || { echo "check_secrets: $hook not found; run make setup" >&2; exit 2; }
[ -f .secrets.baseline ] || { echo "check_secrets: .secrets.baseline is missing" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp .secrets.baseline "$work/baseline.json"

# Tracked files that still exist (a deletion not yet committed is not a file to scan).
mapfile -d '' files < <(git ls-files -z | while IFS= read -r -d '' f; do
  [ -f "$f" ] && [ "$f" != .secrets.baseline ] && printf '%s\0' "$f"
done)

set +e
"$hook" --baseline "$work/baseline.json" "${files[@]}"
status=$?
set -e
case "$status" in
  0) echo "check_secrets: no new secrets in ${#files[@]} tracked files" ;;
  3) echo "check_secrets: no new secrets in ${#files[@]} tracked files" \
          "(line numbers in .secrets.baseline are stale; refresh with detect-secrets scan --baseline)" ;;
  *) echo "check_secrets: detect-secrets found secrets not in .secrets.baseline (above)" >&2
     exit 1 ;;
esac
