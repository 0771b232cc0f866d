#!/usr/bin/env bash
# DisBM and ICF next to beta-VAE at one budget (steps, batch, latent size), on dSprites (MIG, DCI)
# and on the Room (transfer probe, DCI). Every command is a plain `darla` command; results go to
# $OUT (default runs/bench_disbm_icf). One seed (0). docs/vision.md holds the table it produced.
#
#   nice -n 10 env OMP_NUM_THREADS=1 bash benchmarks/bench_disbm_icf.sh [dsprites|room|all]
#
# ICF learns by acting, so on dSprites it walks darla/dSpritesWalk-v0 (dSprites' own frames, one
# action pair per factor) and on the Room it acts in the Room's source domain; the others read
# 20,000 source frames. Scores use fresh samples of the ground truth (source domain on the Room).
# STEPS (default 1000), SEED (default 0) and METHODS (default "beta_vae disbm icf") select the runs,
# e.g. for DisBM at 10k steps over three seeds:
#   for s in 0 1 2; do OUT=runs/bench_disbm_icf/s$s SEED=$s METHODS=disbm STEPS=10000 bash ...; done
set -euo pipefail
OUT=${OUT:-runs/bench_disbm_icf}
STEPS=${STEPS:-1000}
SEED=${SEED:-0}
METHODS=${METHODS:-beta_vae disbm icf}
COMMON="steps=$STEPS batch_size=32 z_dim=10 seed=$SEED device=cpu threads=1"
DARLA=${DARLA:-.venv/bin/darla}
WHICH=${1:-all}
mkdir -p "$OUT"

see() {  # see DATASET_TAG METHOD SOURCE_ARGS... -- OVERRIDES...
    local tag=$1 method=$2; shift 2
    local t0=$SECONDS
    "$DARLA" see "$@" --method "$method" --out "$OUT/$tag/$method" --no-progress $COMMON \
        | tee "$OUT/$tag/$method.log"
    echo "$tag $method train_s $((SECONDS - t0))" | tee -a "$OUT/times.txt"
}

train_methods() {  # train_methods DATASET_TAG ICF_ENV: every method in $METHODS on $OUT/TAG/frames.h5
    local tag=$1 icf_env=$2 m
    for m in $METHODS; do
        case $m in
            beta_vae) see "$tag" beta_vae --data "$OUT/$tag/frames.h5" beta=4 lr=5e-4 ;;
            icf) see "$tag" icf --env "$icf_env" ;;  # ICF learns by acting, not from the frames
            *) see "$tag" "$m" --data "$OUT/$tag/frames.h5" ;;
        esac
    done
}

if [[ $WHICH == all || $WHICH == dsprites ]]; then
    mkdir -p "$OUT/dsprites"
    [[ -f $OUT/dsprites/frames.h5 ]] || "$DARLA" collect dsprites --frames 20000 --seed 0 --sampling factors \
        --out "$OUT/dsprites/frames.h5"
    train_methods dsprites darla/dSpritesWalk-v0
    for m in $METHODS; do
        "$DARLA" metrics "$OUT/dsprites/$m/checkpoint.pt" --env dsprites --metrics mig,dci \
            --set dci.importance=forest --out "$OUT/dsprites/$m.scores.json"
    done
fi

if [[ $WHICH == all || $WHICH == room ]]; then
    mkdir -p "$OUT/room"
    [[ -f $OUT/room/frames.h5 ]] || "$DARLA" collect darla/Room-v1 --frames 20000 --seed 0 --sampling factors \
        --out "$OUT/room/frames.h5"
    train_methods room darla/Room-v1
    for m in $METHODS; do
        "$DARLA" metrics "$OUT/room/$m/checkpoint.pt" --env darla/Room-v1 --domain source --metrics probe,dci \
            --set dci.importance=forest --out "$OUT/room/$m.scores.json"
    done
fi
