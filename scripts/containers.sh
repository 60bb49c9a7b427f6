#!/usr/bin/env bash
# Makes real container runtimes available for integration tests (see
# /work/shared/docs/containers.md): podman+runc with its docker-compatible API service, and
# containerd with its CRI plugin, both keeping every bit of state in one scratch directory.
# No image registry is reachable, so the only image is a busybox rootfs built locally.
#
#   scripts/containers.sh [up]          install what is missing, write configs, build and
#                                       import the image, start both daemons (idempotent)
#   scripts/containers.sh env           print `export` lines; eval "$(scripts/containers.sh env)"
#   scripts/containers.sh status        show whether each daemon answers
#   scripts/containers.sh stop          stop both daemons (containers keep running)
#   scripts/containers.sh stop-podman-api | start-podman-api
#                                       only the podman API service (simulates an API outage)
#   scripts/containers.sh selftest      `up`, then run and remove one podman and one ctr container
#   scripts/containers.sh clean         stop, remove every container, then the scratch dir
#
# SYSFLOW_CT_DIR picks the scratch directory (default /var/tmp/sysflow-ct: /var/tmp, not
# /tmp, because container storage is large-ish and should survive a tmp cleaner).
set -euo pipefail

DIR="${SYSFLOW_CT_DIR:-/var/tmp/sysflow-ct}"
IMAGE="localhost/bb:latest"
# The CRI plugin runs this image as every pod's sandbox ("pause") container. It is the same
# busybox layer with a command that never exits: with $IMAGE itself as sandbox image, its
# CMD /bin/sh exits at once (CRI gives it no stdin), the sandbox is NOTREADY and
# CreateContainer fails with 'sandbox container "<id>" is not running' (tried).
PAUSE_IMAGE="localhost/pause:bb"
CTR_NS="k8s.io"

PODMAN_SOCK="$DIR/podman.sock"
CONTAINERD_SOCK="$DIR/containerd/containerd.sock"
PODMAN_PID="$DIR/podman-api.pid"
CONTAINERD_PID="$DIR/containerd.pid"
CONTAINERS_CONF_FILE="$DIR/containers.conf"
STORAGE_CONF_FILE="$DIR/storage.conf"
CONTAINERD_CONF="$DIR/containerd/config.toml"

log() { echo "containers: $*" >&2; }
die() { echo "containers: error: $*" >&2; exit 1; }

# Rootful podman and containerd: everything but `env` needs root.
if [ "$(id -u)" -ne 0 ] && [ "${1:-up}" != env ]; then die "run as root"; fi

# Every podman call below (and the API service) must see our configs, never /etc's defaults.
export CONTAINERS_CONF="$CONTAINERS_CONF_FILE"
export CONTAINERS_STORAGE_CONF="$STORAGE_CONF_FILE"

print_env() {
  cat <<EOF
export SYSFLOW_CT_DIR='$DIR'
export CONTAINERS_CONF='$CONTAINERS_CONF_FILE'
export CONTAINERS_STORAGE_CONF='$STORAGE_CONF_FILE'
export SYSFLOW_PODMAN_SOCK='$PODMAN_SOCK'
export SYSFLOW_CONTAINERD_SOCK='$CONTAINERD_SOCK'
export SYSFLOW_TEST_IMAGE='$IMAGE'
export SYSFLOW_PAUSE_IMAGE='$PAUSE_IMAGE'
EOF
}

# ---------------------------------------------------------------------------------------
# 1. Debian packages
# ---------------------------------------------------------------------------------------
apt_pkgs=(
  podman conmon runc         # crun breaks here (setrlimit, hybrid cgroups): runc only
  containerd                 # 1.6 with the CRI v1 plugin built in
  busybox-static             # the whole content of the test image
  catatonit                  # podman's --init binary; cheap, avoids a surprise later
  containernetworking-plugins  # podman 4.3 initialises its CNI backend even for host net
  protobuf-compiler          # protoc, for CRI gRPC clients generated at build time
  uidmap                     # newuidmap/newgidmap: podman warns without them
  curl                       # health checks against the API socket
)

# apt may be busy (a background setup installs packages on first boot): wait for its locks
# instead of failing. DPkg::Lock::Timeout only covers dpkg's frontend lock, not the lists
# and archives locks, so a failure that names a lock is retried (up to 30 min).
apt_locked() {
  local i err; err="$(mktemp)"
  for i in $(seq 1 180); do
    if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@" 2>"$err"; then
      rm -f "$err"; return 0
    fi
    if ! grep -qE 'Could not get lock|Unable to lock|Unable to acquire' "$err"; then
      cat "$err" >&2; rm -f "$err"; die "apt-get $* failed"
    fi
    [ "$i" -eq 1 ] && log "apt is busy (another apt/dpkg holds its lock); waiting"
    sleep 10
  done
  rm -f "$err"; die "apt lock still held after 30 min"
}

ensure_packages() {
  local missing=() p
  for p in "${apt_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  apt_locked update -qq
  # --no-install-recommends: podman recommends buildah, fuse-overlayfs, slirp4netns,
  # dbus-user-session, which only rootless use needs.
  apt_locked install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ---------------------------------------------------------------------------------------
# 2. Configuration, all state under $DIR
# ---------------------------------------------------------------------------------------
# Writes stdin to $1 only when the content differs, so re-runs touch nothing.
write_if_changed() {
  local f="$1" tmp
  tmp="$(mktemp "$f.XXXXXX")"
  cat >"$tmp"
  if [ -f "$f" ] && cmp -s "$tmp" "$f"; then rm -f "$tmp"; return 1; fi
  mv "$tmp" "$f"
  log "wrote $f"
  return 0
}

# overlay needs kernel overlayfs and a backing fs that supports it (ext4/xfs do; overlay on
# overlay does not). vfs always works but copies every layer.
pick_storage_driver() {
  if grep -qw overlay /proc/filesystems &&
     [ "$(stat -f -c %T "$DIR" 2>/dev/null)" != "overlayfs" ]; then
    echo overlay
  else
    echo vfs
  fi
}

write_configs() {
  mkdir -p "$DIR"/{podman/tmp,podman/cni,storage,run,build,logs} \
           "$DIR"/containerd/{root,state,opt,runc}
  local driver; driver="$(pick_storage_driver)"

  # Root here lacks CAP_SYS_RESOURCE: runc's default RLIMIT_NOFILE (1048576) would fail,
  # hence default_ulimits. No systemd: cgroupfs manager, file events, k8s-file logs.
  # netns=host: no network is needed, and no CNI bridge then gets configured.
  write_if_changed "$CONTAINERS_CONF_FILE" <<EOF || true
# generated by scripts/containers.sh
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
netns = "host"
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$DIR/podman/events.log"
tmp_dir = "$DIR/podman/tmp"
static_dir = "$DIR/storage/libpod"
volume_path = "$DIR/storage/volumes"

[network]
network_backend = "cni"
network_config_dir = "$DIR/podman/cni"
EOF

  write_if_changed "$STORAGE_CONF_FILE" <<EOF || true
# generated by scripts/containers.sh
[storage]
driver = "$driver"
graphroot = "$DIR/storage"
runroot = "$DIR/run"
EOF

  # containerd: root, state, socket and the shim's runc root in $DIR. Partial config on
  # top of built-in defaults (containerd 1.6 decodes each plugin section over its defaults).
  # restrict_oom_score_adj: root cannot lower oom_score_adj here (no CAP_SYS_RESOURCE).
  # CNI stays unconfigured: pods use host networking.
  write_if_changed "$CONTAINERD_CONF" <<EOF || true
# generated by scripts/containers.sh
version = 2
root = "$DIR/containerd/root"
state = "$DIR/containerd/state"

[grpc]
  address = "$CONTAINERD_SOCK"

[plugins."io.containerd.internal.v1.opt"]
  path = "$DIR/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$DIR/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$DIR/containerd/cni"
EOF
}

# ---------------------------------------------------------------------------------------
# 3. Image, built without a registry
# ---------------------------------------------------------------------------------------
build_rootfs_tar() {
  local root="$DIR/build/rootfs" tar="$DIR/build/rootfs.tar" bb a
  [ -f "$tar" ] && return 0
  bb="$(command -v busybox || true)"
  [ -x /bin/busybox ] && bb=/bin/busybox
  [ -n "$bb" ] || die "busybox not found"
  rm -rf "$root"
  mkdir -p "$root"/{bin,etc,tmp,proc,sys,dev,root,var/tmp}
  chmod 1777 "$root/tmp" "$root/var/tmp"
  cp "$bb" "$root/bin/busybox"
  for a in $("$bb" --list); do
    # `busybox --list` names `busybox` itself: a symlink would overwrite the binary.
    [ "$a" = busybox ] && continue
    ln -sf busybox "$root/bin/$a"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  # A dynamically linked busybox (package `busybox`) would need the host's libc inside.
  chroot "$root" /bin/true || die "$bb does not run in an empty rootfs (install busybox-static)"
  tar --numeric-owner --owner=0 --group=0 -C "$root" -cf "$tar.tmp" .
  mv "$tar.tmp" "$tar"
}

ensure_podman_images() {
  if ! podman image exists "$IMAGE"; then
    build_rootfs_tar
    log "importing $IMAGE into podman"
    podman import -q --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' \
      "$DIR/build/rootfs.tar" "$IMAGE" >/dev/null
  fi
  if ! podman image exists "$PAUSE_IMAGE"; then
    build_rootfs_tar
    log "importing $PAUSE_IMAGE into podman"
    # busybox sleep takes seconds as an integer; ~68 years is "forever".
    podman import -q --change 'CMD ["/bin/sleep", "2147483647"]' --change 'ENV PATH=/bin' \
      "$DIR/build/rootfs.tar" "$PAUSE_IMAGE" >/dev/null
  fi
}

ctr_() { ctr -a "$CONTAINERD_SOCK" -n "$CTR_NS" "$@"; }

ensure_containerd_images() {
  local img have arch
  have="$(ctr_ images ls -q)"
  for img in "$IMAGE" "$PAUSE_IMAGE"; do
    grep -qxF "$img" <<<"$have" && continue
    log "importing $img into containerd namespace $CTR_NS"
    arch="$DIR/build/$(echo "$img" | tr '/:' '__').oci.tar"
    rm -f "$arch"
    podman save -q --format oci-archive -o "$arch" "$img"
    # podman writes the full name into the archive index (org.opencontainers.image.ref.name).
    ctr_ images import --snapshotter overlayfs "$arch" >/dev/null
    ctr_ images ls -q | grep -qxF "$img" || die "ctr images import did not create $img"
  done
}

# ---------------------------------------------------------------------------------------
# 4. Daemons
# ---------------------------------------------------------------------------------------
# A pid file counts only if the process lives and still is the daemon we started
# (pids get reused).
pid_alive() {
  local pf="$1" want="$2" pid
  [ -f "$pf" ] || return 1
  pid="$(cat "$pf")"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$want"
}

podman_answers() { curl -sf --max-time 2 --unix-socket "$PODMAN_SOCK" http://d/_ping >/dev/null 2>&1; }
containerd_answers() { ctr -a "$CONTAINERD_SOCK" --timeout 2s version >/dev/null 2>&1; }

wait_for() {
  local what="$1" check="$2" pf="$3" i
  for i in $(seq 1 150); do
    "$check" && return 0
    if ! kill -0 "$(cat "$pf")" 2>/dev/null; then
      tail -20 "$DIR/logs/$what.log" >&2 || true
      die "$what exited during start-up (log: $DIR/logs/$what.log)"
    fi
    sleep 0.2
  done
  die "$what did not answer within 30 s (log: $DIR/logs/$what.log)"
}

start_podman_api() {
  if pid_alive "$PODMAN_PID" "system service" && podman_answers; then return 0; fi
  stop_pidfile "$PODMAN_PID" "system service" podman-api
  rm -f "$PODMAN_SOCK"
  log "starting podman API on $PODMAN_SOCK"
  # setsid: its own session, so the caller's shell job control and ^C do not reach it.
  setsid podman system service --time=0 "unix://$PODMAN_SOCK" \
    >>"$DIR/logs/podman-api.log" 2>&1 </dev/null &
  echo $! >"$PODMAN_PID"
  wait_for podman-api podman_answers "$PODMAN_PID"
}

start_containerd() {
  if pid_alive "$CONTAINERD_PID" "containerd --config" && containerd_answers; then return 0; fi
  stop_pidfile "$CONTAINERD_PID" "containerd --config" containerd
  log "starting containerd on $CONTAINERD_SOCK"
  setsid containerd --config "$CONTAINERD_CONF" \
    >>"$DIR/logs/containerd.log" 2>&1 </dev/null &
  echo $! >"$CONTAINERD_PID"
  wait_for containerd containerd_answers "$CONTAINERD_PID"
}

# Stops the process named in a pid file (only that pid, and only if it is what we started).
stop_pidfile() {
  local pf="$1" want="$2" name="$3" pid i
  if pid_alive "$pf" "$want"; then
    pid="$(cat "$pf")"
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pf"
}

stop_podman_api() {
  stop_pidfile "$PODMAN_PID" "system service" podman-api
  rm -f "$PODMAN_SOCK"
}

status() {
  local rc=0
  if podman_answers; then echo "podman API: up ($PODMAN_SOCK, pid $(cat "$PODMAN_PID" 2>/dev/null))"
  else echo "podman API: down"; rc=1; fi
  if containerd_answers; then echo "containerd: up ($CONTAINERD_SOCK, pid $(cat "$CONTAINERD_PID" 2>/dev/null))"
  else echo "containerd: down"; rc=1; fi
  return $rc
}

# Runtime state (podman's runroot and tmp_dir, containerd's state dir) normally lives on a
# tmpfs and vanishes at reboot; here it lives in $DIR, which survives. Stale state after a
# reboot makes podman report dead containers as running, so drop it when the boot id changes.
forget_state_of_previous_boot() {
  local boot; boot="$(cat /proc/sys/kernel/random/boot_id)"
  if [ -f "$DIR/boot_id" ] && [ "$(cat "$DIR/boot_id")" != "$boot" ]; then
    log "machine rebooted since last run: dropping runtime state"
    rm -rf "$DIR/run" "$DIR/podman/tmp" "$DIR/containerd/state" "$DIR/containerd/runc" \
           "$PODMAN_PID" "$CONTAINERD_PID" "$PODMAN_SOCK" "$CONTAINERD_SOCK"
  fi
  mkdir -p "$DIR"
  echo "$boot" >"$DIR/boot_id"
}

# Quick end-to-end check: a podman container in the expected cgroup, the compat API's
# inspect and 404, and a containerd task in a cgroup path of our choosing. Cleans up.
selftest() {
  local name="sysflow-selftest-$$" id pid cg hex code
  id="$(podman run -d --network host --name "$name" "$IMAGE" sleep 60)"
  pid="$(podman inspect -f '{{.State.Pid}}' "$name")"
  grep -q "^[0-9]*:memory:.*/libpod-$id\$" "/proc/$pid/cgroup" || grep -q "^0::.*/libpod-$id\$" "/proc/$pid/cgroup" ||
    { podman rm -f -t 0 "$name" >/dev/null; die "unexpected cgroup: $(cat "/proc/$pid/cgroup")"; }
  curl -sf --unix-socket "$PODMAN_SOCK" "http://d/v1.40/containers/$id/json" | grep -q "\"Name\":\"/$name\"" ||
    { podman rm -f -t 0 "$name" >/dev/null; die "compat API inspect of $id failed"; }
  podman rm -f -t 0 "$name" >/dev/null
  code="$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$PODMAN_SOCK" "http://d/v1.40/containers/$id/json")"
  [ "$code" = 404 ] || die "compat API gave $code for a removed container, expected 404"
  log "podman ok: libpod-${id:0:12} cgroup, API inspect, 404 after removal"

  hex="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  ctr_ run -d --net-host --cgroup "/system.slice/docker-$hex.scope" "$IMAGE" "$name" sleep 60 >/dev/null
  pid="$(ctr_ tasks ls | awk -v n="$name" '$1 == n {print $2}')"
  # cgroup v1 (this host): the memory line; cgroup v2 only: the 0:: line.
  cg="$(grep -m1 -E '^[0-9]+:memory:' "/proc/$pid/cgroup" || grep -m1 '^0::' "/proc/$pid/cgroup")"
  cg="${cg#*:*:}"
  ctr_ tasks kill -s KILL "$name" >/dev/null 2>&1 || true
  for _ in $(seq 1 20); do ctr_ tasks rm "$name" >/dev/null 2>&1 && break; sleep 0.1; done
  ctr_ containers rm "$name" >/dev/null
  # The cgroup directories of a removed task stay behind; they are empty.
  find /sys/fs/cgroup/*/system.slice/ -depth -type d -name "docker-$hex.scope" -exec rmdir {} + 2>/dev/null || true
  [ "$cg" = "/system.slice/docker-$hex.scope" ] || die "ctr --cgroup gave $cg"
  log "containerd ok: ctr task in /system.slice/docker-${hex:0:12}….scope"
}

up() {
  ensure_packages
  forget_state_of_previous_boot
  write_configs
  ensure_podman_images
  start_podman_api
  start_containerd
  ensure_containerd_images
  log "ready: eval \"\$($0 env)\""
}

clean() {
  if [ -f "$CONTAINERS_CONF_FILE" ]; then
    podman rm -af -t 0 >/dev/null 2>&1 || true
    podman pod rm -af >/dev/null 2>&1 || true
  fi
  if containerd_answers; then
    local t
    for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s KILL "$t" >/dev/null 2>&1 || true; done
    sleep 0.5
    for t in $(ctr_ containers ls -q 2>/dev/null); do
      ctr_ tasks rm -f "$t" >/dev/null 2>&1 || true
      ctr_ containers rm "$t" >/dev/null 2>&1 || true
    done
  fi
  stop_podman_api
  stop_pidfile "$CONTAINERD_PID" "containerd --config" containerd
  # Mounts (overlay layers, shm, netns) left under $DIR would make rm fail.
  local m
  for m in $(awk -v d="$DIR/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$DIR"
  log "removed $DIR"
}

case "${1:-up}" in
  up|start) up ;;
  env) print_env ;;
  status) status ;;
  stop) stop_podman_api; stop_pidfile "$CONTAINERD_PID" "containerd --config" containerd ;;
  stop-podman-api) stop_podman_api ;;
  start-podman-api) write_configs; start_podman_api ;;
  selftest) up; selftest ;;
  clean) clean ;;
  *) die "usage: $0 [up|env|status|stop|stop-podman-api|start-podman-api|selftest|clean]" ;;
esac
