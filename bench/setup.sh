#!/usr/bin/env bash
# Install what bench/run.sh needs on Debian 12 (root): the peer flow meters,
# GNU time, and numpy for the capture generator.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends softflowd nfdump time iproute2 python3 python3-pip tshark hyperfine
python3 -c 'import numpy' 2>/dev/null || python3 -m pip install numpy || apt-get install -y python3-numpy
