#!/usr/bin/env bash
# Entrypoint of the nginx stand-in (scripts/standins/build.sh): the documented behaviour of the official nginx
# image's entrypoint that the stack relies on, for Debian's nginx.
#
# When the command is `nginx` or `nginx-debug`:
#   - every ${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}/**/*.template is rendered with envsubst into
#     ${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}/** without the suffix, substituting only the defined variables
#     whose names match the regex NGINX_ENVSUBST_FILTER (empty: all of them); an output folder that is not writable
#     (read-only root) is reported and skipped, as upstream;
#   - Debian's nginx has no compiled-in user (its workers would run as nobody, the official image's as nginx):
#     started as root with a main config that names no `user`, `user nginx;` is added to the -g directives
#     (NGINX_STANDIN_USER= turns that off).
# NGINX_ENTRYPOINT_QUIET_LOGS (non-empty) silences this script. Not implemented: /docker-entrypoint.d/ scripts,
# worker_processes autotune, stream templates, IPv6 listen rewriting.
set -euo pipefail

ME="${0##*/}"

log() {
  [[ -n "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]] || printf '%s: %s\n' "$ME" "$*"
}

render_templates() {
  local dir="${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}"
  local suffix="${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}"
  local out="${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}"
  local filter="${NGINX_ENVSUBST_FILTER:-}"
  [[ -d $dir ]] || return 0
  if [[ ! -w $out ]]; then
    log "ERROR: $dir exists, but $out is not writable"
    return 0
  fi

  # envsubst's SHELL-FORMAT: '${A} ${B} ...' for the exported variables whose names match the filter. Anything
  # else in a template (nginx's own $variables) is left alone.
  local name vars=""
  while IFS= read -r name; do
    if [[ -z $filter || $name =~ $filter ]]; then
      vars+="\${$name} "
    fi
  done < <(compgen -e)

  local template relative target
  while IFS= read -r -d '' template; do
    relative="${template#"$dir"/}"
    target="$out/${relative%"$suffix"}"
    mkdir -p "$(dirname "$target")"
    log "Running envsubst on $template to $target"
    envsubst "$vars" <"$template" >"$target"
  done < <(find -L "$dir" -type f -name "*$suffix" -print0 | LC_ALL=C sort -z)
}

# The main config nginx will read (-c FILE, or the compiled-in path) names a user?
config_names_user() {
  local conf=/etc/nginx/nginx.conf i
  for ((i = 1; i <= $#; i++)); do
    if [[ ${!i} == -c ]]; then
      local next=$((i + 1))
      conf="${!next:-}"
    fi
  done
  [[ -r $conf ]] || return 0 # unreadable or relative to a prefix: leave it to nginx
  grep -Eq '^[[:space:]]*user[[:space:]]' "$conf"
}

# Prints the command, NUL-separated, with `user NAME;` appended to its -g directives (or as a new -g).
with_default_user() {
  local user=$1 added=0
  shift
  local -a out=()
  while (($#)); do
    if [[ $1 == -g && $# -gt 1 ]]; then
      if [[ $2 =~ (^|;)[[:space:]]*user[[:space:]] ]]; then
        out+=(-g "$2")
      else
        out+=(-g "$2${2:+ }user $user;")
      fi
      added=1
      shift 2
    else
      out+=("$1")
      shift
    fi
  done
  ((added)) || out+=(-g "user $user;")
  printf '%s\0' "${out[@]}"
}

if [[ "${1:-}" == nginx || "${1:-}" == nginx-debug ]]; then
  render_templates
  user="${NGINX_STANDIN_USER-nginx}"
  if [[ -n $user && "$(id -u)" == 0 ]] && ! config_names_user "$@"; then
    mapfile -d '' -t args < <(with_default_user "$user" "$@")
    set -- "${args[@]}"
  fi
  log "Configuration complete; ready for start up"
fi

exec "$@"
