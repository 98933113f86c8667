#!/usr/bin/env bash
# Bring up two local image registries for the image-pull tests (tests/image_pull.rs),
# and make the Docker engine pull unqualified names (`python:3.12-slim`) from the
# first one, as a machine behind a Docker Hub mirror does:
#
#   127.0.0.1:5000  open, stands in for Docker Hub (images as 127.0.0.1:5000/library/NAME:TAG)
#   127.0.0.1:5001  htpasswd auth (user mlci, password mlci-test-password), for
#                   private images and credentials
#
# Debian's docker-registry (the CNCF distribution registry, v2 API), started by
# hand with nohup (no systemd in the sandbox), each with its own configuration
# and storage under /var/lib/mlci-ci/. Idempotent: a second run finds both up
# and the mirror configured, and returns in well under a second.
#
# Needs root (apt, /etc/docker/daemon.json, SIGHUP to dockerd). The tests push
# what they need themselves (tests/common/registry.rs), so nothing is pushed here.
set -euo pipefail

root=/var/lib/mlci-ci
mirror=http://127.0.0.1:5000
user=mlci
password=mlci-test-password

say() { printf 'registry-up: %s\n' "$*" >&2; }
fail() {
  say "error: $*"
  for f in "$root"/registry-*/registry.log; do
    [ -f "$f" ] && { printf '\n--- tail of %s ---\n' "$f" >&2; tail -n 15 "$f" >&2; }
  done
  exit 1
}

# 1. The packages.
need=()
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v htpasswd >/dev/null || need+=(apache2-utils)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Whether the registry on port $1 answers /v2/ (200 when open, 401 with auth).
answers() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$1/v2/" || true)
  [ "$code" = 200 ] || [ "$code" = 401 ]
}

# 2. The registries: registry_up NAME PORT AUTH(yes|no)
registry_up() {
  local name=$1 port=$2 auth=$3 dir="$root/registry-$1"
  mkdir -p "$dir/data"
  local config="$dir/config.yml"
  {
    cat <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  headers:
    X-Content-Type-Options: [nosniff]
EOF
    if [ "$auth" = yes ]; then
      cat <<EOF
auth:
  htpasswd:
    realm: mlci-test-registry
    path: $dir/htpasswd
EOF
    fi
  } >"$config.new"
  if [ "$auth" = yes ] && ! { [ -f "$dir/htpasswd" ] && htpasswd -vbB "$dir/htpasswd" "$user" "$password" >/dev/null 2>&1; }; then
    htpasswd -cbB "$dir/htpasswd" "$user" "$password" >/dev/null 2>&1
  fi
  local changed=no
  if ! cmp -s "$config.new" "$config"; then
    mv "$config.new" "$config"
    changed=yes
  else
    rm -f "$config.new"
  fi
  local pid=""
  [ -s "$dir/registry.pid" ] && pid=$(cat "$dir/registry.pid")
  local alive=no
  if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "docker-registry serve $config"; then
    alive=yes
  fi
  if [ $alive = yes ] && [ $changed = no ] && answers "$port"; then
    say "$name registry up on 127.0.0.1:$port"
    return
  fi
  if [ $alive = yes ]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
  fi
  if answers "$port"; then
    fail "port $port answers as a registry but not one this script started ($dir/registry.pid): stop it first"
  fi
  nohup docker-registry serve "$config" >"$dir/registry.log" 2>&1 </dev/null &
  echo $! >"$dir/registry.pid"
  for _ in $(seq 100); do
    answers "$port" && { say "$name registry started on 127.0.0.1:$port"; return; }
    sleep 0.1
  done
  fail "the $name registry on 127.0.0.1:$port did not answer /v2/ within 10 s"
}

registry_up open 5000 no
registry_up auth 5001 yes

# 3. The engine pulls unqualified (Docker Hub) names through the open registry:
# registry-mirrors, merged into /etc/docker/daemon.json, is reloaded on SIGHUP.
mirrors=$(docker info --format '{{json .RegistryConfig.Mirrors}}' 2>/dev/null || echo null)
case "$mirrors" in
  *"127.0.0.1:5000"*) say "the engine pulls Docker Hub names through $mirror" ;;
  *)
    daemon_json=/etc/docker/daemon.json
    mkdir -p /etc/docker
    python3 - "$daemon_json" "$mirror" <<'EOF'
import json, os, sys
path, mirror = sys.argv[1], sys.argv[2]
config = {}
if os.path.exists(path) and os.path.getsize(path) > 0:
    with open(path) as f:
        config = json.load(f)
mirrors = config.get("registry-mirrors", [])
if mirror not in mirrors:
    mirrors.append(mirror)
config["registry-mirrors"] = mirrors
with open(path + ".new", "w") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
os.replace(path + ".new", path)
EOF
    dockerd_pid=$(pgrep -x dockerd | head -n1 || true)
    [ -n "$dockerd_pid" ] || fail "dockerd is not running on this machine: cannot reload $daemon_json"
    kill -HUP "$dockerd_pid"
    for _ in $(seq 50); do
      case "$(docker info --format '{{json .RegistryConfig.Mirrors}}' 2>/dev/null)" in
        *"127.0.0.1:5000"*) say "the engine pulls Docker Hub names through $mirror (reloaded)"; break ;;
      esac
      sleep 0.1
    done
    case "$(docker info --format '{{json .RegistryConfig.Mirrors}}')" in
      *"127.0.0.1:5000"*) ;;
      *) fail "dockerd did not take registry-mirrors from $daemon_json after SIGHUP" ;;
    esac
    ;;
esac
