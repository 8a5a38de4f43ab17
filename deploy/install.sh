#!/usr/bin/env bash
# Installs EdgeTune's web UI (`edgetune serve`) as a systemd service on Raspberry Pi OS Bookworm
# 64-bit, Debian or Ubuntu (arm64 or x86-64), from the built checkout this script is in. Idempotent:
# a second run changes nothing and says so. Run `deploy/install.sh --help` for the options.
#
# Layout (every path below is under --root DIR when given):
#   /opt/edgetune/releases/<version>-<hash>/  the app (dist/, web/, package files, node_modules from
#                                             `npm ci --omit=dev`); <hash> covers its files, the
#                                             Node.js ABI and the CPU, so a changed checkout or a new
#                                             Node.js makes a new release
#   /opt/edgetune/current, previous           symbolic links to the active and the previous release
#   /opt/edgetune/bin/edgetune                launcher: the Node.js found at install time, the
#                                             current release, EDGETUNE_MODELS=/var/lib/edgetune/models
#   /usr/local/bin/edgetune                   symbolic link to the launcher
#   /var/lib/edgetune/data                    the data folder (dataset, model versions), user edgetune
#   /var/lib/edgetune/models                  the pinned pretrained bases
#   /etc/edgetune/edgetune.conf               settings of `edgetune serve`; written once, never replaced
#   /etc/systemd/system/edgetune.service      the unit (deploy/edgetune.service)
#   /etc/udev/rules.d/71-edgetune-coral.rules with --coral: the Coral USB Accelerator for plugdev
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly SRC
readonly CORAL_REPO='https://packages.cloud.google.com/apt coral-edgetpu-stable main'
readonly CORAL_KEY_URL='https://packages.cloud.google.com/apt/doc/apt-key.gpg'
readonly SERVICE_USER=edgetune
# What the app needs at run time: the build, the page, the package files (npm ci, the version).
readonly APP_FILES=(package.json package-lock.json README.md dist/src web deploy)
# ffmpeg: USB cameras and video files; fswebcam: the `webcam` fallback; build-essential and python3:
# node-gyp builds tfjs-tflite-node's binding during npm ci; ca-certificates and curl: downloads.
readonly SYSTEM_PACKAGES=(ffmpeg fswebcam build-essential python3 ca-certificates curl)

usage() {
  cat <<'EOF'
Usage: sudo deploy/install.sh [options]

Installs (or updates) EdgeTune's web UI as the systemd service `edgetune`, from the checkout this
script is in (build it first: npm ci && npm run build). Safe to run again: it changes only what is
missing or out of date, keeps /etc/edgetune/edgetune.conf and the data, and says what it did.

Options:
  --coral             also install the Coral Edge TPU runtime (libedgetpu1-std from Coral's apt
                      repository) and a udev rule giving group plugdev the USB Accelerator
  --models-from DIR   copy the pretrained bases from DIR (e.g. a USB stick holding the files of
                      `edgetune models fetch`) instead of downloading them
  --dry-run           print every action it would take and change nothing
  --root DIR          install under DIR as if it were / (files keep naming /opt/edgetune, …); does
                      not touch systemd or udev (for tests and image builds)
  --skip-packages     do not install system packages (apt); Node.js 20+ must be there already
  --skip-user         do not create the user edgetune nor change owners
  -h, --help          this help
EOF
}

die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }
say() { printf '%s\n' "$*"; }

ROOT=""
DRY_RUN=0
CORAL=0
MODELS_FROM=""
SKIP_PACKAGES=0
SKIP_USER=0
while [ $# -gt 0 ]; do
  case "$1" in
    --coral) CORAL=1 ;;
    --models-from) [ $# -ge 2 ] || die "--models-from needs a folder: --models-from /media/usb/models"; MODELS_FROM="$2"; shift ;;
    --models-from=*) MODELS_FROM="${1#*=}" ;;
    --dry-run) DRY_RUN=1 ;;
    --root) [ $# -ge 2 ] || die "--root needs a folder: --root /tmp/edgetune-root"; ROOT="$2"; shift ;;
    --root=*) ROOT="${1#*=}" ;;
    --skip-packages) SKIP_PACKAGES=1 ;;
    --skip-user) SKIP_USER=1 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1': see deploy/install.sh --help" ;;
  esac
  shift
done

if [ -n "$ROOT" ]; then
  [ -d "$ROOT" ] || die "--root $ROOT is not a folder: create it first"
  ROOT="$(cd "$ROOT" && pwd)"
  [ "$ROOT" != / ] || ROOT=""
fi
if [ -n "$MODELS_FROM" ]; then
  [ -d "$MODELS_FROM" ] || die "--models-from $MODELS_FROM is not a folder: give the folder holding the base files (mobilenet_*.tflite, imagenet_labels.txt)"
  MODELS_FROM="$(cd "$MODELS_FROM" && pwd)"
fi

# A path on the target system, under --root.
r() { printf '%s%s' "$ROOT" "$1"; }

CHANGES=0
# Runs a change (or, with --dry-run, only prints it): act "what it does" command args…
act() {
  local what="$1"; shift
  CHANGES=$((CHANGES + 1))
  if [ "$DRY_RUN" -eq 1 ]; then
    say "  would: $what"
  else
    say "  change: $what"
    "$@"
  fi
}
ok() { say "  ok: $*"; }

# --- checks (read-only) --------------------------------------------------------------------------

IS_ROOT=0
if [ "$(id -u)" -eq 0 ]; then IS_ROOT=1; fi
if [ "$IS_ROOT" -eq 0 ] && [ "$DRY_RUN" -eq 0 ]; then
  if [ -z "$ROOT" ] || [ "$SKIP_PACKAGES" -eq 0 ] || [ "$SKIP_USER" -eq 0 ]; then
    die "run it as root (sudo deploy/install.sh …); only --root DIR with --skip-packages --skip-user works without"
  fi
fi

# The package architecture, not the kernel's: a 64-bit kernel may run a 32-bit (armhf) userland.
if command -v dpkg >/dev/null; then ARCH="$(dpkg --print-architecture)"; else ARCH="$(uname -m)"; fi
case "$ARCH" in
  arm64|aarch64|amd64|x86_64) ;;
  armhf|armel|armv6l|armv7l|arm) die "32-bit ARM ($ARCH) is not supported: no 32-bit ARM TFLite library is published for tfjs-tflite-node; install Raspberry Pi OS (64-bit) and run this again" ;;
  *) die "the architecture $ARCH is not supported: EdgeTune runs on arm64 (Raspberry Pi OS 64-bit) and x86-64" ;;
esac

if ! grep -qs '"name": "edgetune"' "$SRC/package.json"; then die "$SRC is not an EdgeTune checkout: run the deploy/install.sh that is inside one"; fi
[ -f "$SRC/dist/src/cli/index.js" ] || die "$SRC is not built: run \`npm ci && npm run build\` in $SRC first"
if [ -n "$(find "$SRC/src" -name '*.ts' -newer "$SRC/dist/src/cli/index.js" -print -quit)" ]; then
  die "the build in $SRC/dist is older than src/: run \`npm run build\` in $SRC first"
fi

# os-release(5): shell variable assignments, read in a subshell.
# shellcheck source=/dev/null
OS_NAME="$( . /etc/os-release 2>/dev/null && printf '%s' "${PRETTY_NAME:-unknown}")" || OS_NAME=unknown
if [ "$SKIP_PACKAGES" -eq 0 ]; then
  # shellcheck source=/dev/null
  OS_LIKE="$( . /etc/os-release 2>/dev/null && printf '%s %s' "${ID:-}" "${ID_LIKE:-}")" || OS_LIKE=""
  case " $OS_LIKE " in
    *" debian "*|*" ubuntu "*|*" raspbian "*) ;;
    *) die "$OS_NAME is not Debian, Ubuntu or Raspberry Pi OS: install Node.js 20+, ffmpeg and fswebcam yourself and run this with --skip-packages" ;;
  esac
fi

if [ "$DRY_RUN" -eq 1 ]; then
  say "EdgeTune: dry run of the install from $SRC${ROOT:+ into $ROOT}: nothing is changed"
else
  say "EdgeTune: installing from $SRC${ROOT:+ into $ROOT}"
fi

# --- system packages and Node.js -----------------------------------------------------------------

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || printf 0; }
installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

APT_UPDATED=0
apt_update() {
  if [ "$APT_UPDATED" -eq 0 ]; then
    APT_UPDATED=1
    act "apt-get update" apt-get update -qq
  fi
}
apt_install() {
  apt_update
  act "apt-get install $*" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

say "system packages"
if [ "$(node_major)" -ge 20 ] && command -v npm >/dev/null; then
  ok "Node.js $(node -v) and npm $(npm -v)"
elif [ "$SKIP_PACKAGES" -eq 1 ]; then
  die "Node.js 20 or newer with npm is needed (found: $(command -v node >/dev/null && node -v || printf none)): install it (https://nodejs.org/en/download) and run this again"
else
  [ "$DRY_RUN" -eq 1 ] || apt_update
  CANDIDATE="$(apt-cache policy nodejs 2>/dev/null | sed -n 's/^ *Candidate: *//p')"
  CANDIDATE_MAJOR="$(printf '%s' "$CANDIDATE" | sed -E 's/^([0-9]+:)?([0-9]+).*/\2/')"
  if [ -n "$CANDIDATE_MAJOR" ] && [ "$CANDIDATE_MAJOR" -ge 20 ] 2>/dev/null; then
    apt_install nodejs npm
  else
    die "Node.js 20 or newer is needed and $OS_NAME offers nodejs ${CANDIDATE:-none}: install Node.js 22 from NodeSource (curl -fsSL https://deb.nodesource.com/setup_22.x | sudo bash - && sudo apt-get install -y nodejs) and run this again"
  fi
fi

if [ "$SKIP_PACKAGES" -eq 1 ]; then
  ok "system packages skipped (--skip-packages)"
else
  MISSING=()
  for p in "${SYSTEM_PACKAGES[@]}"; do installed "$p" || MISSING+=("$p"); done
  if [ ${#MISSING[@]} -gt 0 ]; then apt_install "${MISSING[@]}"; else ok "${SYSTEM_PACKAGES[*]}"; fi
fi

# --- Coral Edge TPU runtime ----------------------------------------------------------------------

# Writes a file when its content differs: put_file PATH MODE CONTENT.
put_file() {
  local file="$1" mode="$2" content="$3"
  if [ -f "$file" ] && [ "$(cat "$file")" = "$content" ] && [ "$(stat -c %a "$file")" = "$mode" ]; then
    ok "$file"
  else
    act "write $file" write_file "$file" "$mode" "$content"
  fi
}
write_file() {
  mkdir -p "$(dirname "$1")"
  local tmp="$1.tmp.$$"
  printf '%s\n' "$3" > "$tmp"
  chmod "$2" "$tmp"
  mv -f "$tmp" "$1"
}

# Coral's key as a binary keyring: the file it serves may be armored or binary (it has been both).
fetch_key() {
  local tmp="$1.tmp.$$"
  mkdir -p "$(dirname "$1")"
  curl -fsSL "$CORAL_KEY_URL" -o "$tmp" || { rm -f "$tmp"; die "cannot download $CORAL_KEY_URL: check the network, or install without --coral"; }
  if grep -q -- '-----BEGIN PGP' "$tmp"; then
    command -v gpg >/dev/null || apt-get install -y -qq gpg
    gpg --dearmor < "$tmp" > "$tmp.bin" && mv -f "$tmp.bin" "$tmp"
  fi
  chmod 644 "$tmp"
  mv -f "$tmp" "$1"
}

CORAL_RULE_CHANGED=0
if [ "$CORAL" -eq 1 ]; then
  say "Coral Edge TPU runtime"
  # Coral's USB ids (libedgetpu's debian/edgetpu-accelerator.rules): 1a6e:089a (Global Unichip) until
  # its firmware is loaded, then 18d1:9302 (Google). MODE 0660 + GROUP plugdev: the service's group.
  RULE="$(r /etc/udev/rules.d/71-edgetune-coral.rules)"
  BEFORE=$CHANGES
  put_file "$RULE" 644 '# Written by EdgeTune deploy/install.sh --coral: the Coral USB Accelerator for group plugdev.
SUBSYSTEM=="usb", ATTRS{idVendor}=="1a6e", ATTRS{idProduct}=="089a", MODE="0660", GROUP="plugdev"
SUBSYSTEM=="usb", ATTRS{idVendor}=="18d1", ATTRS{idProduct}=="9302", MODE="0660", GROUP="plugdev"'
  [ "$CHANGES" -eq "$BEFORE" ] || CORAL_RULE_CHANGED=1
  if [ "$SKIP_PACKAGES" -eq 1 ]; then
    ok "Coral apt repository and libedgetpu1-std skipped (--skip-packages)"
  else
    KEY="$(r /etc/apt/keyrings/coral-edgetpu.gpg)"
    if [ -s "$KEY" ]; then ok "$KEY"; else
      act "download Coral's apt key to $KEY (binary, for signed-by)" fetch_key "$KEY"
    fi
    put_file "$(r /etc/apt/sources.list.d/coral-edgetpu.list)" 644 "deb [signed-by=/etc/apt/keyrings/coral-edgetpu.gpg] $CORAL_REPO"
    if installed libedgetpu1-std; then ok libedgetpu1-std; else
      APT_UPDATED=0
      apt_install libedgetpu1-std
    fi
  fi
fi

# --- the service user ----------------------------------------------------------------------------

say "user"
if [ "$SKIP_USER" -eq 1 ]; then
  ok "user $SERVICE_USER skipped (--skip-user)"
else
  for g in video plugdev; do
    if getent group "$g" >/dev/null; then ok "group $g"; else act "add group $g" groupadd --system "$g"; fi
  done
  if getent passwd "$SERVICE_USER" >/dev/null; then ok "user $SERVICE_USER"; else
    act "add system user $SERVICE_USER (home /var/lib/edgetune, no login)" \
      useradd --system --user-group --home-dir /var/lib/edgetune --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
  fi
  for g in video plugdev; do
    if id -nG "$SERVICE_USER" 2>/dev/null | tr ' ' '\n' | grep -qx "$g"; then ok "$SERVICE_USER in group $g"; else
      act "add $SERVICE_USER to group $g" usermod -a -G "$g" "$SERVICE_USER"
    fi
  done
fi

# --- folders -------------------------------------------------------------------------------------

# Makes a folder with a mode and (unless --skip-user) an owner: folder PATH MODE OWNER:GROUP.
folder() {
  local dir="$1" mode="$2" owner="$3" changed=0
  if [ ! -d "$dir" ]; then
    act "create $dir (mode $mode$([ "$SKIP_USER" -eq 1 ] || printf ', owner %s' "$owner"))" make_folder "$dir" "$mode" "$owner"
    return
  fi
  if [ "$(stat -c %a "$dir")" != "$mode" ]; then act "chmod $mode $dir" chmod "$mode" "$dir"; changed=1; fi
  if [ "$SKIP_USER" -eq 0 ] && [ "$(stat -c %U:%G "$dir")" != "$owner" ]; then act "chown $owner $dir" chown "$owner" "$dir"; changed=1; fi
  [ "$changed" -eq 1 ] || ok "$dir"
}
make_folder() {
  mkdir -p "$1"
  chmod "$2" "$1"
  if [ "$SKIP_USER" -eq 0 ]; then chown "$3" "$1"; fi
}

say "folders"
folder "$(r /opt/edgetune)" 755 root:root
folder "$(r /opt/edgetune/releases)" 755 root:root
folder "$(r /opt/edgetune/bin)" 755 root:root
folder "$(r /var/lib/edgetune)" 750 "root:$SERVICE_USER"
folder "$(r /var/lib/edgetune/data)" 750 "$SERVICE_USER:$SERVICE_USER"
folder "$(r /var/lib/edgetune/models)" 755 root:root
folder "$(r /etc/edgetune)" 750 "root:$SERVICE_USER"

# --- the app -------------------------------------------------------------------------------------

say "app"
if ! command -v node >/dev/null; then
  say "dry run: Node.js is not installed yet, so the rest (app, settings, bases, service) cannot be planned in detail"
  exit 0
fi
VERSION="$(node -p 'require(process.argv[1]).version' "$SRC/package.json")"
HASH="$( { (cd "$SRC" && find "${APP_FILES[@]}" -type f -print0 | sort -z | xargs -0 sha256sum); node -p 'process.versions.modules + " " + process.arch'; } | sha256sum | cut -c1-12)"
RELEASE="$VERSION-$HASH"
RELEASE_DIR="$(r "/opt/edgetune/releases/$RELEASE")"
APP_CHANGED=0

build_release() {
  local stage
  stage="$(r "/opt/edgetune/releases/.$RELEASE.tmp")"
  rm -rf "$stage"
  mkdir -p "$stage"
  # Copies owned by root (not by whoever owns the checkout): the service only reads them.
  (cd "$SRC" && cp -R --parents "${APP_FILES[@]}" "$stage/")
  # Only the packages the app runs with; install scripts as package.json allows them (npm 11).
  (cd "$stage" && npm ci --omit=dev --no-audit --no-fund --loglevel=error >/dev/null) \
    || { rm -rf "$stage"; die "npm ci failed in $stage (output above): check the network and that build-essential and python3 are installed"; }
  touch "$stage/.complete"
  mv -T "$stage" "$RELEASE_DIR"
}
if [ -f "$RELEASE_DIR/.complete" ]; then ok "release $RELEASE"; else
  act "install release $RELEASE into $RELEASE_DIR (copy the build, npm ci --omit=dev)" build_release
  APP_CHANGED=1
fi

# Points a symbolic link at a target by an atomic rename: relink LINK TARGET.
relink() { ln -sfn "$2" "$1.tmp.$$" && mv -T "$1.tmp.$$" "$1"; }
CURRENT="$(r /opt/edgetune/current)"
OLD="$(readlink "$CURRENT" 2>/dev/null || true)"
if [ "$OLD" = "releases/$RELEASE" ]; then ok "current → releases/$RELEASE"; else
  if [ -n "$OLD" ]; then act "previous → $OLD (roll back: see README)" relink "$(r /opt/edgetune/previous)" "$OLD"; fi
  act "current → releases/$RELEASE" relink "$CURRENT" "releases/$RELEASE"
  APP_CHANGED=1
fi
# Keep the active and the previous release (each holds its own node_modules, a few hundred MB).
KEEP_PREV="$(readlink "$(r /opt/edgetune/previous)" 2>/dev/null || true)"
[ "$OLD" != "releases/$RELEASE" ] && [ -n "$OLD" ] && KEEP_PREV="$OLD"
for d in "$(r /opt/edgetune/releases)"/*; do
  [ -d "$d" ] || continue
  name="releases/$(basename "$d")"
  if [ "$name" != "releases/$RELEASE" ] && [ "$name" != "$KEEP_PREV" ]; then act "remove old release $d" rm -rf "$d"; fi
done

NODE_BIN="$(command -v node)"
put_file "$(r /opt/edgetune/bin/edgetune)" 755 "#!/bin/sh
# Written by EdgeTune deploy/install.sh: the active release with the Node.js found at install time.
export EDGETUNE_MODELS=\"\${EDGETUNE_MODELS:-/var/lib/edgetune/models}\"
exec $NODE_BIN /opt/edgetune/current/dist/src/cli/index.js \"\$@\""
LINK="$(r /usr/local/bin/edgetune)"
link_launcher() { mkdir -p "$(dirname "$LINK")" && relink "$LINK" /opt/edgetune/bin/edgetune; }
if [ "$(readlink "$LINK" 2>/dev/null)" = /opt/edgetune/bin/edgetune ]; then ok "$LINK → /opt/edgetune/bin/edgetune"; else
  act "link $LINK → /opt/edgetune/bin/edgetune" link_launcher
fi

# The installed CLI (the release under --root: the launcher names the real paths).
edgetune() { node "$RELEASE_DIR/dist/src/cli/index.js" "$@"; }

# --- settings ------------------------------------------------------------------------------------

say "settings"
CONF="$(r /etc/edgetune/edgetune.conf)"
write_config() {
  local tmp="$CONF.tmp.$$" token
  # 128 random bits as 32 hex digits: the access token of the API and the page.
  token="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  EDGETUNE_TOKEN="$token" edgetune serve --print-config --host 0.0.0.0 --port 8080 --camera auto \
    --data /var/lib/edgetune/data --models /var/lib/edgetune/models > "$tmp"
  chmod 640 "$tmp"
  if [ "$SKIP_USER" -eq 0 ]; then chown "root:$SERVICE_USER" "$tmp"; fi
  mv -f "$tmp" "$CONF"
}
if [ -f "$CONF" ]; then ok "$CONF (kept: it is never overwritten)"; else
  act "write $CONF (defaults, listening on all addresses, a new random access token)" write_config
fi

# --- pretrained bases ----------------------------------------------------------------------------

say "pretrained bases"
FROM_ARGS=()
if [ -n "$MODELS_FROM" ]; then FROM_ARGS=(--from "$MODELS_FROM"); fi
# Prints "<installed> <already there>" file counts.
fetch_bases() {
  local out err
  err="$(mktemp)"
  if ! out="$(edgetune models fetch --models-dir "$(r /var/lib/edgetune/models)" "${FROM_ARGS[@]}" --json 2>"$err")"; then
    local why; why="$(tail -n 1 "$err")"; rm -f "$err"
    die "installing the bases failed: ${why#edgetune: } (offline: copy them with --models-from DIR)"
  fi
  rm -f "$err"
  node -e 'const r = JSON.parse(process.argv[1]); process.stdout.write(r.installed.length + " " + r.skipped.length)' "$out"
}
if [ "$DRY_RUN" -eq 1 ]; then
  # Without the release the bases cannot be checked; with it, a dry run only reads.
  if [ -f "$RELEASE_DIR/.complete" ] && edgetune models list --models-dir "$(r /var/lib/edgetune/models)" --json 2>/dev/null \
      | node -e 'const b = JSON.parse(require("fs").readFileSync(0, "utf8")); process.exit(b.every((x) => x.installed && (!x.edgetpuFile || x.edgetpuInstalled)) ? 0 : 1)'; then
    ok "bases in $(r /var/lib/edgetune/models)"
  else
    act "install the pinned bases into $(r /var/lib/edgetune/models) ($([ -n "$MODELS_FROM" ] && printf 'copied from %s' "$MODELS_FROM" || printf 'downloaded'), SHA-256 checked)" true
  fi
else
  COUNTS="$(fetch_bases)" || exit 1
  read -r INSTALLED SKIPPED <<<"$COUNTS"
  if [ "$INSTALLED" -gt 0 ]; then
    CHANGES=$((CHANGES + 1))
    say "  change: installed $INSTALLED base file(s) into $(r /var/lib/edgetune/models) ($SKIPPED already there)"
  else
    ok "$SKIPPED base files in $(r /var/lib/edgetune/models), SHA-256 verified"
  fi
fi

# --- systemd -------------------------------------------------------------------------------------

say "service"
reload_udev() { udevadm control --reload-rules && udevadm trigger --subsystem-match=usb; }
UNIT="$(r /etc/systemd/system/edgetune.service)"
UNIT_CHANGED=0
if [ -f "$UNIT" ] && cmp -s "$SRC/deploy/edgetune.service" "$UNIT"; then ok "$UNIT"; else
  act "install $UNIT" install -D -m 644 "$SRC/deploy/edgetune.service" "$UNIT"
  UNIT_CHANGED=1
fi
if [ -n "$ROOT" ]; then
  ok "systemd and udev left alone (--root)"
elif [ ! -d /run/systemd/system ]; then
  ok "systemd is not running here: start the server with /opt/edgetune/bin/edgetune serve --config /etc/edgetune/edgetune.conf"
else
  if [ "$CORAL_RULE_CHANGED" -eq 1 ]; then act "reload the udev rules" reload_udev; fi
  if [ "$UNIT_CHANGED" -eq 1 ]; then act "systemctl daemon-reload" systemctl daemon-reload; fi
  if [ "$(systemctl is-enabled edgetune 2>/dev/null)" = enabled ]; then ok "edgetune.service enabled"; else
    act "systemctl enable edgetune" systemctl enable --quiet edgetune
  fi
  if [ "$APP_CHANGED" -eq 1 ] || [ "$UNIT_CHANGED" -eq 1 ]; then
    act "systemctl restart edgetune" systemctl restart edgetune
  elif systemctl is-active --quiet edgetune; then ok "edgetune.service running"; else
    act "systemctl start edgetune" systemctl start edgetune
  fi
fi

# --- done ----------------------------------------------------------------------------------------

if [ "$CHANGES" -eq 0 ]; then
  say "nothing to change: EdgeTune $RELEASE is installed and up to date${ROOT:+ in $ROOT}"
elif [ "$DRY_RUN" -eq 1 ]; then
  say "dry run: $CHANGES action(s) above would be taken; nothing was changed"
else
  say "installed EdgeTune $RELEASE${ROOT:+ in $ROOT} ($CHANGES change(s))"
  if [ -z "$ROOT" ]; then say "open http://$(hostname).local:8080 and log in with the token: sudo grep ^token= /etc/edgetune/edgetune.conf"; fi
fi
