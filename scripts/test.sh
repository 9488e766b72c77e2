#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what it needs (scripts/setup.sh),
# then formatting, lints, and every test including the end-to-end guest boots.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export INSTA_UPDATE=no CARGO_TERM_COLOR=never
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The QEMU glue is behind the `qemu` feature, which the workspace build
# leaves off; lint it too.
qemu_features=osm-runtime/qemu,osmtrace/qemu
for crate in generated/*/; do
    qemu_features+=",osmtrace-$(basename "$crate")/qemu"
done
cargo clippy --workspace --all-targets --quiet --features "$qemu_features" -- -D warnings
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# Tiers: plain `cargo test` runs what needs neither QEMU nor the network;
# the tests that boot guests or fetch Debian packages are `#[ignore]`d with
# that reason and run here; those marked `full tier` (more architectures
# with several vCPUs, the MIPS names, the slow guests) only with --full.
skip=()
if [[ "${1:-}" != "--full" ]]; then
    for name in $(grep -h -A1 '^#\[ignore = "full tier' tests/tests/*.rs | sed -n 's/^fn \([a-z0-9_]*\).*/\1/p'); do
        skip+=(--skip "$name")
    done
fi
cargo test --workspace --no-fail-fast -- --include-ignored --exact "${skip[@]}" 2>&1 | tee "$log" || status=$?
# One closing line for the whole suite (cargo's last line is some crate's
# doc tests, often "0 passed").
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i == "passed;") p += $(i - 1); if ($i == "failed;") f += $(i - 1) } }
     /^test result:/ { for (i = 1; i <= NF; i++) if ($i == "filtered") g += $(i - 1) }
     END { printf "tests: %d passed, %d failed, %d in the full tier not run\n", p, f, g }' "$log"
exit "$status"
