#!/usr/bin/env bash
# The GPU measurements as one prepared run for the lent GPU machine (../shared/GPU.md: one H200, 16 cores, no
# Node.js; ~15 minutes a session, start-up included), so a session that has it spends its time measuring.
#   here:   npm ci && bash ../shared/tools/device-bundle.sh
#   there:  the device tool, carrying .device-bundle:   bash bench/device-gpu.sh
# Writes under $OUT: gpus.csv (nvidia-smi), train.txt (the default job under auto: the backend line must say
# webgpu with the GPU's PCI address; debug lines give the step and transfer split), gpu-bench.{json,md,log}
# (bench/gpu.ts: ours on webgpu, embedding tables on the GPU, against PyTorch on CUDA at B = 8,192, 65,536 and
# 131,072), gpu-host-tables.{json,md,log} (the same at 65,536 with the tables on the host, for the split).
set -uo pipefail
source .device-bundle/env.sh
# The bundle holds dist/; the PyTorch reference is looked up beside it.
mkdir -p "$DDP_RUNTIME/bench" && cp bench/torch_deepfm.py "$DDP_RUNTIME/bench/"
out=${OUT:-/tmp/device-out}
mkdir -p "$out"
cd "$DDP_RUNTIME" || exit 1
nvidia-smi --query-gpu=index,name,pci.bus_id,driver_version --format=csv > "$out/gpus.csv" 2>&1
timeout 150 node dist/launcher/cli.js -n 1 --steps 100 --log-level debug --log-every 5 > "$out/train.txt" 2>&1
echo "train: exit $?" >> "$out/train.txt"
timeout 420 node dist/bench/gpu.js --steps 10 --repeats 3 --json "$out/gpu-bench.json" > "$out/gpu-bench.md" 2> "$out/gpu-bench.log"
echo "gpu bench: exit $?" >> "$out/gpu-bench.log"
timeout 150 node dist/bench/gpu.js --embed-device host --batches 65536 --no-torch --steps 5 --repeats 2 --json "$out/gpu-host-tables.json" > "$out/gpu-host-tables.md" 2> "$out/gpu-host-tables.log"
echo "host tables: exit $?" >> "$out/gpu-host-tables.log"
tail -n 30 "$out/gpu-bench.md"
