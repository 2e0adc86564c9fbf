#!/usr/bin/env bash
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Set-up shared by tools/test.sh and tools/demo.sh. Everything a fresh machine lacks is
# installed here; nothing has to be installed by hand. Sourced, not run.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK="$ROOT/.tmp"
VENV="$ROOT/.venv"
COMPAT_VENV="$ROOT/.venv-py39"
# Staged outside the checkout (inside a git work tree ansible-test would list the ignored stage as
# empty), one stage per invocation so that two commands running at once never share one.
STAGE_ROOT="${TMPDIR:-/tmp}/picluster.clusterctrl-$(printf '%s' "$ROOT" | sha256sum | cut -c1-10)-$$"
COLLECTIONS="$STAGE_ROOT/collections"
STAGE="$COLLECTIONS/ansible_collections/picluster/clusterctrl"
PYBIN="$WORK/pybin"

log() { printf '\n=== %s\n' "$*"; }

# Commands run when the script exits, whatever the reason, last registered first (on_exit CMD adds one).
EXIT_HOOKS=()
on_exit() { EXIT_HOOKS+=("$1"); }
run_exit_hooks() {
  local i
  for ((i = ${#EXIT_HOOKS[@]} - 1; i >= 0; i--)); do eval "${EXIT_HOOKS[i]}" || true; done
}
trap run_exit_hooks EXIT

# A real interpreter of the given minor version (pyenv shims of versions not selected are broken): the
# interpreter's own path, never a venv's or a link in $PYBIN (which is made from what this prints).
find_python() {
  local want=$1 candidate real
  for candidate in "python$want" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$want".*/bin/"python$want" /usr/bin/"python$want" /usr/local/bin/"python$want"; do
    if command -v "$candidate" >/dev/null 2>&1 \
      && real=$("$candidate" -c 'import os, sys, venv; print(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))' 2>/dev/null) \
      && [ -x "$real" ]; then
      echo "$real"
      return 0
    fi
  done
  return 1
}

ensure_system_packages() {
  # chromium: the docs stage opens a built module page in headless Chromium.
  if command -v mosquitto >/dev/null 2>&1 && command -v mosquitto_passwd >/dev/null 2>&1 && command -v shellcheck >/dev/null 2>&1 \
    && command -v chromium >/dev/null 2>&1; then
    return 0
  fi
  log "installing mosquitto, shellcheck and chromium (Debian packages)"
  if [ "$(id -u)" != 0 ]; then
    echo "mosquitto, shellcheck or chromium is missing and this user cannot install it: run 'sudo apt-get install -y mosquitto shellcheck chromium'" >&2
    return 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto shellcheck chromium >/dev/null
  # The package's own service is not needed: the tests start their own brokers.
  (systemctl disable --now mosquitto >/dev/null 2>&1 || service mosquitto stop >/dev/null 2>&1 || true)
}

# Run pip without the index's harmless "Location ... is ignored" warnings; the status is pip's (pipefail).
quiet_pip() {
  "$@" 2>&1 | { grep -v '^WARNING: Location' || true; }
}

# make_venv DIR PYTHON REQUIREMENTS: (re)create DIR when the requirements changed. Stages running at the same time
# may need the same venv (matrix-oldest and matrix-2.14): the first creates it, the others wait (.tmp/NAME.lock).
make_venv() {
  local dir=$1 python=$2 requirements=$3 stamp lock status=0
  stamp=$(sha256sum < "$requirements" | cut -c1-16)-$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  mkdir -p "$WORK"
  exec {lock}> "$WORK/$(basename "$dir").lock"
  flock "$lock"
  if ! [ -x "$dir/bin/python" ] || [ "$(cat "$dir/.stamp" 2>/dev/null)" != "$stamp" ]; then
    log "creating $(basename "$dir") with $("$python" --version)"
    rm -rf "$dir"
    # The pip that the interpreter bundles installs the requirements (no upgrade of it first).
    if "$python" -m venv "$dir" && quiet_pip "$dir/bin/python" -m pip install -q -r "$requirements"; then
      echo "$stamp" > "$dir/.stamp"
    else
      status=1
    fi
  fi
  exec {lock}>&-
  return $status
}

# ensure_venvs [controller|with-compat]: the controller venv, and with-compat the Python 3.9 one too.
ensure_venvs() {
  local mode=$1 py312 py39
  py312=$(find_python 3.12 || find_python 3.13 || find_python 3.14) || {
    echo "ansible-core 2.21 needs Python 3.12 or later on the controller; none was found" >&2; return 1; }
  make_venv "$VENV" "$py312" "$ROOT/tools/requirements.txt"
  if [ "$mode" = with-compat ]; then
    py39=$(find_python 3.9) || { echo "Python 3.9 (the oldest managed-node Python supported) was not found" >&2; return 1; }
    make_venv "$COMPAT_VENV" "$py39" "$ROOT/tools/requirements-compat.txt"
  fi
  # Real interpreters first on PATH, so that nothing picks a broken pyenv shim.
  mkdir -p "$PYBIN"
  local v
  for v in 3.9 3.10 3.11 3.12 3.13 3.14; do
    if p=$(find_python "$v"); then ln -sfn "$p" "$PYBIN/python$v"; fi
  done
  export PATH="$VENV/bin:$PYBIN:$PATH"
}

# ansible-test downloads a pip bootstrap script from a host that cannot be reached here;
# a cached copy with the expected name is used instead (see tools/get_pip_standin.py).
ensure_get_pip() {
  local version cache
  version=$("$VENV/bin/python" - <<'PY'
import re, ansible_test, os
src = open(os.path.join(os.path.dirname(ansible_test.__file__), '_internal', 'python_requirements.py')).read()
print(re.search(r"pip='([0-9.]+)'", src).group(1))
PY
)
  cache="$HOME/.ansible/test/cache/get_pip_${version//./_}.py"
  if ! cmp -s "$ROOT/tools/get_pip_standin.py" "$cache"; then
    mkdir -p "$(dirname "$cache")"
    cp "$ROOT/tools/get_pip_standin.py" "$cache"
  fi
}

# ansible-test and FQCN playbooks need the collection under ansible_collections/<ns>/<name>.
stage_collection() {
  rm -rf "$STAGE"
  mkdir -p "$STAGE"
  on_exit "rm -rf '$STAGE_ROOT'"
  if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$ROOT" && git ls-files -co --exclude-standard -z | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
      | tar --null -T - -cf -) | tar -xf - -C "$STAGE"
  else
    (cd "$ROOT" && tar --exclude='./.venv*' --exclude=./.tmp --exclude=./.nox --exclude=./.ansible -cf - .) | tar -xf - -C "$STAGE"
  fi
  export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS"
}

# Filter for ansible-test's pip output (its status is the caller's, through PIPESTATUS).
without_pip_noise() {
  grep -v -E '^(Collecting|  Downloading|Installing|Successfully|WARNING: Location|Looking in|Processing|Attempting|Found existing|Uninstalling|Requirement|Obtaining|  Using cached| *━)'
}

# integration_with_broker PYTHON BROKER_DIR LABS_DIR [ansible-test option or target ...]: ansible-test integration
# of the stage with a test mosquitto in BROKER_DIR (its log is what the check-mode check reads) and the targets'
# virtual labs in LABS_DIR (their journals), both wiped first; the broker is stopped also when interrupted.
integration_with_broker() {
  local python=$1 broker=$2 labs=$3 rc
  shift 3
  stop_stale_broker "$broker"
  rm -rf "$broker" "$labs" && mkdir -p "$labs"
  python "$STAGE/tests/utils/mosquitto_broker.py" start --dir "$broker" --json "$broker.json" || return 1
  on_exit "python '$STAGE/tests/utils/mosquitto_broker.py' stop --dir '$broker' >/dev/null 2>&1"
  python - "$broker.json" "$labs" "$STAGE/tests/integration/integration_config.yml" <<'PY'
import json, sys
broker = json.load(open(sys.argv[1]))
with open(sys.argv[3], 'w') as out:
    json.dump({'picluster_lab_dir': sys.argv[2], 'mqtt_host': broker.get('host', '127.0.0.1'), 'mqtt_port': broker['port']}, out)
PY
  (cd "$STAGE" && ansible-test integration --python "$python" --color no "$@")
  rc=$?
  python "$STAGE/tests/utils/mosquitto_broker.py" stop --dir "$broker"
  return $rc
}

# stop_stale_broker DIR: a test broker that an interrupted earlier run left in DIR is stopped
# before DIR is wiped (its pid file lives there).
stop_stale_broker() {
  if [ -d "$1" ]; then
    python "$STAGE/tests/utils/mosquitto_broker.py" stop --dir "$1" >/dev/null 2>&1 || true
  fi
}
