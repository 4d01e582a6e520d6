#!/usr/bin/env bash
# A local stand-in for python:3.11-slim, made from Debian's packages, for a machine that reaches
# Debian's archive but no image registry: Debian 12's Python 3.11 (debootstrap, minbase), with
# `python` on the PATH as the official image has it, imported as docker.io/library/python:3.11-slim
# so the Dockerfile's FROM resolves to it locally. Kept once made (`podman rmi` it to remake).
# The machine's own CAs (/usr/local/share/ca-certificates) and /etc/pip.conf are copied in: an
# egress proxy that re-signs TLS must be trusted by pip inside the build as outside it.
set -euo pipefail
BASE=docker.io/library/python:3.11-slim
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if podman image exists "$BASE"; then
  echo "base: $BASE already here"
  exit 0
fi
rootfs=$(mktemp -d /var/tmp/sip-agent-base.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$rootfs" "$MIRROR" >"$rootfs.log" 2>&1 || { tail -20 "$rootfs.log" >&2; exit 1; }
rm -f "$rootfs.log"
ln -s /usr/bin/python3 "$rootfs/usr/local/bin/python"
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
  chroot "$rootfs" update-ca-certificates >/dev/null
fi
if [ -f /etc/pip.conf ]; then cp /etc/pip.conf "$rootfs/etc/pip.conf"; fi
# What the official image's rootfs does not carry either.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc \
  "$rootfs"/usr/share/man "$rootfs"/usr/share/locale
tar -C "$rootfs" -c . | podman import \
  --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$BASE" >/dev/null
echo "base: $BASE made from Debian's packages"
