#!/usr/bin/env bash
# The image built and run as a deploying team would, with podman, and checked:
#   1. a local stand-in for python:3.11-slim from Debian's packages (base.sh: debootstrap, once);
#   2. `podman build --isolation chroot --format docker .` (chroot: a build container cannot
#      be given its own cgroup where cgroups are in hybrid mode, as here; docker format: the
#      OCI image format has no HEALTHCHECK, and podman drops it without a word);
#   3. the image's HEALTHCHECK is there, its USER is a number that is not 0, and
#      `python -m agent simulate` runs a scenario inside it, as that user, with no network.
# `podman run` takes Debian's runc here (`--runtime runc`) and explicit limits (`--ulimit
# nofile=N:N --ulimit nproc=4096:4096`, N at most the caller's own hard limit): without them
# runc is refused the default limits it asks for. `--no-healthcheck`: the checks are one-off commands, and
# podman's health timers need systemd.
# Usage (root, from anywhere): deploy/image/build-and-check.sh [TAG]; prints what it timed.
set -euo pipefail
cd "$(dirname "$0")/../.."
TAG=${1:-localhost/sip-agent:check}
# Limits runc may set here: open files at most this shell's own; processes (threads: a job is
# one under the thread executor) 4096, as the machine's own hard limit is refused.
nofile=$(ulimit -Hn)
RUN=(podman --runtime runc run --rm --network none --no-healthcheck
  --ulimit "nofile=$nofile:$nofile" --ulimit nproc=4096:4096)

seconds() { date +%s; }
t0=$(seconds)
bash deploy/image/base.sh
t1=$(seconds)
podman build --isolation chroot --format docker --network host -t "$TAG" . >/tmp/sip-agent-build.log 2>&1 \
  || { tail -30 /tmp/sip-agent-build.log >&2; echo "build failed" >&2; exit 1; }
t2=$(seconds)

fail() { echo "image check failed: $*" >&2; exit 1; }
health=$(podman image inspect --format '{{json .Config.Healthcheck}}' "$TAG")
[[ $health == *SIP_AGENT_HEALTH_PORT* ]] || fail "no HEALTHCHECK kept (got $health)"
user=$(podman image inspect --format '{{.Config.User}}' "$TAG")
[[ ${user%%:*} =~ ^[0-9]+$ && ${user%%:*} != 0 ]] || fail "USER is '$user', not a non-root uid"
uid=$("${RUN[@]}" "$TAG" id -u)
[[ $uid == "${user%%:*}" ]] || fail "runs as uid $uid, not $user"
out=$("${RUN[@]}" "$TAG" python -m agent simulate twilio-inbound-answered --speed 0 2>&1) \
  || fail "simulate: $out"
[[ $out == *"1 call(s), as expected"* ]] || fail "simulate did not end as expected: $out"
t3=$(seconds)

size=$(podman image inspect --format '{{.Size}}' "$TAG")
echo "image $TAG: user $user, HEALTHCHECK kept, simulate ran; $((size / 1000000)) MB"
echo "times: base $((t1 - t0)) s, build $((t2 - t1)) s, checks $((t3 - t2)) s"
