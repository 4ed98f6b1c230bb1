#!/usr/bin/env bash
# vigil's whole test suite. Installs what the tests need (Debian packages) on a
# fresh machine, then runs formatting, lints and every test.
#   scripts/test.sh            # everything
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use: tshark (correctness oracle for flows).
need=()
command -v tshark >/dev/null 2>&1 || need+=(tshark)
# headless Chromium renders the HTML report (store_report.rs)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# vigil run's namespace tests (crates/cli/tests/live.rs): replay and a real exporter
command -v tcpreplay >/dev/null 2>&1 || need+=(tcpreplay)
command -v softflowd >/dev/null 2>&1 || need+=(softflowd)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
# mitigation's namespace tests (crates/mitigate/tests, crates/cli/tests/mitigate.rs):
# nftables rules, a real BGP speaker pair, a flood sender
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v gobgpd >/dev/null 2>&1 || need+=(gobgpd)
command -v hping3 >/dev/null 2>&1 || need+=(hping3)
# the XDP backend (feature xdp): eBPF object built with clang, libbpf headers
command -v clang >/dev/null 2>&1 || need+=(clang)
[ -f /usr/include/bpf/bpf_helpers.h ] || need+=(libbpf-dev)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# ../shared (the corpus) must sit beside the project
if [ ! -d ../shared/corpus ]; then
  echo "scripts/test.sh: ../shared/corpus not found beside the project" >&2
  exit 2
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace --no-fail-fast
# the XDP mitigation backend is behind a feature (the default build needs only Rust)
cargo clippy -p vigil-mitigate --features xdp --all-targets -- -D warnings
cargo test -p vigil-mitigate --features xdp --no-fail-fast
