#!/usr/bin/env bash
# Each package installs and imports alone: build every wheel, then for each one make a fresh environment holding
# only that wheel and what it declares (sibling mm packages come from the freshly built wheels), and import it.
set -euo pipefail
cd "$(dirname "$0")/.."
dist=$(mktemp -d)
trap 'rm -rf "$dist"' EXIT
uv build --all-packages --wheel -q -o "$dist/wheels"
for whl in "$dist"/wheels/*.whl; do
  name=$(basename "$whl" | cut -d- -f1)            # e.g. mm_sim
  env="$dist/env-$name"
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
print(f"isolation ok: {mod} (plugins: {', '.join(sorted(pm.infos)) or 'none'})")
PY
done
