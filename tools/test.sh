#!/usr/bin/env bash
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Runs every test of the collection, setting up whatever a fresh machine lacks:
#   sanity       ansible-test sanity (Python 3.12, ansible-core 2.21), no ignore file
#   units        unit tests, newest smbus2 and paho-mqtt 2.x (Python 3.12)
#   units-py39   library unit tests on Python 3.9 with smbus2 0.4.2 and paho-mqtt 1.6.1 (Debian 12)
#   units-ansible-test
#                the unit tests as ansible-test runs them: a fresh venv with tests/unit/requirements.txt,
#                every test in a fork; no test broker (mosquitto) may outlive the run
#   integration  ansible-test integration: virtual labs and a real mosquitto broker
#   check-mode   no check-mode run of any integration target sent a mutating command: every lab
#                journal (ClusterCTRL) and the broker's log (no config/set from a check-mode client)
#   readme       every yaml example of README.md and roles/*/README.md on a fresh virtual lab and virtual
#                MQTT devices: --check --diff, then twice for real; the second run changes nothing
#                (tests/utils/readme_examples.py)
#   lint         ansible-lint, production profile, on roles and playbooks
#   changelog    antsibull-changelog lint
#   reuse        reuse lint: licence and copyright of every file, in the checkout and in the built tarball
#   ee           ansible-builder introspect on the collection installed from the tarball: names smbus2,
#                paho-mqtt and PyYAML (meta/execution-environment.yml, requirements.txt, bindep.txt)
#   build        ansible-galaxy collection build and ansible-doc of every module
#   python       the Python distribution (pyproject.toml): wheel and sdist built, installed into fresh venvs of
#                Python 3.9 and 3.13, proved to be the collection's module_utils, and the README's driver,
#                clusterctrl command and asyncio examples run (tests/utils/check_python_packages.py)
# Usage: tools/test.sh [stage ...]   (default: all stages)
set -uo pipefail
# shellcheck source=tools/setup.sh
source "$(dirname "$0")/setup.sh"

ensure_system_packages || exit 1
ensure_venvs with-compat || exit 1
ensure_get_pip || exit 1
stage_collection

RUN="$WORK/test-run"
stop_stale_broker "$RUN/broker"
rm -rf "$RUN" && mkdir -p "$RUN/labs"
passed=() failed=()

# Filter for ansible-test's pip output (its status is the caller's, through PIPESTATUS).
without_pip_noise() {
  grep -v -E '^(Collecting|  Downloading|Installing|Successfully|WARNING: Location|Looking in|Processing|Attempting|Found existing|Uninstalling|Requirement| *━)'
}

stage_sanity() {
  (cd "$STAGE" && ansible-test sanity --python 3.12 --requirements --color no 2>&1 | without_pip_noise; exit "${PIPESTATUS[0]}")
}

stage_units() {
  # PICLUSTER_COMPAT_PYTHON: the playbook test also runs mqtt_pins on Python 3.9 with paho-mqtt 1.6.1.
  (cd "$STAGE" && PYTHONPATH="$COLLECTIONS" PICLUSTER_COMPAT_PYTHON="$COMPAT_VENV/bin/python" python -m pytest tests/unit -q -p no:cacheprovider)
}

stage_units_py39() {
  (cd "$STAGE" && PYTHONPATH="$COLLECTIONS" "$COMPAT_VENV/bin/python" -m pytest tests/unit/plugins/module_utils -q -p no:cacheprovider)
}

# Test brokers no process waits for any more: running mosquitto whose parent is init (pid 1), one pid a line.
# Brokers started on purpose in the background (mosquitto_broker.py start: a session of their own) do not count.
orphaned_brokers() {
  ps -eo pid=,ppid=,sid=,stat=,comm= | awk '$2 == 1 && $1 != $3 && $4 !~ /^Z/ && $5 == "mosquitto" {print $1}' | sort
}

stage_units_ansible_test() {
  # ansible-test gives the tests of modules and module_utils only ansible-core's modules and module_utils,
  # and runs each test in a fork of its own (session and module fixtures are set up in every fork).
  local before leaked rc
  before=$(orphaned_brokers)
  (cd "$STAGE" && ansible-test units --venv --python 3.12 --requirements --color no 2>&1 | without_pip_noise; exit "${PIPESTATUS[0]}")
  rc=$?
  sleep 1  # a broker stopped by its parent's death needs a moment to exit
  leaked=$(comm -13 <(echo "$before") <(orphaned_brokers) | sed '/^$/d')
  if [ -n "$leaked" ]; then
    echo "mosquitto test brokers left running by the unit tests (pids): $(echo "$leaked" | tr '\n' ' ')"
    return 1
  fi
  echo "no test broker outlived its test"
  return $rc
}

stage_integration() {
  local broker="$RUN/broker" rc
  python "$STAGE/tests/utils/mosquitto_broker.py" start --dir "$broker" --json "$RUN/broker.json" || return 1
  on_exit "python '$STAGE/tests/utils/mosquitto_broker.py' stop --dir '$broker' >/dev/null 2>&1"  # also when interrupted
  python - "$RUN/broker.json" "$RUN/labs" "$STAGE/tests/integration/integration_config.yml" <<'PY'
import json, sys
broker = json.load(open(sys.argv[1]))
with open(sys.argv[3], 'w') as out:
    json.dump({'picluster_lab_dir': sys.argv[2], 'mqtt_host': broker.get('host', '127.0.0.1'), 'mqtt_port': broker['port']}, out)
PY
  (cd "$STAGE" && ansible-test integration --python 3.12 --color no)
  rc=$?
  python "$STAGE/tests/utils/mosquitto_broker.py" stop --dir "$broker"
  return $rc
}

stage_check_mode() {
  local rc=0
  if [ ! -d "$RUN/labs" ] || [ ! -d "$RUN/broker" ]; then
    echo "check-mode checks what the integration stage of the same run left: run it with integration"
    return 1
  fi
  python "$STAGE/tests/utils/check_journals.py" "$RUN/labs" || rc=1
  python "$STAGE/tests/utils/check_broker_log.py" "$RUN/broker" || rc=1
  return $rc
}

stage_readme() {
  local dir="$RUN/readme"
  # The script stops its broker and devices itself (also on SIGTERM); this stops the broker if it was killed.
  on_exit "python '$STAGE/tests/utils/mosquitto_broker.py' stop --dir '$dir/broker' >/dev/null 2>&1"
  python "$STAGE/tests/utils/readme_examples.py" --root "$STAGE" --collections "$COLLECTIONS" --work "$dir"
}

stage_lint() {
  (cd "$STAGE" && ansible-lint --offline roles playbooks)
}

stage_changelog() {
  (cd "$STAGE" && antsibull-changelog lint)
}

# collection_tarball: the collection built from the stage into $RUN/dist (once per run); prints its path.
collection_tarball() {
  local built
  built=("$RUN"/dist/picluster-clusterctrl-*.tar.gz)
  if [ ! -f "${built[0]}" ]; then
    (cd "$STAGE" && ansible-galaxy collection build --output-path "$RUN/dist" >/dev/null) || return 1
    built=("$RUN"/dist/picluster-clusterctrl-*.tar.gz)
  fi
  echo "${built[0]}"
}

stage_reuse() {
  local tarball contents="$RUN/reuse-tarball" rc=0
  # In a git checkout reuse skips what git ignores (.venv, .tmp, ...); otherwise the stage is the checkout's files.
  if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    reuse --root "$ROOT" lint --lines || rc=1
  else
    reuse --root "$STAGE" lint --lines || rc=1
  fi
  # What users get: the tarball carries LICENSES/ and REUSE.toml.
  tarball=$(collection_tarball) || return 1
  rm -rf "$contents" && mkdir -p "$contents" && tar -xzf "$tarball" -C "$contents"
  reuse --root "$contents" lint --lines || rc=1
  [ $rc -eq 0 ] && echo "reuse lint: every file of the checkout and of $(basename "$tarball") has copyright and licence information"
  return $rc
}

stage_ee() {
  local tarball installed="$RUN/ee-collections"
  # Introspect what an execution-environment build gets: the collection installed from the tarball (build_ignore applied).
  tarball=$(collection_tarball) || return 1
  rm -rf "$installed"
  ansible-galaxy collection install --offline --force -p "$installed" "$tarball" > "$RUN/ee-install.txt" 2>&1 || { cat "$RUN/ee-install.txt"; return 1; }
  ansible-builder introspect -v3 "$installed" > "$RUN/introspect.txt" 2>&1 || { cat "$RUN/introspect.txt"; return 1; }
  cat "$RUN/introspect.txt"
  python - "$RUN/introspect.txt" <<'PY'
import re, sys, yaml
text = open(sys.argv[1]).read()
log, _sep, document = text.partition('\n---\n')
data = yaml.safe_load(document) or {}
ours = '# from collection picluster.clusterctrl'
python = [line for line in data.get('python') or [] if line.endswith(ours)]
system = [line for line in data.get('system') or [] if line.endswith(ours)]
names = {re.split(r'[\s<>=!~;\[]', line, 1)[0].lower() for line in python}
# ansible-builder drops PyYAML from the Python list on purpose (ansible-core needs it, every EE has it) and logs that at -v3.
if "Excluding requirement 'PyYAML' from 'picluster.clusterctrl'" in log:
    names.add('pyyaml')
missing = [name for name in ('smbus2', 'paho-mqtt', 'pyyaml') if name not in names]
if missing:
    sys.exit('ansible-builder introspect does not name: %s' % ', '.join(missing))
if not any(line.startswith('python3-yaml ') for line in system):
    sys.exit('bindep.txt: python3-yaml missing from what ansible-builder reads')
print('ansible-builder introspect names smbus2, paho-mqtt and PyYAML (%d Python and %d system requirements)' % (len(python), len(system)))
PY
}

stage_build() {
  local module
  (cd "$STAGE" && ansible-galaxy collection build --force --output-path "$RUN/dist") || return 1
  for module in "$STAGE"/plugins/modules/*.py; do
    module=$(basename "$module" .py)
    ansible-doc "picluster.clusterctrl.$module" >/dev/null || { echo "ansible-doc failed for $module"; return 1; }
  done
  echo "built $(ls "$RUN"/dist/*.tar.gz) and rendered the docs of every module"
}

stage_python() {
  local py39 py313
  if ! py39=$(find_python 3.9) || ! py313=$(find_python 3.13); then
    echo "the python stage needs Python 3.9 and 3.13"
    return 1
  fi
  rm -rf "$RUN/python"
  python "$STAGE/tests/utils/check_python_packages.py" "$STAGE" "$RUN/python" "$py39" "$py313"
}

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(sanity units units-py39 units-ansible-test integration check-mode readme lint changelog reuse ee build python)
for name in "${stages[@]}"; do
  log "stage $name"
  started=$SECONDS
  if "stage_${name//-/_}"; then passed+=("$name ($((SECONDS - started)) s)"); else failed+=("$name ($((SECONDS - started)) s)"); fi
done

log "summary"
for name in "${passed[@]}"; do echo "  passed: $name"; done
for name in "${failed[@]}"; do echo "  FAILED: $name"; done
echo "stages: ${#passed[@]} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
