#!/usr/bin/env bash
# Fuzz the workflow parser and the expression evaluator for SECONDS each (default 600),
# both targets at once. Seeds: the workflow fixtures and the expressions in them.
# Needs a nightly toolchain and cargo-fuzz (cargo install cargo-fuzz).
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
mkdir -p corpus/workflow corpus/expr
cp ../tests/fixtures/valid/*.yml ../tests/fixtures/invalid/*.yml ../workflows/*.yml corpus/workflow/
# Every ${{ ... }} of the fixtures becomes an expression seed.
grep -rhoE '\$\{\{[^}]*\}\}' ../tests/fixtures ../workflows | sed -E 's/^\$\{\{ *//; s/ *\}\}$//' | sort -u |
  while IFS= read -r expression; do
    printf '%s' "$expression" > "corpus/expr/$(printf '%s' "$expression" | sha1sum | cut -c1-16)"
  done
cargo +nightly fuzz build -O
for target in workflow expr; do
  cargo +nightly fuzz run -O "$target" "corpus/$target" -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
    > "fuzz-$target.log" 2>&1 &
done
wait
for target in workflow expr; do
  echo "== $target"; grep -E '^(#[0-9]+.*DONE|Done|==[0-9]+== ERROR|SUMMARY)' "fuzz-$target.log" | tail -3
done
