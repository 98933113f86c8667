#!/usr/bin/env bash
# A normal user for the tests that must hold for one (README: "a normal user in the
# docker group"): mlci-user, not root, a member of the group that owns the Docker
# socket. Idempotent. Also puts cargo-nextest where that user can run it (root's
# ~/.cargo is not readable by others).
set -euo pipefail
user=mlci-user
socket_group=$(stat -c %G /var/run/docker.sock)
if [ "$socket_group" = root ]; then
  # An engine whose socket only root may use: give it the usual docker group.
  getent group docker >/dev/null || groupadd --system docker
  chgrp docker /var/run/docker.sock && chmod g+rw /var/run/docker.sock
  socket_group=docker
fi
if ! id "$user" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash "$user"
fi
usermod -aG "$socket_group" "$user"
install -d -m 0755 /usr/local/libexec/mlci-ci
install -m 0755 "$(command -v cargo-nextest)" /usr/local/libexec/mlci-ci/cargo-nextest
runuser -u "$user" -- docker version --format 'user {{.Client.Os}}: the engine answers {{.Server.Version}}' \
  | sed "s/^user [a-z]*/$user (uid $(id -u "$user"), groups $(id -Gn "$user" | tr ' ' ,))/"
