#!/usr/bin/env bash
# Every figure quoted in README.md and docs/ (results, backend speed), in order. Logs go to runs/logs/.
# Trained models land in runs/models/ (the study scripts reuse them). Hours on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
NA=.venv/bin/neuroattack
PY=.venv/bin/python
mkdir -p runs/logs runs/bench
log() { echo "== $*" >&2; }

# -- models (default specs: digits 256FC-10FC, MNIST 16C5-AP2-32C5-AP2-10FC, nmnist-sim 512FC-10FC)
trained() { [ -f "runs/models/$1/metrics.json" ]; }
trained digits         || $NA train --dataset digits --out runs/models/digits 2>&1 | tail -1 | tee -a runs/logs/train.log
trained digits-ann     || $NA train --dataset digits --model-type ann --loss ce --out runs/models/digits-ann 2>&1 | tail -1 | tee -a runs/logs/train.log
trained mnist          || $NA train --dataset mnist --out runs/models/mnist 2>&1 | tail -1 | tee -a runs/logs/train.log
trained mnist-ann      || $NA train --dataset mnist --model-type ann --loss ce --out runs/models/mnist-ann 2>&1 | tail -1 | tee -a runs/logs/train.log
trained nmnist-sim     || $NA train --dataset nmnist-sim --out runs/models/nmnist-sim 2>&1 | tail -1 | tee -a runs/logs/train.log
trained nmnist-sim-ann || $NA train --dataset nmnist-sim --model-type ann --loss ce --out runs/models/nmnist-sim-ann 2>&1 | tail -1 | tee -a runs/logs/train.log
trained mnist-l1.0     || $NA train --dataset mnist --lambda 1.0 --out runs/models/mnist-l1.0 2>&1 | tail -1 | tee -a runs/logs/train.log

# -- benchmarks (nothing else running)
$PY scripts/first_run.py --out runs/bench/first_run.json | tee runs/logs/first_run.log
[ -f runs/demo/models/nmnist-sim-quick-mse/metrics.json ] || $NA demo > runs/logs/demo.log
# on a shared machine: 0 and 1 busy processes beside the emulator
$NA bench backends --checkpoint runs/demo/models/nmnist-sim-quick-mse --no-lava --competing 0 --out runs/bench/load0.json
$NA bench backends --checkpoint runs/demo/models/nmnist-sim-quick-mse --no-lava --competing 1 --out runs/bench/load1.json
$NA bench attacks  --checkpoint runs/models/mnist      --out runs/bench/attacks.json  | tee runs/logs/bench_attacks.log
$NA bench backends --checkpoint runs/models/nmnist-sim --out runs/bench/backends.json | tee runs/logs/bench_backends.log
$NA bench backends --checkpoint runs/models/nmnist-sim --profile float --out runs/bench/backends_float.json \
    | tee runs/logs/bench_backends_float.log
$NA bench backends --checkpoint runs/models/mnist --lava-samples 20 --out runs/bench/backends_mnist.json | tee runs/logs/bench_backends_mnist.log
$PY scripts/nir_cnn.py --out runs/nir/nmnist_cnn.nir --frames runs/nir/nmnist300.npz --n 64
$NA bench backends --graph runs/nir/nmnist_cnn.nir --input runs/nir/nmnist300.npz --lava-samples 4 --emulator-batch 64 \
    --out runs/bench/backends_cnn.json | tee runs/logs/bench_backends_cnn.log
$NA bench backends --graph runs/nir/nmnist_cnn.nir --input runs/nir/nmnist300.npz --profile float --lava-samples 4 \
    --emulator-batch 64 --out runs/bench/backends_cnn_float.json | tee runs/logs/bench_backends_cnn_float.log

# -- float -> fixed point accuracy (emulator on the whole test set, Lava on a subset)
for m in mnist nmnist-sim; do
  for b in "norse" "reference --profile float" "emulator --profile float" \
           "emulator --profile loihi2-w6" "emulator --profile loihi2-w4"; do
    $NA evaluate --checkpoint runs/models/$m --backend $b --out runs/logs/eval.json 2>/dev/null | tail -1 | sed "s/^/$m: /" | tee -a runs/logs/evaluate.log
  done
  $NA evaluate --checkpoint runs/models/$m --n 300 --backend emulator --profile loihi2 --out runs/logs/eval.json 2>/dev/null | tail -1 | sed "s/^/$m (first 300): /" | tee -a runs/logs/evaluate.log
done
$NA evaluate --checkpoint runs/models/mnist --backend emulator --profile loihi2 2>/dev/null | tail -1 | tee -a runs/logs/evaluate.log
$NA evaluate --checkpoint runs/models/mnist --backend lava --profile loihi2 --n 300 2>/dev/null | tail -1 | tee -a runs/logs/evaluate.log
$NA evaluate --checkpoint runs/models/nmnist-sim --backend emulator --profile loihi2 2>/dev/null | tail -1 | tee -a runs/logs/evaluate.log
$NA evaluate --checkpoint runs/models/nmnist-sim --backend lava --profile loihi2 --n 300 2>/dev/null | tail -1 | tee -a runs/logs/evaluate.log
$NA export --checkpoint runs/models/mnist --out runs/nir/mnist.nir | tee -a runs/logs/export.log
$NA export --checkpoint runs/models/nmnist-sim --out runs/nir/nmnist-sim.nir | tee -a runs/logs/export.log

# -- G2S/RSF on nmnist-sim (untargeted, ablation without sampling, targeted)
$NA attack --checkpoint runs/models/nmnist-sim --attack g2s-rsf --n 1000 --out runs/attacks/nmnist-g2s 2>/dev/null | tail -1 | tee -a runs/logs/attacks.log
$NA attack --checkpoint runs/models/nmnist-sim --attack g2s-rsf --penultimate-threshold 1.5 --n 1000 --out runs/attacks/nmnist-g2s-th1.5 2>/dev/null | tail -1 | tee -a runs/logs/attacks.log
$NA attack --checkpoint runs/models/nmnist-sim --attack g2s-rsf --penultimate-threshold 2.0 --n 1000 --out runs/attacks/nmnist-g2s-th2.0 2>/dev/null | tail -1 | tee -a runs/logs/attacks.log
$NA attack --checkpoint runs/models/nmnist-sim --attack g2s-rsf --no-sampling --n 1000 --out runs/attacks/nmnist-g2s-nosampling 2>/dev/null | tail -1 | tee -a runs/logs/attacks.log
$NA attack --checkpoint runs/models/nmnist-sim --attack g2s-rsf --targeted --n 100 --out runs/attacks/nmnist-g2s-targeted 2>/dev/null | tail -1 | tee -a runs/logs/attacks.log
$NA attack --checkpoint runs/models/nmnist-sim --attack g2s-rsf --targeted --no-sampling --n 100 --out runs/attacks/nmnist-g2s-targeted-nosampling 2>/dev/null | tail -1 | tee -a runs/logs/attacks.log

# -- CE on spike counts or on rates (MNIST, Liang Table III and VII)
trained mnist-ce       || $NA train --dataset mnist --loss ce --out runs/models/mnist-ce 2>&1 | tail -1 | tee -a runs/logs/train.log
trained mnist-ce-rates || $NA train --dataset mnist --loss ce-rates --out runs/models/mnist-ce-rates 2>&1 | tail -1 | tee -a runs/logs/train.log
$NA attack --checkpoint runs/models/mnist --attack g2s-rsf --n 500 --out runs/attacks/mnist-g2s 2>/dev/null | tail -1 | tee -a runs/logs/attacks.log
$NA attack --checkpoint runs/models/mnist --attack g2s-rsf --targeted --n 50 --out runs/attacks/mnist-g2s-targeted 2>/dev/null | tail -1 | tee -a runs/logs/attacks.log
$NA attack --checkpoint runs/models/mnist-ce --attack g2s-rsf --n 500 --out runs/attacks/mnist-ce-g2s 2>/dev/null | tail -1 | tee -a runs/logs/attacks.log
$NA attack --checkpoint runs/models/mnist-ce --attack g2s-rsf --targeted --n 50 --out runs/attacks/mnist-ce-g2s-targeted 2>/dev/null | tail -1 | tee -a runs/logs/attacks.log
$NA attack --checkpoint runs/models/mnist-ce-rates --attack g2s-rsf --n 500 --out runs/attacks/mnist-ce-rates-g2s 2>/dev/null | tail -1 | tee -a runs/logs/attacks.log
$NA attack --checkpoint runs/models/mnist-ce-rates --attack g2s-rsf --targeted --n 50 --out runs/attacks/mnist-ce-rates-g2s-targeted 2>/dev/null | tail -1 | tee -a runs/logs/attacks.log

# -- studies (HART's Table 2 is the estimator table of hart_findings.py), then the demo from scratch
$PY scripts/hart_findings.py --n 300        2>/dev/null | tail -120 > runs/logs/hart.log
$PY scripts/quantization_sweep.py --n 300   2>/dev/null | tail -20 > runs/logs/quantization.log
$PY scripts/liang_findings.py --n 300       2>/dev/null | tail -35 > runs/logs/liang.log
$PY scripts/sharmin_findings.py --n 300     2>/dev/null | tail -30 > runs/logs/sharmin.log
$PY scripts/threat_models.py --n 300       2>/dev/null | tail -20 > runs/logs/threat_models.log
$PY scripts/threat_models.py --quick --n 100 --models runs/demo/models --store runs/threat/results.sqlite 2>/dev/null | tail -45 > runs/logs/threat_models_quick.log
$PY scripts/seed_findings.py --n 300       2>/dev/null | tail -12 > runs/logs/seed_findings.log
$PY scripts/interop_table.py               2>/dev/null > runs/logs/interop.log
if command -v nvidia-smi > /dev/null; then  # the GPU figures, where there is one
    scripts/gpu_check.sh prepare; scripts/gpu_check.sh run runs/gpu_check
fi
rm -rf runs/demo-fresh
( time NEUROATTACK_CACHE=$(mktemp -d) $NA demo --out runs/demo-fresh ) 2>&1 | grep -v "it/s\]\|s/it\]\|chunk/s\]" | tail -16 > runs/logs/demo.log

# -- real N-MNIST recordings and the NIR paper's Sinabs CNN (README's real-recording results): give
# the folder holding NMNIST/Train and the .nir file as NMNIST_REAL and NIR_PAPER_CNN
if [ -n "${NMNIST_REAL:-}" ] && [ -n "${NIR_PAPER_CNN:-}" ]; then
  $PY scripts/real_recordings.py --graph "$NIR_PAPER_CNN" --data-root "$NMNIST_REAL" --n 24 --out runs/real \
      2>/dev/null | tee runs/logs/real_recordings.log
  REAL="--graph $NIR_PAPER_CNN --framework sinabs --reset zero --dataset nmnist --data-root $NMNIST_REAL --split train --timesteps 60"
  for A in sparsefool g2s-rsf; do  # unbounded: the events each needs
    $NA attack $REAL --attack $A --n 24 --out runs/real/attack-$A 2>/dev/null | tail -1 | tee -a runs/logs/real_recordings.log
    $NA replay --graph "$NIR_PAPER_CNN" --framework sinabs --reset zero --streams runs/real/attack-$A --backend emulator \
        --profile loihi2 --out runs/real/replay-$A 2>/dev/null | tail -1 | tee -a runs/logs/real_recordings.log
  done
  $NA attack $REAL --attack sparsefool --prune-trials 1000 --n 24 --out runs/real/attack-sparsefool-p1000 2>/dev/null \
      | tail -1 | tee -a runs/logs/real_recordings.log
  $NA replay --graph "$NIR_PAPER_CNN" --framework sinabs --reset zero --streams runs/real/attack-sparsefool-p1000 --backend emulator \
      --profile loihi2 --out runs/real/replay-sparsefool-p1000 2>/dev/null | tail -1 | tee -a runs/logs/real_recordings.log
  $NA export-events --streams runs/real/attack-sparsefool --format nmnist-bin --out runs/real/events-sparsefool
  $NA curve $REAL --attacks sparsefool,g2s-rsf,random --budgets 20,100,500 --n 24 --backend lava --profile loihi2 --hw-n 8 \
      --store runs/real/curves.sqlite --work-dir runs/real/work --out runs/real/curve-lava | tee -a runs/logs/real_recordings.log
fi
