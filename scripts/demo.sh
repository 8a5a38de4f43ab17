#!/usr/bin/env bash
# The main job on the embedded defaults: install the pinned bases, classify the sample photos with
# the stock ImageNet classifier, train a head on a sample dataset and classify with it.
# Environment: EDGETUNE_MODELS_FROM (local folder of the pinned files; default ../shared/models
# when present, else download from Coral), EDGETUNE_SAMPLES (folder of photos), EDGETUNE_DATASET.
set -euo pipefail
cd "$(dirname "$0")/.."
edgetune() { node dist/src/cli/index.js "$@"; }
npm run --silent build
from=${EDGETUNE_MODELS_FROM:-../shared/models}
if [ -d "$from" ]; then edgetune models fetch --from "$from"; else edgetune models fetch; fi
edgetune models list
samples=${EDGETUNE_SAMPLES:-../shared/images}
dataset=${EDGETUNE_DATASET:-../shared/datasets/objects-small}
if [ -d "$samples" ]; then
  echo "== stock ImageNet classifier (mobilenet_v2_1.0_224) on $samples"
  edgetune predict "$samples"/*.bmp --top 3
fi
if [ -d "$dataset" ]; then
  echo "== training a head on $dataset (defaults) into runs/demo"
  edgetune train "$dataset" --out runs/demo
  first=$(find "$dataset" -mindepth 2 -maxdepth 2 -type f | sort | head -n 1)
  echo "== the trained model on $first"
  edgetune predict --model runs/demo --top 3 "$first"
else
  echo "no dataset at $dataset: set EDGETUNE_DATASET to a folder-per-class dataset (DIR/<label>/<image>)"
fi
