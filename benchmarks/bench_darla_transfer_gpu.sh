#!/usr/bin/env bash
# The `room` experiment on a machine with one GPU and many cores, as the README's table was run:
# vision on the GPU; the latent agents (small MLPs) on CPU cores, one torch thread each; the
# `pixels` and `darla_ft` agents (CNNs) on the GPU, started once the vision models are scored.
# Both invocations share runs/room, so the last one only gathers the table.
#
#     bash benchmarks/bench_darla_transfer_gpu.sh [CPU_JOBS]     # default 12 latent agents at once
#     PYTHON=python3 bash benchmarks/bench_darla_transfer_gpu.sh  # an interpreter other than .venv's
set -euo pipefail
PYTHON="${PYTHON:-.venv/bin/python}"
DARLA="$PYTHON -m darla.cli"
CPU_JOBS="${1:-12}"
$DARLA run room jobs="$CPU_JOBS" threads=1 'variants=["darla","darla_ent","darla_dae","oracle"]' &
latent=$!
until [ -f runs/room/metrics/beta_vae_dae/stage.json ]; do  # vision and its scores are shared stages
    kill -0 "$latent" 2>/dev/null || { wait "$latent"; exit 1; }
    sleep 5
done
$DARLA run room jobs=6 threads=1 agent.device=cuda 'variants=["pixels","darla_ft"]'
wait "$latent"
"$PYTHON" benchmarks/bench_darla_transfer.py  # every stage is finished: prints the table and the criteria
