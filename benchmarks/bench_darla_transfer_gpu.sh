#!/usr/bin/env bash
# The `room` experiment on a machine with one GPU and many cores, as the README's table was run:
# vision on the GPU; the latent agents (small MLPs) on CPU cores, one torch thread each; the
# `pixels` and `darla_ft` agents (CNNs) on the GPU, started once the vision models are selected.
# A run directory has one writer at a time (its lock), so the GPU agents train in a copy of the
# finished collect/vision stages (runs/room_gpu, same fingerprints: nothing is retrained) and their
# stages are copied back; the last command finds every stage finished and only writes the table.
#
#     bash benchmarks/bench_darla_transfer_gpu.sh [CPU_JOBS]     # default 12 latent agents at once
#     PYTHON=python3 bash benchmarks/bench_darla_transfer_gpu.sh  # an interpreter other than .venv's
set -euo pipefail
PYTHON="${PYTHON:-.venv/bin/python}"
DARLA="$PYTHON -m darla.cli"
CPU_JOBS="${1:-12}"
$DARLA run room jobs="$CPU_JOBS" threads=1 variants=darla,darla_ent,darla_dae,oracle &
latent=$!
until [ -f runs/room/select/beta_vae_dae/stage.json ]; do  # every vision model trained, scored, selected
    kill -0 "$latent" 2>/dev/null || { wait "$latent"; exit 1; }
    sleep 5
done
mkdir -p runs/room_gpu
cp -r runs/room/collect runs/room/vision runs/room/select runs/room/metrics runs/room_gpu/
$DARLA run room name=room_gpu jobs=6 threads=1 agent.device=cuda variants=pixels,darla_ft
wait "$latent"
for stage in agent transfer; do
    mkdir -p "runs/room/$stage"
    cp -r "runs/room_gpu/$stage/pixels" "runs/room_gpu/$stage/darla_ft" "runs/room/$stage/"
done
"$PYTHON" benchmarks/bench_darla_transfer.py  # every stage is finished: prints the table and the criteria
