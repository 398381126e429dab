#!/usr/bin/env bash
# The README's Hessian example: four small Fashion-MNIST runs (mi-binary, mi-binary-naive, SimCLR, BYOL), then the
# Hessian spectra of their projectors side by side (last checkpoint) and mi-binary's gradient flow.
# Usage: scripts/hessian_spectra.sh [OUT_DIR]   (default runs/hessian; trains only the runs not there yet)
set -euo pipefail
out="${1:-runs/hessian}"
common=(--set "run.out_dir=\"$out\"" --set eval.linear_epochs=0 --set eval.online_linear=false)
train() {  # RUN_NAME RECIPE [--set ...]
    local name="$1" recipe="$2"
    shift 2
    [[ -f "$out/$name/summary.json" ]] || zoo train "$recipe" "${common[@]}" --set "run.name=$name" "$@"
}
train mi-binary recipes/quickstart.toml
train mi-binary-naive recipes/quickstart.toml --set method.name=mi-binary-naive
train simclr recipes/simclr_fashion_mnist_small.toml
train byol recipes/byol_fashion_mnist_small.toml
runs=("$out/mi-binary" "$out/mi-binary-naive" "$out/simclr" "$out/byol")
fast=(--batch 128 --lanczos-steps 20 --trace-probes 16 --density-probes 2 --density-steps 20)
time zoo analyze hessian "${runs[@]}" --params projector --checkpoint last "${fast[@]}" --figure docs/hessian_spectra.png
time zoo analyze gradient "$out/mi-binary" "$out/mi-binary-naive"
