#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine to build, test and run runbox: Debian packages
# (QEMU, mmdebstrap, the language toolchains the integration tests cover, Chromium for
# the browser-terminal test), the npm dependencies, and the unprivileged `runbox` user
# that runs user code. Idempotent; run as root from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "setup-host: run as root (sudo bash init/setup-host.sh)" >&2
  exit 1
fi

step() { printf '\n==> %s\n' "$*"; }

# Go 1.23 and e2fsprogs >= 1.47.1 (reproducible ext4 images) come from bookworm-backports.
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  step "adding bookworm-backports"
  cat > /etc/apt/sources.list.d/runbox-backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

packages=(
  # VMs and images
  qemu-system-x86 qemu-utils mmdebstrap e2fsprogs/bookworm-backports cpio zstd busybox-static
  socat iproute2 dpkg-dev
  # toolchains for the integration tests (the images carry their own)
  python3 golang-1.23-go rustc-web node-typescript gcc libc6-dev
  # CLI and browser-terminal tests
  tmux chromium
  # code contexts (python driver: IPython; rich results: pandas tables, matplotlib charts)
  python3-ipython python3-pandas python3-matplotlib
  # the non-Node client test: Python grpcio, protobuf, protoc and its well-known protos (any.proto)
  python3-grpcio python3-protobuf protobuf-compiler libprotobuf-dev
  # node-pty builds a native addon when no prebuilt one fits
  python3 make g++
  # image sharing tests: a real OCI registry (the CNCF distribution server) and a second client
  docker-registry skopeo
)
step "installing Debian packages"
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}" \
  | grep -E '^(Setting up|E:)' || true

# The package starts a registry on :5000 for the whole machine; the tests start their own on loopback.
if command -v systemctl >/dev/null && systemctl is-enabled --quiet docker-registry 2>/dev/null; then
  step "disabling the system-wide docker-registry service (tests run their own)"
  systemctl disable --now docker-registry || true
fi

if ! getent passwd runbox >/dev/null; then
  step "creating the unprivileged user 'runbox' that runs user code"
  useradd --system --create-home --shell /bin/bash runbox
fi

step "installing npm dependencies"
# `npm install` with the committed lockfile, not `npm ci`: the npm registry reachable here
# lacks some other platforms' optional packages (e.g. @rollup/rollup-android-*), so the
# lockfile cannot list them and `npm ci` rejects it as out of sync. The versions installed
# are still the lockfile's.
npm install --no-audit --no-fund

step "setup done"
