#!/bin/bash
# pod.sh: one Kubernetes pod, simulated with no Kubernetes: run by
# test_pod.py under `unshare --mount --pid --net --fork`. A tmpfs stands in
# for the emptyDir; the init container's copier fills it; it is remounted
# read-only and bound into the application's root (the cached Debian
# bullseye root, glibc 2.31) at /otel-preload; a collector stand-in
# (otlp_sink) listens on localhost:4318 of the pod's own network; the
# entrypoint, a shell script, runs glibc programs and a musl program.
# Usage: pod.sh ROOT WORK SHIM MUSL_SHIM COPIER SINK OUT MUSL_PROG LD_MUSL
set -eu
root=$1 work=$2 shim=$3 musl_shim=$4 copier=$5 sink=$6 out=$7 musl_prog=$8 ld_musl=$9

ip link set lo up
mount --make-rprivate /

# The emptyDir and the init container.
mkdir -p "$work/emptydir" "$work/src" "$work/app"
mount -t tmpfs -o size=64m,mode=0755 tmpfs "$work/emptydir"
cp "$shim" "$work/src/libotelpreload.so"
cp "$musl_shim" "$work/src/libotelpreload-musl.so"
"$copier" "$work/emptydir" "$work/src" >/dev/null
mount -o remount,ro "$work/emptydir"

# The application container: its root, the volume read-only, /proc of the
# pod's pid namespace, the musl program and musl's loader.
mkdir -p "$root/otel-preload" "$root/proc" "$root/app"
[ -e "$root/lib/ld-musl-x86_64.so.1" ] || : >"$root/lib/ld-musl-x86_64.so.1"
mount --bind "$work/emptydir" "$root/otel-preload"
mount -o remount,ro,bind "$root/otel-preload"
mount -t proc proc "$root/proc"
mount -t tmpfs -o size=64m tmpfs "$root/tmp"
cp "$musl_prog" "$work/app/musl_probe"
mount --bind "$work/app" "$root/app"
mount --bind "$ld_musl" "$root/lib/ld-musl-x86_64.so.1"

# The collector sidecar's stand-in.
"$sink" --port 4318 --port-file "$work/port" --out "$out" >"$work/sink.out" 2>&1 &
sink_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done

# The entrypoint, with what the injected manifest gives it (the downward
# API's values as the kubelet would fill them in).
set +e
/usr/sbin/chroot "$root" /bin/busybox env -i PATH=/usr/bin:/bin \
  LD_PRELOAD=/otel-preload/libotelpreload.so \
  OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 \
  OTEL_SERVICE_NAME=shop \
  OTEL_RESOURCE_ATTRIBUTES=deployment.environment=test,k8s.pod.name=shop-7f9c5,k8s.namespace.name=prod,k8s.node.name=node-1,k8s.container.name=web,host.ip=10.0.0.7 \
  GCOV_PREFIX=/tmp/gcov \
  /bin/dash -c '
    busybox touch /otel-preload/x 2>/dev/null && echo "volume writable" || echo "volume read-only"
    busybox touch /tmp/otelp-pod-writable && busybox rm /tmp/otelp-pod-writable && echo "tmp writable"
    busybox true
    dash -c "exit 3"
    echo "dash $?"
    LD_PRELOAD=/otel-preload/libotelpreload-musl.so /app/musl_probe tree
  '
rc=$?
set -e
sleep 0.2
kill "$sink_pid"
wait "$sink_pid" || true
exit $rc
