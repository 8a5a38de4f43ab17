#!/usr/bin/env bash
# `npm run demo`: the main job end to end on the sample data shipped in samples/ (see its README):
# install the pinned bases, classify the sample photos with the stock ImageNet classifier, train a
# head on samples/gestures into runs/demo, score it on the held-out photos, classify one of them,
# and end with a summary.
#
# Environment (all optional):
#   EDGETUNE_MODELS_FROM  folder holding the pinned base files (e.g. ../shared/models); default:
#                         download the missing ones from Coral's test_data (files already installed
#                         and verified in models/ are kept, so a second run needs no network)
#   EDGETUNE_SAMPLES      folder of photos for the stock classifier (default samples/images)
#   EDGETUNE_DATASET      folder-per-class dataset to train on (default samples/gestures)
#   EDGETUNE_HOLDOUT      folder-per-class photos the model never sees, to score it on (default
#                         samples/gestures-holdout with the default dataset, else none)
#   EDGETUNE_DEMO_OUT     model folder to write (default runs/demo)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
edgetune() { node dist/src/cli/index.js "$@"; }
step() { printf '\n== %s\n' "$*"; }
fail() { printf 'demo: %s\n' "$*" >&2; exit 1; }
# Prints `edgetune predict --json` output (a file) the way `predict` prints it for people.
show() {
  # shellcheck disable=SC2016 # JavaScript template literals: the $ is node's, not the shell's
  node -e '
    for (const r of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))) {
      console.log(r.error ? `${r.file}: ${r.error}` : `${r.file} (${r.ms.toFixed(1)} ms)`);
      for (const p of r.predictions ?? []) console.log(`  ${(p.score * 100).toFixed(1).padStart(5)}%  ${p.label}`);
    }' "$1"
}

samples=${EDGETUNE_SAMPLES:-samples/images}
dataset=${EDGETUNE_DATASET:-samples/gestures}
if [ -n "${EDGETUNE_HOLDOUT+set}" ]; then holdout=$EDGETUNE_HOLDOUT
elif [ -z "${EDGETUNE_DATASET:-}" ]; then holdout=samples/gestures-holdout
else holdout=''; fi
out=${EDGETUNE_DEMO_OUT:-runs/demo}
[ -d "$dataset" ] || fail "no dataset at $dataset: set EDGETUNE_DATASET to a folder with one subfolder of photos per class (DIR/<label>/<image>)"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/edgetune-demo.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

step "building"
npm run --silent build

step "installing the pinned bases into models/"
if [ -n "${EDGETUNE_MODELS_FROM:-}" ]; then
  edgetune models fetch --from "$EDGETUNE_MODELS_FROM" \
    || fail "could not install the bases from EDGETUNE_MODELS_FROM=$EDGETUNE_MODELS_FROM: point it at a folder holding the pinned files (see README, Quick start)"
else
  edgetune models fetch \
    || fail "could not download the pinned bases (offline?): set EDGETUNE_MODELS_FROM to a folder holding them, e.g. EDGETUNE_MODELS_FROM=../shared/models npm run demo"
fi

photos=()
if [ -d "$samples" ]; then
  while IFS= read -r f; do photos+=("$f"); done < <(find "$samples" -maxdepth 1 -type f ! -name '*.md' ! -name '.*' | sort)
fi
if [ ${#photos[@]} -gt 0 ]; then
  step "stock ImageNet classifier (mobilenet_v2_1.0_224) on ${#photos[@]} photo(s) in $samples"
  edgetune predict "${photos[@]}" --top 3 --json > "$tmp/stock.json"
  show "$tmp/stock.json"
fi

step "training a head on $dataset (defaults) into $out"
edgetune train "$dataset" --out "$out"

if [ -n "$holdout" ]; then
  step "scoring $out on the held-out photos in $holdout"
  edgetune eval "$out" "$holdout" | tee "$tmp/eval.txt"
  probe=$(find "$holdout" -mindepth 2 -maxdepth 2 -type f ! -name '.*' | sort | tail -n 1)
  note='held out'
else
  probe=$(find "$dataset" -mindepth 2 -maxdepth 2 -type f ! -name '.*' | sort | head -n 1)
  note='a training photo: set EDGETUNE_HOLDOUT for unseen ones'
fi
step "the trained model on $probe ($note)"
edgetune predict --model "$out" --top 3 --json "$probe" > "$tmp/probe.json"
show "$tmp/probe.json"

step "summary"
# shellcheck disable=SC2016 # JavaScript template literals: the $ is node's, not the shell's
node -e '
  const fs = require("fs");
  const [tmp, out, holdout, seconds] = process.argv.slice(1);
  const pct = (x) => `${(x * 100).toFixed(1)}%`;
  if (fs.existsSync(`${tmp}/stock.json`)) {
    for (const r of JSON.parse(fs.readFileSync(`${tmp}/stock.json`, "utf8"))) {
      const top = r.predictions?.[0];
      console.log(`stock classifier   ${r.file}: ${top ? `${top.label} (${pct(top.score)})` : r.error}`);
    }
  }
  const m = JSON.parse(fs.readFileSync(`${out}/metadata.json`, "utf8"));
  console.log(`trained model      ${out}: ${m.labels.length} classes (${m.labels.join(", ")}), ` +
    `${m.dataset.counts.train} training + ${m.dataset.counts.test} test photos, base ${m.base.name}, ` +
    `${m.training.heads.length} head(s), ${Math.round(m.training.seconds.embed + m.training.seconds.train + m.training.seconds.export)} s`);
  const e = m.metrics.estimate;
  console.log(`estimate           ${e ? `${pct(e.accuracy)} on ${e.n} photos never used for training (${e.method})` : "none (--test-split 0)"}; ` +
    `validation ${pct(m.metrics.val_accuracy)} (optimistic); export agreement ${pct(m.metrics.export.agreement)}`);
  if (holdout) {
    const line = fs.readFileSync(`${tmp}/eval.txt`, "utf8").split("\n").find((l) => l.startsWith("accuracy:"));
    console.log(`held-out photos    ${holdout}: ${line ? line.replace("accuracy: ", "accuracy ") : "see above"}`);
  }
  const [p] = JSON.parse(fs.readFileSync(`${tmp}/probe.json`, "utf8"));
  const truth = p.file.split("/").slice(-2)[0];
  const top = p.predictions[0];
  console.log(`one photo          ${p.file} (class ${truth}): ${top.label} (${pct(top.score)}), ${p.ms.toFixed(1)} ms`);
  console.log(`files              ${[m.files.model, m.files.edgetpu].filter(Boolean).map((f) => `${out}/${f}`).join(", ")}`);
  console.log(`demo time          ${seconds} s`);
' "$tmp" "$out" "$holdout" "$((SECONDS - start))"
