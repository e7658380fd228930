#!/usr/bin/env bash
# Docker Engine: uses the daemon that answers `docker info`; when none does,
# starts `dockerd` in the background and records its pid in .lab/run so that
# lab/down.sh stops it — and only then.
set -euo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/../lib.sh"

started="$(now)"
log="$LAB_LOG/dockerd.log"
pidfile="$LAB_RUN/dockerd.pid"

# clear_stale PIDFILE PATTERN: remove a daemon's own pid file that names no
# running PATTERN process. A killed dockerd leaves its pid file, and that of
# the containerd it runs (which dies with it); the next dockerd refuses to
# start while the pid in the one exists, and waits 30 s for the other to
# answer — and a killed daemon's pid exists as a zombie until PID 1 reaps
# it (tens of seconds under some inits).
clear_stale() { pid_alive "$1" "$2" || rm -f "$1"; }

answers() { docker info >/dev/null 2>&1; }

if ! answers; then
	if pid_alive "$pidfile" dockerd; then
		wait_for 30 answers || lab_fail docker "the lab's dockerd (pid $(pid_of "$pidfile")) does not answer" "$log"
	else
		rm -f "$pidfile"
		# dockerd's defaults: --pidfile, and its containerd's under --exec-root.
		clear_stale /var/run/docker.pid dockerd
		clear_stale /var/run/docker/containerd/containerd.pid containerd
		start_bg "$pidfile" "$log" dockerd
		wait_for 30 answers || lab_fail docker "dockerd gave no answer within 30 s" "$log"
		lab_say "docker: started dockerd (pid $(pid_of "$pidfile"))"
	fi
fi

env_begin docker
env_put DOCKER_HOST "${DOCKER_HOST:-unix:///var/run/docker.sock}"
lab_say "docker ready ($(elapsed "$started") s)"
