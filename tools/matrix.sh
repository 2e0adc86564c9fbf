#!/usr/bin/env bash
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The collection on ONE ansible-core minor version (newest patch of it), in a venv of its own:
#   tools/matrix.sh 2.N [step ...]      (default steps: sanity units smoke)
#   sanity   ansible-test sanity --requirements, no ignore file (MATRIX_SANITY_SKIP="pylint ...": tests left out)
#   units    ansible-test units --requirements: the tests that run ansible-core code (modules, filters, the
#            module glue and the MQTT tests that run the modules, found by their imports); with
#            MATRIX_UNITS=all the whole unit suite. The other unit tests exercise only the libraries of
#            plugins/module_utils, which import nothing of ansible-core: tools/test.sh runs them on the newest core.
#            The seeded property and fault tests of the engine run at MATRIX_FUZZ_SCALE of their size (default 0.25,
#            1 for full size): tools/test.sh runs them at full size on the newest core (tests/unit/plugins/modules/fuzz_size.py).
#   smoke    the collection built by this core's ansible-galaxy, installed into an empty collections path, and
#            the cluster_state role on a fresh virtual lab: converge, converge again (changed=0), --check (changed=0)
#   full     ansible-test integration with a test broker (every target, or MATRIX_INTEGRATION_ARGS="--continue-on-error target ...")
# The venv is .venv-core-2.N (reused while its ansible-core range and Python stay the same). Each step prints
# its time; the status is the number of failed steps.
# shellcheck disable=SC2317  # the step_* functions are called by name ("step_$step")
set -uo pipefail
# shellcheck source=tools/setup.sh
source "$(dirname "$0")/setup.sh"

CORE=${1:-}
shift || true
STEPS=("$@")
[ ${#STEPS[@]} -gt 0 ] || STEPS=(sanity units smoke)

# The controller Python of each core: the newest it supports that this machine has, one that
# Raspberry Pi OS Bookworm (Python 3.11, ansible-core 2.14) users have on the oldest cores.
case "$CORE" in
  2.14 | 2.15) PY=3.11 ;;
  2.16 | 2.17) PY=3.12 ;;
  2.18 | 2.19) PY=3.13 ;;
  2.20 | 2.21) PY=3.12 ;;
  *) echo "usage: tools/matrix.sh 2.N [sanity|units|smoke|full ...]   (2.N: 2.14 to 2.21)" >&2; exit 2 ;;
esac

CORE_VENV="$ROOT/.venv-core-$CORE"
MATRIX_WORK="$WORK/matrix-$CORE"

# ensure_core_venv: .venv-core-2.N with ansible-core ~= 2.N.0 and the collection's Python requirements.
ensure_core_venv() {
  local python requirements="$MATRIX_WORK/requirements.txt"
  python=$(find_python "$PY") || { echo "ansible-core $CORE is tested with Python $PY, which was not found" >&2; return 1; }
  mkdir -p "$MATRIX_WORK"
  # trustme: the mqtt_security target's TLS test broker (tests/utils/mosquitto_broker.py) in the full step.
  { echo "ansible-core~=$CORE.0"; cat "$ROOT/requirements.txt"; echo "trustme>=1.2"; } > "$requirements"
  make_venv "$CORE_VENV" "$python" "$requirements" || return 1
  # ansible-test finds "python$PY" on PATH: the venv's, so that --requirements installs into it.
  mkdir -p "$PYBIN"
  local v p
  for v in 3.9 3.10 3.11 3.12 3.13 3.14; do
    if p=$(find_python "$v"); then ln -sfn "$p" "$PYBIN/python$v"; fi
  done
  export PATH="$CORE_VENV/bin:$PYBIN:$PATH"
  # ansible-test's pip bootstrap, for the pip version this core pins.
  VENV="$CORE_VENV" ensure_get_pip || return 1
  echo "ansible-core $("$CORE_VENV/bin/python" -c 'import ansible.release; print(ansible.release.__version__)') on $("$CORE_VENV/bin/python" --version)"
}


step_sanity() {
  local skipped=() test
  for test in ${MATRIX_SANITY_SKIP:-}; do skipped+=(--skip-test "$test"); done
  (cd "$STAGE" && ansible-test sanity --python "$PY" --requirements --color no "${skipped[@]}" 2>&1 | without_pip_noise; exit "${PIPESTATUS[0]}")
}

# core_unit_tests: the unit test files that run ansible-core code, one a line (relative to the collection).
core_unit_tests() {
  (cd "$STAGE" && grep -rlE --include='test_*.py' \
    -e '^\s*(from|import) ansible[. ]' \
    -e 'module_runner|plugins\.modules|plugins\.filter|_clusterctrl_module|_mqtt_module' tests/unit | sort)
}

step_units() {
  local targets=()
  if [ "${MATRIX_UNITS:-core}" != all ]; then
    mapfile -t targets < <(core_unit_tests)
    echo "${#targets[@]} of $(cd "$STAGE" && find tests/unit -name 'test_*.py' | wc -l) unit test files run ansible-core code"
  fi
  # ansible-test before 2.16 runs each test through pytest-forked, unpinned, whose every forked test fails
  # (exit status 3) under pytest 9: such a core gets pytest 8 first (--requirements keeps what satisfies it).
  local units_requirements
  units_requirements=$("$CORE_VENV/bin/python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_data/requirements/units.txt
  if grep -q '^pytest-forked' "$units_requirements"; then
    quiet_pip "$CORE_VENV/bin/python" -m pip install -q 'pytest < 9' || return 1
  fi
  echo "${MATRIX_FUZZ_SCALE:-0.25}" > "$STAGE/tests/unit/fuzz-scale"  # this invocation's own stage, not the checkout
  (cd "$STAGE" && ansible-test units --python "$PY" --requirements --color no "${targets[@]}" 2>&1 | without_pip_noise; exit "${PIPESTATUS[0]}")
}

# recap_changed LOG: the changed= count of localhost in an ansible-playbook recap (fails without one with failed=0).
recap_changed() {
  sed -n -E 's/^localhost +: ok=[0-9]+ +changed=([0-9]+) +unreachable=0 +failed=0 .*/\1/p' "$1" | tail -n 1 | grep .
}

step_smoke() {
  local dir="$MATRIX_WORK/smoke" tarball changed run check
  rm -rf "$dir" && mkdir -p "$dir/dist" "$dir/collections"
  (cd "$STAGE" && ansible-galaxy collection build --output-path "$dir/dist" >/dev/null) || return 1
  tarball=$(ls "$dir"/dist/picluster-clusterctrl-*.tar.gz)
  # Installed with only the target path configured: ansible-galaxy skips a collection it finds installed anywhere (the stage).
  ANSIBLE_COLLECTIONS_PATH="$dir/collections" ansible-galaxy collection install --offline --no-deps --force -p "$dir/collections" "$tarball" >/dev/null || return 1
  [ -f "$dir/collections/ansible_collections/picluster/clusterctrl/MANIFEST.json" ] || { echo "smoke: $(basename "$tarball") was not installed"; return 1; }
  cat > "$dir/lab.yml" <<'YAML'
hat: {version: "2.5"}
controllers:
  - {type: triple, order: 1}
YAML
  cat > "$dir/converge.yml" <<'YAML'
- name: Converge a ClusterHAT and a Triple
  hosts: localhost
  gather_facts: false
  vars:
    clusterctrl_virtual_lab: "{{ lab }}"
    clusterctrl_power: {p1: 'on', p2: 'on', p3: 'off', p5: 'on'}
    clusterctrl_usbboot: [p5]
    clusterctrl_fan: 'on'
    clusterctrl_save: [power]
    clusterctrl_power_on_delay: 0
  roles:
    - picluster.clusterctrl.cluster_state
YAML
  echo "localhost ansible_connection=local ansible_python_interpreter=$CORE_VENV/bin/python" > "$dir/hosts"
  # Only the installed tarball: not the stage, not ~/.ansible/collections, not the venv's site-packages.
  for run in first again check; do
    check=()
    [ "$run" = check ] && check=(--check --diff)
    (cd "$dir" && env ANSIBLE_COLLECTIONS_PATH="$dir/collections" ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false \
      ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_LOCAL_TEMP="$dir/tmp" \
      ansible-playbook -i hosts -e "lab=$dir/lab.yml" converge.yml "${check[@]}") > "$dir/$run.log" 2>&1
    if ! changed=$(recap_changed "$dir/$run.log"); then
      cat "$dir/$run.log"; echo "smoke: the $run run failed"; return 1
    fi
    case "$run:$changed" in
      first:1 | again:0 | check:0) echo "smoke: $run run changed=$changed" ;;
      *) cat "$dir/$run.log"; echo "smoke: the $run run has changed=$changed"; return 1 ;;
    esac
  done
  echo "smoke: $(basename "$tarball") built and installed by ansible-core $CORE converges, then changes nothing (also in check mode)"
}

step_full() {
  # shellcheck disable=SC2086  # MATRIX_INTEGRATION_ARGS: more options and targets, split into words
  integration_with_broker "$PY" "$MATRIX_WORK/broker" "$MATRIX_WORK/labs" ${MATRIX_INTEGRATION_ARGS:-}
}

# The whole run is one function, read before it starts: editing this file during a run does not change the run.
main() {
  local started step began passed=() failed=() TIMEFORMAT="set-up: %0R s wall, %0U s user + %0S s system CPU"
  started=$SECONDS
  time {
    ensure_system_packages || exit 1
    ensure_core_venv || exit 1
    stage_collection
  }

  for step in "${STEPS[@]}"; do
    case "$step" in
      sanity | units | smoke | full) ;;
      *) echo "unknown step: $step" >&2; failed+=("$step"); continue ;;
    esac
    log "ansible-core $CORE: $step"
    began=$SECONDS
    # Wall time, and the CPU time of the step's processes (what a busy machine does not inflate).
    TIMEFORMAT="$step on ansible-core $CORE: %0R s wall, %0U s user + %0S s system CPU"
    if time "step_$step"; then passed+=("$step:$((SECONDS - began))s"); else failed+=("$step:$((SECONDS - began))s"); fi
  done
  log "ansible-core $CORE ($PY): passed ${passed[*]:-none}; failed ${failed[*]:-none}; total $((SECONDS - started))s"
  return ${#failed[@]}
}

main; exit $?
