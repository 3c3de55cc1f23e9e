# shellcheck shell=bash
# Shared set-up steps for scripts/images, scripts/demo, scripts/test and scripts/bench.
#
# Source it; it defines functions and changes nothing by itself:
#   ensure_docker           a Docker engine answers (installs Debian's docker.io, starts dockerd)
#   ensure_host_tool C PKG  command C exists on the host (installs Debian package PKG)
#   ensure_base_image       image devloop/debian:bookworm exists (pull, else debootstrap + import)
#   ensure_example_images   every examples/*/Dockerfile is built as devloop-example/<dir>:latest
#   ensure_dig              dig exists on the host (Debian package dnsutils)
#
# Everything is idempotent and quiet when there is nothing to do. Safe under
# `set -euo pipefail`, with no terminal and no stdin (CI). Settings (environment):
#   DEVLOOP_BASE_IMAGE     base image name        (default devloop/debian:bookworm)
#   DEVLOOP_DEBIAN_MIRROR  mirror for debootstrap (default: the host's apt configuration)
#   DEVLOOP_LOG_DIR        apt, debootstrap and build logs (default ${TMPDIR:-/tmp}/devloop-logs)
#   DEVLOOP_DOCKERD_LOG    log of a dockerd started here   (default /var/log/devloop-dockerd.log)

DEVLOOP_ROOT=${DEVLOOP_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
DEVLOOP_BASE_IMAGE=${DEVLOOP_BASE_IMAGE:-devloop/debian:bookworm}
DEVLOOP_EXAMPLE_PREFIX=${DEVLOOP_EXAMPLE_PREFIX:-devloop-example}
DEVLOOP_LOG_DIR=${DEVLOOP_LOG_DIR:-${TMPDIR:-/tmp}/devloop-logs}
DEVLOOP_DOCKERD_LOG=${DEVLOOP_DOCKERD_LOG:-/var/log/devloop-dockerd.log}
DEVLOOP_LOCK_DIR=${DEVLOOP_LOCK_DIR:-/var/lock}

devloop_say() { printf 'devloop-setup: %s\n' "$*" >&2; }
# Prints an error and returns 1. Not an exit: mid-function, write `|| { devloop_die ...; return 1; }`.
devloop_die() { printf 'devloop-setup: error: %s\n' "$*" >&2; return 1; }

# Runs a command as root: directly when we are root, else through sudo without a prompt
# (a prompt would hang CI).
devloop_as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    devloop_die "need root (or password-less sudo) to run: $*"
  fi
}

# Installs Debian packages without questions. `apt-get update` runs once per shell; the
# dpkg lock is waited for, so a concurrent apt run delays us instead of failing us.
devloop_apt_updated=
devloop_apt_install() {
  command -v apt-get >/dev/null 2>&1 || { devloop_die "apt-get not found: install $* by hand"; return 1; }
  local opts=(-o DPkg::Lock::Timeout=300 -q) log=$DEVLOOP_LOG_DIR/apt.log
  mkdir -p "$DEVLOOP_LOG_DIR"
  if [ -z "$devloop_apt_updated" ]; then
    devloop_say "apt-get update"
    devloop_as_root env DEBIAN_FRONTEND=noninteractive apt-get "${opts[@]}" update \
        </dev/null >"$log" 2>&1 \
      || { tail -n 20 "$log" >&2; devloop_die "apt-get update failed (log: $log)"; return 1; }
    devloop_apt_updated=1
  fi
  devloop_say "apt-get install $*"
  devloop_as_root env DEBIAN_FRONTEND=noninteractive apt-get "${opts[@]}" -y \
      --no-install-recommends install "$@" </dev/null >>"$log" 2>&1 \
    || { tail -n 20 "$log" >&2; devloop_die "apt-get install $* failed (log: $log)"; return 1; }
}

ensure_host_tool() { # COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  devloop_apt_install "$2" || return 1
  command -v "$1" >/dev/null 2>&1 || devloop_die "package $2 did not provide $1"
}

# True when a live process (not a zombie: a killed daemon can linger as one until it is
# reaped) has the command name $1. Reads /proc, so it needs no procps.
devloop_process_alive() {
  local f stat
  for f in /proc/[0-9]*/stat; do
    # "PID (COMM) STATE ...", STATE Z for a zombie.
    read -r stat 2>/dev/null <"$f" || continue
    case $stat in *" ($1) "[!Z]*) return 0 ;; esac
  done
  return 1
}

devloop_docker_answers() {
  local v
  v=$(timeout 10 docker info --format '{{.ServerVersion}}' 2>/dev/null </dev/null) || return 1
  [ -n "$v" ]
}

ensure_docker() {
  command -v docker >/dev/null 2>&1 && devloop_docker_answers && return 0

  # Someone else's engine (a remote DOCKER_HOST, a context, Podman): not ours to start.
  case "${DOCKER_HOST:-unix:///var/run/docker.sock}" in
    unix:///var/run/docker.sock | unix:///run/docker.sock) ;;
    *) devloop_die "no Docker engine answers at DOCKER_HOST=$DOCKER_HOST"; return 1 ;;
  esac

  if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    devloop_apt_install docker.io || return 1
    # The package's postinst may have started the engine already (systemd, init script).
    devloop_docker_answers && return 0
  fi

  if ! devloop_process_alive dockerd; then
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
      devloop_say "starting docker (systemctl)"
      devloop_as_root systemctl start docker </dev/null >/dev/null 2>&1 || true
    fi
  fi
  if ! devloop_process_alive dockerd; then
    # Leftovers of an engine that died make a new one refuse to start or hang.
    local pid
    if [ -f /var/run/docker.pid ]; then
      pid=$(cat /var/run/docker.pid 2>/dev/null || true)
      if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
        devloop_as_root rm -f /var/run/docker.pid
      fi
    fi
    if [ -S /run/containerd/containerd.sock ] && ! devloop_process_alive containerd; then
      devloop_as_root rm -f /run/containerd/containerd.sock
    fi
    devloop_say "starting dockerd (log: $DEVLOOP_DOCKERD_LOG)"
    # Own session, no terminal, no stdin: it must outlive this shell and its job control.
    devloop_as_root setsid -f nohup dockerd </dev/null >>"$DEVLOOP_DOCKERD_LOG" 2>&1 \
      || { devloop_die "could not start dockerd"; return 1; }
  fi

  local deadline=$((SECONDS + 60))
  while [ "$SECONDS" -lt "$deadline" ]; do
    devloop_docker_answers && return 0
    sleep 0.5
  done
  devloop_say "last lines of $DEVLOOP_DOCKERD_LOG:"
  tail -n 20 "$DEVLOOP_DOCKERD_LOG" >&2 2>/dev/null || true
  devloop_die "the Docker engine did not answer within 60 s"
}

# The host's Debian mirror: the first non-security URI of a `deb` source with component
# main, from deb822 files first, then sources.list. Prints nothing when none is found.
devloop_debian_mirror() {
  if [ -n "${DEVLOOP_DEBIAN_MIRROR:-}" ]; then
    printf '%s\n' "$DEVLOOP_DEBIAN_MIRROR"
    return 0
  fi
  local f
  {
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] || continue
      # One paragraph per source; fields are case-insensitive, comments start with '#'.
      awk '
        function flush() {
          if (types ~ /(^|[ \t])deb([ \t]|$)/ && comps ~ /(^|[ \t])main([ \t]|$)/ \
              && enabled !~ /^(no|false)$/) {
            n = split(uris, u, /[ \t]+/)
            for (i = 1; i <= n; i++) if (u[i] != "" && u[i] !~ /security/) { print u[i]; break }
          }
          types = ""; comps = ""; uris = ""; enabled = ""
        }
        /^[ \t]*#/ { next }
        /^[ \t]*$/ { flush(); next }
        {
          key = tolower($1); sub(/:$/, "", key)
          val = $0; sub(/^[^:]*:[ \t]*/, "", val)
          if (key == "types") types = val
          else if (key == "uris") uris = val
          else if (key == "components") comps = val
          else if (key == "enabled") enabled = tolower(val)
        }
        END { flush() }
      ' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -f "$f" ] || continue
      # deb [options] URI suite components...
      awk '$1 == "deb" {
             i = 2; if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
             uri = $i; main = 0
             for (j = i + 2; j <= NF; j++) if ($j == "main") main = 1
             if (main && uri !~ /security/) print uri
           }' "$f"
    done
  } | grep -m1 -E '^(https?|file|ftp)://' || true
}

devloop_image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

ensure_base_image() {
  devloop_image_exists "$DEVLOOP_BASE_IMAGE" && return 0
  # Two set-up scripts started at once must not debootstrap twice.
  (
    set -o pipefail
    flock -w 900 9 || { devloop_die "timed out waiting for another base image build"; exit 1; }
    devloop_image_exists "$DEVLOOP_BASE_IMAGE" && exit 0

    if timeout 20 docker pull -q debian:bookworm </dev/null >/dev/null 2>&1; then
      docker tag debian:bookworm "$DEVLOOP_BASE_IMAGE" || exit 1
      devloop_say "base image: pulled debian:bookworm as $DEVLOOP_BASE_IMAGE"
      exit 0
    fi

    ensure_host_tool debootstrap debootstrap || exit 1
    local mirror dir log
    mirror=$(devloop_debian_mirror)
    mirror=${mirror:-http://deb.debian.org/debian}
    mkdir -p "$DEVLOOP_LOG_DIR"
    log=$DEVLOOP_LOG_DIR/debootstrap.log
    dir=$(mktemp -d /var/tmp/devloop-rootfs.XXXXXX)
    trap 'devloop_as_root rm -rf "$dir"' EXIT
    devloop_say "base image: no registry answers; debootstrap bookworm from $mirror (about 30 s)"
    if ! devloop_as_root debootstrap --variant=minbase bookworm "$dir" "$mirror" </dev/null >"$log" 2>&1; then
      tail -n 30 "$log" >&2
      devloop_die "debootstrap failed (full log: $log)"; exit 1
    fi
    # debootstrap wrote sources.list for $mirror, so `apt-get install` works in builds.
    # Drop what belongs to the host or to this one build.
    # shellcheck disable=SC2016 # $1 is expanded by the inner sh
    devloop_as_root sh -c 'rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/* \
      "$1"/var/log/* "$1"/tmp/* "$1"/debootstrap; : >"$1"/etc/resolv.conf; : >"$1"/etc/hostname' \
      sh "$dir"
    devloop_as_root tar --numeric-owner -C "$dir" -c . | docker import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["bash"]' \
      --change "LABEL devloop.base.origin=debootstrap devloop.base.mirror=$mirror" \
      - "$DEVLOOP_BASE_IMAGE" >/dev/null \
      || { devloop_die "docker import of the debootstrapped tree failed"; exit 1; }
    devloop_say "base image: imported as $DEVLOOP_BASE_IMAGE"
  ) 9>"$DEVLOOP_LOCK_DIR/devloop-base-image.lock"
}

# Builds examples/<name>/Dockerfile as $DEVLOOP_EXAMPLE_PREFIX/<name>:latest, for the named
# examples or for all of them. The engine's layer cache makes a rebuild take well under
# a second. DOCKER_BUILDKIT=0 picks the legacy builder: BuildKit needs the buildx
# plugin, which Debian bookworm's docker.io does not ship ("BuildKit is enabled but the
# buildx component is missing"). Its deprecation notice is harmless.
ensure_example_images() {
  local dirs=() d name image old new log failed=()
  if [ $# -gt 0 ]; then
    for name in "$@"; do dirs+=("$DEVLOOP_ROOT/examples/$name"); done
  else
    for d in "$DEVLOOP_ROOT"/examples/*/; do
      [ -f "$d/Dockerfile" ] && dirs+=("${d%/}")
    done
  fi
  mkdir -p "$DEVLOOP_LOG_DIR"
  for d in "${dirs[@]}"; do
    name=$(basename "$d")
    [ -f "$d/Dockerfile" ] || { devloop_say "no Dockerfile in $d"; failed+=("$name"); continue; }
    image=$DEVLOOP_EXAMPLE_PREFIX/$name:latest
    log=$DEVLOOP_LOG_DIR/build-$name.log
    old=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
    if ! DOCKER_BUILDKIT=0 docker build --build-arg "BASE=$DEVLOOP_BASE_IMAGE" \
        -t "$image" "$d" </dev/null >"$log" 2>&1; then
      devloop_say "building $image failed; last lines of $log:"
      tail -n 40 "$log" >&2
      failed+=("$name")
      continue
    fi
    # Every edit of the service's files leaves the previous build untagged; drop it
    # unless a container still uses it (then rmi fails, and that is fine).
    new=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
    if [ -n "$old" ] && [ "$old" != "$new" ]; then
      docker rmi "$old" >/dev/null 2>&1 || true
    fi
  done
  [ ${#failed[@]} -eq 0 ] || devloop_die "example images not built: ${failed[*]}"
}

# dig on the host, for scripts that query a service from outside (bench, demo).
ensure_dig() { ensure_host_tool dig dnsutils; }
