#!/usr/bin/env bash
# Write a one-line human report from a reduced summary. Variables arrive as
# environment variables: $input_file (absolute path) and $out.
set -euo pipefail
mkdir -p "$(dirname "$out")"
python3 - "$input_file" > "$out" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"{s['source']}: {s['n']} readings, mean {s['mean']:.3f} ± {s['stdev']:.3f}, max {s['max']:.3f}")
PY
cat "$out"
