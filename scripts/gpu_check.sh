#!/usr/bin/env bash
# The CUDA half of the device tests and the benches, on a machine with a GPU.
#
#   scripts/gpu_check.sh prepare        # here (CPU, the project's venv): the inputs the benches run
#   scripts/gpu_check.sh run OUT_DIR    # on the GPU machine: tests/test_device.py, then the benches
#
# `prepare` writes runs/nir/nmnist_cnn.nir and runs/nir/nmnist300.npz (the NIR paper's N-MNIST CNN,
# scripts/nir_cnn.py) and runs/nir/nmnist8.npz (nmnist-sim test frames at T = 8); `run` needs the
# nmnist-sim checkpoint (runs/models/nmnist-sim) and writes OUT_DIR/gpu_check.log and the JSON reports,
# packed as OUT_DIR/benches.tar.gz (two files: what a device run sends back is limited in count).
# docs/backends.md's backend speed section quotes its output where a GPU was available.
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
    JSON=$(mktemp -d)  # the reports, packed into one archive at the end
    NA="$PY -m neuroattack.cli"
    { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
      $PY -c "import torch, sys, os, numba, triton; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda, 'numba', numba.__version__, 'triton', triton.__version__, 'cpus', os.cpu_count())"
    } 2>&1 | tee "$OUT/gpu_check.log"
    timeout 240 $PY -m pytest -q -rs -p no:cacheprovider tests/test_device.py tests/backends/test_lif_scan.py 2>&1 \
        | tail -25 | tee -a "$OUT/gpu_check.log"
    CK=runs/models/nmnist-sim
    bench() {  # name, then bench backends arguments
        local name=$1; shift
        timeout 150 $NA bench backends --no-lava --out "$JSON/$name.json" "$@" 2>&1 | grep -v -i warn \
            | sed "s/^/$name: /" | tee -a "$OUT/gpu_check.log"
    }
    bench 512fc_cuda_b4096 --checkpoint $CK --input runs/nir/nmnist8.npz --device cuda --emulator-batch 4096
    bench 512fc_cuda_b65536 --checkpoint $CK --input runs/nir/nmnist8.npz --device cuda --emulator-batch 65536
    bench 512fc_float_cuda_b65536 --checkpoint $CK --input runs/nir/nmnist8.npz --device cuda --emulator-batch 65536 \
        --profile float
    bench 512fc_cpu_b256 --checkpoint $CK --input runs/nir/nmnist8.npz --device cpu --emulator-batch 256
    bench cnn_cuda_b512 --graph runs/nir/nmnist_cnn.nir --input runs/nir/nmnist300.npz --device cuda --emulator-batch 512
    bench cnn_cuda_b2048 --graph runs/nir/nmnist_cnn.nir --input runs/nir/nmnist300.npz --device cuda --emulator-batch 2048
    bench cnn_cpu_b64 --graph runs/nir/nmnist_cnn.nir --input runs/nir/nmnist300.npz --device cpu --emulator-batch 64
    tar czf "$OUT/benches.tar.gz" -C "$JSON" .
    ;;
*)
    echo "usage: scripts/gpu_check.sh prepare | run OUT_DIR" >&2
    exit 2
    ;;
esac
