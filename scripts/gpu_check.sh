#!/usr/bin/env bash
# The CUDA half of the device tests and the benches, on a machine with a GPU.
#
#   scripts/gpu_check.sh prepare        # here (CPU, the project's venv): the inputs the benches run
#   scripts/gpu_check.sh run OUT_DIR    # on the GPU machine: tests/test_device.py, then the benches
#
# `prepare` writes runs/nir/nmnist_cnn.nir and runs/nir/nmnist300.npz (the NIR paper's N-MNIST CNN,
# scripts/nir_cnn.py) and runs/nir/nmnist8.npz (nmnist-sim test frames at T = 8); `run` needs the
# nmnist-sim checkpoint (runs/models/nmnist-sim) and writes JSON reports and logs into OUT_DIR.
# The README's performance section quotes its output where a GPU was available.
set -uo pipefail
PY=${PYTHON:-python3}
case "${1:-}" in
prepare)
    PY=${PYTHON:-.venv/bin/python}
    set -e
    $PY scripts/nir_cnn.py --out runs/nir/nmnist_cnn.nir --frames runs/nir/nmnist300.npz --n 64
    $PY - <<'PYEOF'
import numpy as np
from neuroattack.data.datasets import load_dataset
x = load_dataset("nmnist-sim", "test", 1024, 8).x
np.savez_compressed("runs/nir/nmnist8.npz", spikes=x.numpy().astype(np.uint8))
print("runs/nir/nmnist8.npz", tuple(x.shape))
PYEOF
    ;;
run)
    OUT=${2:?usage: scripts/gpu_check.sh run OUT_DIR}
    mkdir -p "$OUT"
    NA="$PY -m neuroattack.cli"
    { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
      $PY -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda, 'cpus', __import__('os').cpu_count())"
    } 2>&1 | tee "$OUT/machine.txt"
    timeout 240 $PY -m pytest -q -rs -p no:cacheprovider tests/test_device.py 2>&1 | tail -25 | tee "$OUT/test_device.log"
    CK=runs/models/nmnist-sim
    for spec in "cuda 256" "cuda 4096" "cpu 256"; do
        set -- $spec
        timeout 90 $NA bench backends --checkpoint $CK --input runs/nir/nmnist8.npz --no-lava --device $1 \
            --emulator-batch $2 --out "$OUT/backends_512fc_$1_b$2.json" 2>&1 | grep -v Warning | tee -a "$OUT/bench.log"
    done
    for spec in "cuda 64" "cuda 512" "cpu 64"; do
        set -- $spec
        timeout 120 $NA bench backends --graph runs/nir/nmnist_cnn.nir --input runs/nir/nmnist300.npz --no-lava \
            --device $1 --emulator-batch $2 --out "$OUT/backends_cnn_$1_b$2.json" 2>&1 | grep -v Warning | tee -a "$OUT/bench.log"
    done
    for dev in cuda cpu; do
        timeout 150 $NA bench attacks --device $dev --timesteps 8 --repeats 3 --out "$OUT/attacks_$dev.json" 2>&1 \
            | grep -v Warning | tee -a "$OUT/bench.log"
    done
    ;;
*)
    echo "usage: scripts/gpu_check.sh prepare | run OUT_DIR" >&2
    exit 2
    ;;
esac
