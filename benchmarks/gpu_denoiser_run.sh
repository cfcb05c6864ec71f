#!/usr/bin/env bash
# The denoiser's GPU fine-tune (issue 14), as run on one NVIDIA H200 with 16 CPU cores, in one call:
#   1. the machine and its packages; 2. training throughput with 0 and N render workers (the same
#   40 steps, not saved); 3. the run itself, from the shipped denoiser, for MINUTES (default 6).
# Usage: OUT=folder bash benchmarks/gpu_denoiser_run.sh   (the run's folder: $OUT/dn)
set -uo pipefail
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PY:-python3}
MINUTES=${MINUTES:-6}
OUT=${OUT:?set OUT to a folder}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
nproc
$PY -c "import torch, skimage, numpy; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'skimage', skimage.__version__, 'numpy', numpy.__version__)" || exit 1
$PY -m blur2vid train --preset smoke --out /tmp/smoke --quiet || exit 1
for w in 0 auto; do
  rm -rf /tmp/tp$w
  /usr/bin/time -f "workers=$w: %e s wall" $PY -m blur2vid train --preset denoiser --set steps=40 --set batch=32 \
      --set n_test=8 --workers $w --quiet --out /tmp/tp$w 2>&1 | tail -2
  $PY -c "import json; h=json.load(open('/tmp/tp$w/model.json')); print('workers=$w', h['train_seconds_this_session'], 's for', h['samples'], 'samples')"
done
$PY -m blur2vid train --preset denoiser --set init=default --set lr=3e-4 --set batch=32 --set minutes=$MINUTES \
    --set data.capture.clean=0 --quiet --out "$OUT/dn" 2>&1 | tail -5
cat "$OUT/dn/train_spec.json"
$PY - "$OUT/dn" <<'PY'
import json, sys, torch
d = sys.argv[1]
notes = json.load(open(f"{d}/model.json"))
print({k: notes[k] for k in ("steps", "samples", "train_seconds_this_session", "held_out", "budget")})
ck = next(__import__("pathlib").Path(d, "checkpoints").glob("*.pt"))
hist = torch.load(ck, weights_only=True)["history"]
for h in hist:
    if "val_denoised_db" in h:
        print(h["step"], h["samples"], round(h["samples_per_s"], 1), round(h["val_denoised_db"], 3))
PY
