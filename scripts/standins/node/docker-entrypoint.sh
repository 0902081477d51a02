#!/bin/sh
# Entrypoint of the node stand-in (scripts/standins/build.sh), as the official node image's: arguments that are
# options (`-e ...`) or not a command (`app.js`) are run by node; anything else is run as given.
set -e

if [ "${1#-}" != "$1" ] || [ -z "$(command -v "$1" || true)" ] || { [ -f "$1" ] && ! [ -x "$1" ]; }; then
  set -- node "$@"
fi

exec "$@"
