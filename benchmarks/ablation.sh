#!/usr/bin/env bash
# What each training option of the bundled recipe adds: four short runs (3 epochs, same seed), then one table.
#   base    MNIST + the training writers' pen digits rendered 6 times (the earlier bundled recipe)
#   stroke  + --stroke-augment
#   styles  + --styles all
#   both    + --stroke-augment --styles all (the bundled recipe, at 3 of its 24 epochs)
# Usage: bash benchmarks/ablation.sh [OUT_DIR] [EPOCHS]   (a finished run's file is kept and not retrained)
# Then the table (MNIST one view / five views, held-out pen digits alone and + penseq, latency):
#   .venv/bin/python benchmarks/recognition.py --models OUT_DIR/{base,stroke,styles,both}.pt assets/digitnet.pt
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-ablation}
epochs=${2:-3}
mkdir -p "$out"
common=(--arch digitnet --optimizer adamw --lr 3e-3 --weight-decay 0.01 --schedule onecycle --batch-size 128
        --epochs "$epochs" --ema 0.999 --augment --pen-digits --pen-copies 6 --seed 1
        --data-dir ../shared/mnist --device cpu --threads 1 --quiet)
declare -A extra=([base]="" [stroke]="--stroke-augment" [styles]="--styles all" [both]="--stroke-augment --styles all")
for name in base stroke styles both; do
    [ -f "$out/$name.pt" ] && continue
    start=$(date +%s)
    # shellcheck disable=SC2086  # the options are meant to split into words
    .venv/bin/digitpad-train train "${common[@]}" ${extra[$name]} --log "$out/$name.jsonl" --out "$out/$name.pt"
    echo "$name: $(( $(date +%s) - start )) s, load average $(cut -d' ' -f1-3 /proc/loadavg)"
done
