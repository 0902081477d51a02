#!/usr/bin/env bash
# Entrypoint of the redis stand-in (scripts/standins/build.sh): the documented behaviour of the official redis
# image's entrypoint, for Debian's redis-server.
#
#   - a first argument starting with `-` or ending in `.conf` is for redis-server: `redis-server` is put in front;
#   - `redis-server` started as root: files in the working folder (/data) not owned by redis are given to it, then
#     this script runs again as redis (setpriv), with umask 0077 when the umask is the default 0022;
#   - protected mode off: the official image's redis is built with it off, Debian's with it on (which refuses
#     every client from another container when no password is set). `--protected-mode no` goes right after
#     `redis-server` (after the config file when one is given), so later arguments still win, and a config file
#     that sets protected-mode itself is left alone, as upstream.
# redis-server reads no config file unless one is given (Debian's /etc/redis/redis.conf is not used).
set -euo pipefail

if [[ "${1:-}" == -* || "${1:-}" == *.conf ]]; then
  set -- redis-server "$@"
fi

if [[ "${1:-}" == redis-server && "$(id -u)" == 0 ]]; then
  find . \! -user redis -exec chown redis '{}' +
  exec setpriv --reuid=redis --regid=redis --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [[ "${1:-}" == redis-server ]]; then
  # Data files readable by redis only, unless the caller chose a umask.
  [[ "$(umask)" != 0022 ]] || umask 0077

  config=""
  if [[ -f "${2:-}" ]]; then
    config=$2
  fi
  if [[ -z $config ]] || ! grep -q '^protected-mode' "$config"; then
    shift
    [[ -z $config ]] || shift
    set -- redis-server ${config:+"$config"} --protected-mode no "$@"
  fi
fi

exec "$@"
