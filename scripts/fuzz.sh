#!/usr/bin/env bash
# Build the libFuzzer targets of firmware/fuzz/ with clang (-fsanitize=fuzzer,address,undefined)
# and run each for FUZZ_SECONDS seconds (default 120). `make fuzz` runs it; tests/test_fuzz.py
# runs it for a few seconds. Usage: scripts/fuzz.sh [OUT_DIR]   (default .pio/fuzz)
# The corpus of each target stays in OUT_DIR/corpus_<target> between runs (the protocol target is
# seeded with the example frames of firmware/test/test_protocol/make_vectors.py); an input that crashes is written to
# OUT_DIR/crash-<sha1> and the script exits 1. Last line: "fuzz: ok" or "fuzz: FAILED <target>".
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-$root/.pio/fuzz}" && cd "${1:-$root/.pio/fuzz}" && pwd)
seconds=${FUZZ_SECONDS:-120}
python=${PYTHON:-$root/.venv/bin/python}
src=$root/firmware/lib/bitear
# target : plugin source : largest input in bytes
TARGETS=("protocol:bitear_protocol.c:8192" "frontend:bitear_frontend.c:6500")

if ! command -v clang >/dev/null 2>&1; then
  echo "fuzz: error: clang not found: run \`make setup\` (scripts/setup_apt.sh installs clang and libclang-rt-dev)" >&2
  exit 2
fi

seed_protocol() {  # first byte 0: raw bytes off the line (firmware/fuzz/fuzz_protocol.c)
  "$python" - "$1" <<'PY' || echo "fuzz: no seeds (host.protocol or firmware/test/test_protocol/make_vectors.py not importable with $python)"
import importlib.util, sys
from pathlib import Path
from host.protocol import encode
spec = importlib.util.spec_from_file_location("make_vectors", "firmware/test/test_protocol/make_vectors.py")
vectors = importlib.util.module_from_spec(spec)
spec.loader.exec_module(vectors)
for i, msg in enumerate(vectors.example_messages()):
    Path(sys.argv[1], f"seed-{i:02d}").write_bytes(b"\x00" + encode(msg))
PY
}

failed=()
for entry in "${TARGETS[@]}"; do
  IFS=: read -r name source max_len <<<"$entry"
  bin=$out/fuzz_$name
  corpus=$out/corpus_$name
  clang -std=c99 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I "$src" "$root/firmware/fuzz/fuzz_$name.c" "$src/$source" -o "$bin"
  if [ ! -d "$corpus" ]; then
    mkdir -p "$corpus"
    if [ "$name" = protocol ]; then (cd "$root" && seed_protocol "$corpus"); fi
  fi
  echo "fuzz: $name for ${seconds} s (corpus $corpus)"
  if (cd "$out" && "$bin" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=1024 \
        -print_final_stats=1 -artifact_prefix="$out/" "$corpus" 2>"$out/$name.log"); then
    grep -E "^Done" "$out/$name.log" | sed "s/^/fuzz: $name: /"
  else
    tail -40 "$out/$name.log" >&2
    failed+=("$name")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED ${failed[*]} (inputs in $out/crash-*; replay: $out/fuzz_<target> <file>)"
  exit 1
fi
echo "fuzz: ok"
