#!/usr/bin/env bash
# Each package installs and works alone: build every wheel, then for each one make a fresh environment holding
# only that wheel and what it declares (sibling mm packages come from the freshly built wheels), import it, load
# its plugins, and run its main command with a tiny budget on a built-in embodiment. uv's cache makes the installs
# cheap; the whole script takes ~3-4 min on 2 CPU cores. Arguments: only these packages (e.g. mm_rl mm_sim).
set -euo pipefail
cd "$(dirname "$0")/.."
dist=$(mktemp -d)
trap 'rm -rf "$dist"' EXIT
uv build --all-packages --wheel -q -o "$dist/wheels"

# Run a command with its output in a log; on failure print the log and stop.
logged() {
  local what=$1
  shift
  if ! "$@" >"$work/log" 2>&1; then
    echo
    cat "$work/log"
    echo "isolation FAILED: $name: $what"
    exit 1
  fi
}

# A MotionClip of the tiny embodiment at rest (qpos0), for the packages that read one but cannot make one.
rest_clip() {
  "$env/bin/python" - "$1" <<'PY'
import sys
import mujoco
import numpy as np
from mm_core import MotionClip, get_embodiment

emb = get_embodiment("tiny")
m = emb.spec().compile()
d = mujoco.MjData(m)
mujoco.mj_kinematics(m, d)
sites = [m.site(s).id for s in emb.tracked_sites]
quat = np.array([[1.0, 0.0, 0.0, 0.0]] * len(sites))
for i, s in enumerate(sites):
    mujoco.mju_mat2Quat(quat[i], d.site_xmat[s])
t = 20
MotionClip(
    fps=100.0, qpos=np.tile(d.qpos, (t, 1)), qvel=np.zeros((t, m.nv)),
    site_pos=np.tile(d.site_xpos[sites], (t, 1, 1)), site_quat=np.tile(quat, (t, 1, 1)),
    site_names=tuple(emb.tracked_sites), embodiment="tiny", name="rest",
).save(sys.argv[1])
PY
}

# The package's main command on a built-in embodiment, with a tiny budget.
main_command() {
  local mm="$env/bin/mm" py="$env/bin/python"
  case $name in
    mm_core)
      logged "mm --help" "$mm" --help
      # A built-in name whose package is missing says which package to install.
      logged "install hint" "$py" -c "
from mm_core import UnknownNameError, get_embodiment
try:
    get_embodiment('tiny')
except UnknownNameError as e:
    assert 'pip install mm-models' in str(e), e
else:
    raise AssertionError('tiny found without mm-models')"
      "$mm" train >"$work/log" 2>&1 && { echo "mm train ran without mm-rl"; exit 1; }
      grep -q "pip install mm-rl" "$work/log" || { cat "$work/log"; echo "no install hint for mm train"; exit 1; }
      ;;
    mm_models)
      logged "mm models list" "$mm" models list
      grep -q tiny "$work/log" || { cat "$work/log"; echo "tiny not listed"; exit 1; }
      ;;
    mm_plugin_hopper)
      logged "hopper compiles" "$py" -c "
from mm_core import get_embodiment
m = get_embodiment('hopper').spec().compile()
assert m.nu > 0, m.nu"
      ;;
    mm_retarget)
      logged "mm retarget demo -e tiny" "$mm" retarget demo -o "$work/demo" -e tiny --json
      ;;
    mm_sim)
      logged "mm sim bench" "$mm" sim bench --backend mujoco --worlds 2 --steps 5 --eager --json
      ;;
    mm_rl)
      logged "mm train" "$mm" train --updates 1 -n 4 --device cpu --run-dir "$work/run" --json
      ;;
    mm_validate)
      logged "synthetic walk" "$py" -c "
import sys
from mm_validate.reference import load_reference
from mm_validate.synthetic import synthetic_walk
synthetic_walk('tiny', load_reference('schwartz2008-walking-free'), seconds=3).save(sys.argv[1])" "$work/walk.npz"
      logged "mm validate" "$mm" validate --motion "$work/walk.npz" --reference schwartz2008-walking-free \
        --out "$work/validation" --json
      ;;
    mm_view)
      logged "rest clip" rest_clip "$work/rest.npz"
      "$mm" view "$work/rest.npz" --no-browser --port 0 >"$work/log" 2>&1 &
      local pid=$! url=""
      for _ in $(seq 60); do
        url=$(grep -o 'http://[0-9.:]*' "$work/log" | head -1) && [ -n "$url" ] && break
        kill -0 $pid 2>/dev/null || break
        sleep 1
      done
      [ -n "$url" ] && "$py" -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=30)" "$url" \
        || { kill $pid 2>/dev/null; cat "$work/log"; echo "isolation FAILED: $name: mm view did not serve"; exit 1; }
      kill $pid
      wait $pid 2>/dev/null || true
      ;;
    *)
      echo "isolation FAILED: no main-command check for $name: add one to .ci/isolation.sh"
      exit 1
      ;;
  esac
}

for whl in "$dist"/wheels/*.whl; do
  start=$SECONDS
  name=$(basename "$whl" | cut -d- -f1)            # e.g. mm_sim
  [ $# -eq 0 ] || [[ " $* " == *" $name "* ]] || continue
  env="$dist/env-$name"
  work="$dist/work-$name"
  mkdir -p "$work"
  uv venv -q --python 3.11 "$env"
  uv pip install -q --python "$env/bin/python" --find-links "$dist/wheels" "$whl"
  # Import the package and its plugin module (the entry point), and load every mm plugin the env has.
  "$env/bin/python" - "$name" <<'PY'
import importlib, sys
from importlib.metadata import entry_points
mod = sys.argv[1]
importlib.import_module(mod)
from mm_core.plugins import PluginManager
pm = PluginManager()
pm.load_entry_points()
failed = {n: i.error for n, i in pm.infos.items() if i.status != "loaded"}
assert not failed, f"{mod}: plugins failed to load in isolation: {failed}"
print(f"isolation ok: {mod} (plugins: {', '.join(sorted(pm.infos)) or 'none'})", end="")
PY
  # A fresh cache: nothing made by another package (or an earlier run) helps the command.
  export MM_CACHE_DIR="$work/cache"
  main_command
  echo "; main command ok ($((SECONDS - start)) s)"
done
echo "isolation: all packages ok in ${SECONDS} s"
