# Sourced by tooling/image/check.sh and standin_base.sh.
#
# ensure_runnable IMAGE: when podman cannot start a container of IMAGE with
# its defaults (crun refuses cgroups in hybrid mode; without CAP_SYS_RESOURCE
# its default ulimits cannot be set: some VMs), use runc and this machine's
# own limits through CONTAINERS_CONF (.data/image/containers.conf).
ensure_runnable() {
  [ "${ENGINE:-podman}" = podman ] || return 0
  [ -z "${CONTAINERS_CONF:-}" ] || return 0
  podman run --rm --entrypoint true "$1" >/dev/null 2>&1 && return 0
  mkdir -p .data/image
  cat >.data/image/containers.conf <<CONF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=4096:4096"]
[engine]
runtime = "runc"
CONF
  export CONTAINERS_CONF="$PWD/.data/image/containers.conf"
  if ! podman run --rm --entrypoint true "$1" >/dev/null 2>&1; then
    echo "podman cannot start a container of $1, even with $CONTAINERS_CONF (is runc installed?)" >&2
    return 1
  fi
  echo "podman: containers start only with runc and lower ulimits here: using $CONTAINERS_CONF"
}
