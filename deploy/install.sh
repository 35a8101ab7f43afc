#!/usr/bin/env bash
# Installs flowguard on this host as a system service (root). Not run by the tests.
#   deploy/install.sh [BUILD_DIR] [PREFIX]      defaults: build, /usr/local
# - cmake --install of the built binaries (flowguard-capture, flowguard-infer, flowguardctl,
#   flowguard-console)
# - system user and group `flowguard` (no login, no home)
# - /etc/default/flowguard and /etc/flowguard/allowlist (only if absent: local edits are kept)
# - the default model bundle into /var/lib/flowguard/models (if present in models/default)
# - systemd units flowguard-infer.service, flowguard-capture.service and flowguard-console.service
#   (not enabled: see the end); the console's action token /etc/flowguard/console.token (0600)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-$ROOT/build}"
PREFIX="${2:-/usr/local}"

[ "$(id -u)" -eq 0 ] || { echo "install.sh: run as root" >&2; exit 1; }
[ -f "$BUILD/CMakeCache.txt" ] || { echo "install.sh: $BUILD is not a configured build directory" >&2; exit 1; }

cmake --install "$BUILD" --prefix "$PREFIX"
for bin in flowguard-capture flowguard-infer flowguardctl flowguard-console; do
  if [ ! -x "$PREFIX/bin/$bin" ] && [ -x "$(find "$BUILD" -name "$bin" -type f -perm -u+x | head -1)" ]; then
    install -m 0755 "$(find "$BUILD" -name "$bin" -type f -perm -u+x | head -1)" "$PREFIX/bin/$bin"
  fi
done

if ! getent group flowguard >/dev/null; then groupadd --system flowguard; fi
if ! getent passwd flowguard >/dev/null; then
  useradd --system --gid flowguard --home-dir /var/lib/flowguard --no-create-home \
    --shell /usr/sbin/nologin --comment "flowguard IPS" flowguard
fi

install -d -m 0750 -o flowguard -g flowguard /var/lib/flowguard /var/lib/flowguard/models /var/log/flowguard
install -d -m 0755 /etc/flowguard
[ -f /etc/default/flowguard ] || install -m 0644 "$ROOT/deploy/systemd/flowguard.default" /etc/default/flowguard
[ -f /etc/flowguard/allowlist ] || install -m 0644 "$ROOT/deploy/systemd/allowlist.example" /etc/flowguard/allowlist
for model in "$ROOT"/models/default/*.pt; do
  [ -f "$model" ] && install -m 0640 -o flowguard -g flowguard "$model" /var/lib/flowguard/models/
done
install -d -m 0755 "$PREFIX/share/doc/flowguard"
install -m 0644 "$ROOT/docs/operations.md" "$ROOT/docs/console.md" "$PREFIX/share/doc/flowguard/"
# The console's action token: 32 random bytes, readable by the flowguard user only (kept if present).
if [ ! -f /etc/flowguard/console.token ]; then
  (umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > /etc/flowguard/console.token; echo >> /etc/flowguard/console.token)
fi
chown flowguard:flowguard /etc/flowguard/console.token
chmod 0600 /etc/flowguard/console.token

unitdir=/etc/systemd/system
for unit in flowguard-infer.service flowguard-capture.service flowguard-console.service; do
  sed "s#/usr/local/bin/#$PREFIX/bin/#g; s#/usr/local/share/#$PREFIX/share/#g" \
    "$ROOT/deploy/systemd/$unit" > "$unitdir/$unit"
  chmod 0644 "$unitdir/$unit"
done
if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

cat <<MSG
flowguard installed under $PREFIX.
  1. edit /etc/default/flowguard (interface, model, enforcement mode) and /etc/flowguard/allowlist
  2. systemctl enable --now flowguard-infer flowguard-capture flowguard-console
  3. flowguardctl status; flowguardctl blocks; tail -f /var/log/flowguard/eve.json
  4. console: http://127.0.0.1:8787/ (token: sudo cat /etc/flowguard/console.token), metrics: /metrics
Operators who use flowguardctl: usermod -aG flowguard <user>
MSG
