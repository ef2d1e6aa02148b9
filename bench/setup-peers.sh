#!/usr/bin/env bash
# Installs the reference peers the benchmarks compare against, from Debian's packages (no internet beyond
# the Debian mirror): PyTorch (python3-torch: bench/torch_deepfm.py, bench/gloo_allreduce.py) and OpenBLAS
# (libopenblas0-pthread: our native kernels and torch's CPU BLAS). Run as root, or with sudo available.
set -euo pipefail
packages=(python3-torch libopenblas0-pthread)
sudo=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "setup-peers: run as root (or install sudo): apt-get install ${packages[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${packages[@]}" >/dev/null
# The benches look for torch in `python3` first, then Debian's /usr/bin/python3: say which one has it.
for py in python3 /usr/bin/python3; do
  if version=$("$py" -c 'import torch; print(torch.__version__)' 2>/dev/null); then
    echo "setup-peers: $py imports torch $version; OpenBLAS: $(ldconfig -p | grep -o 'libopenblas.so.0' | head -1)"
    exit 0
  fi
done
echo "setup-peers: python3-torch installed, but neither python3 nor /usr/bin/python3 imports torch" >&2
exit 1
