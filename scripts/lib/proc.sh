# shellcheck shell=bash
# Process bookkeeping for scripts/native.sh: launch a program detached with a PID file, and find, signal and wait for
# exactly that program later. Needs RUN_DIR, LOG_DIR and LAUNCH_DIR set by the caller.
#
# A process is "ours" only when all of these hold, so a recycled PID is never signalled:
#   - $RUN_DIR/<name>.pid names a live, non-zombie PID,
#   - its start time (field 22 of /proc/<pid>/stat) equals the one recorded in $RUN_DIR/<name>.start at launch,
#   - its command line contains the pattern recorded in $RUN_DIR/<name>.match.
# Every launched program leads its own session and process group (setsid), so it survives this script, is untouched
# by the caller's Ctrl-C, and a KILL can reach its children too (nginx workers, Postgres backends).

# proc_stat_field PID INDEX -> field INDEX (1-based, as in proc(5)) of /proc/PID/stat.
proc_stat_field() {
  local stat rest
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  rest="${stat##*) }" # fields from 3 on; comm (field 2) may contain spaces and parentheses
  local -a fields
  read -r -a fields <<<"$rest"
  printf '%s' "${fields[$(($2 - 3))]}"
}

# pid_running PID -> true when PID exists and is not a zombie.
pid_running() {
  local state
  state="$(proc_stat_field "$1" 3)" || return 1
  [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

# proc_pid NAME -> prints the PID of our live process NAME; false when it is not running.
proc_pid() {
  local name="$1" pid start match cmdline
  [[ -s "$RUN_DIR/$name.pid" ]] || return 1
  pid="$(head -n 1 "$RUN_DIR/$name.pid")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  pid_running "$pid" || return 1
  if [[ -s "$RUN_DIR/$name.start" ]]; then
    start="$(proc_stat_field "$pid" 22)" || return 1
    [[ "$start" == "$(cat "$RUN_DIR/$name.start")" ]] || return 1
  fi
  if [[ -s "$RUN_DIR/$name.match" ]]; then
    match="$(cat "$RUN_DIR/$name.match")"
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    [[ "$cmdline" == *"$match"* ]] || return 1
  fi
  printf '%s' "$pid"
}

# record_proc NAME PID MATCH -> writes the PID, start-time and match files for a process started another way.
record_proc() {
  printf '%s\n' "$2" >"$RUN_DIR/$1.pid"
  proc_stat_field "$2" 22 >"$RUN_DIR/$1.start"
  printf '%s' "$3" >"$RUN_DIR/$1.match"
}

forget_proc() { rm -f "$RUN_DIR/$1.pid" "$RUN_DIR/$1.start" "$RUN_DIR/$1.match"; }

# launch NAME -> runs $LAUNCH_DIR/NAME.sh detached; output is appended to the process log (log_file NAME).
# The launch script writes its own PID ($$) before it execs the program, so the PID file holds the program's PID
# however setsid forks; its "# match:" line names a piece of the program's command line. Descriptor 9 (the
# native.sh lock) is closed for the child so a long-lived process never holds the lock.
launch() {
  local name="$1" script="$LAUNCH_DIR/$1.sh" log match pid="" i
  [[ -f "$script" ]] || die "no launch script $script; run scripts/native.sh up"
  match="$(sed -n 's/^# match: //p' "$script")"
  log="$(log_file "$name")"
  forget_proc "$name"
  printf '=== %s started by native.sh at %s\n' "$name" "$(date -u +%FT%TZ)" >>"$log"
  (cd "$REPO_ROOT" && exec setsid bash "$script" </dev/null >>"$log" 2>&1 9>&-) &
  for ((i = 0; i < 100; i++)); do
    [[ -s "$RUN_DIR/$name.pid" ]] && pid="$(head -n 1 "$RUN_DIR/$name.pid")"
    [[ -n "$pid" ]] && break
    sleep 0.05
  done
  [[ -n "$pid" ]] || die "$name did not start (no PID file); see $log"
  # Give exec a moment so the recorded start time and command line are the program's, not the shell's.
  for ((i = 0; i < 100; i++)); do
    if ! pid_running "$pid"; then break; fi
    [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" == *"$match"* ]] && break
    sleep 0.05
  done
  proc_stat_field "$pid" 22 >"$RUN_DIR/$name.start" 2>/dev/null || true
  printf '%s' "$match" >"$RUN_DIR/$name.match"
}

# log_file NAME -> the file a process's stderr goes to: logs/NAME.log (nginx: logs/nginx.stderr.log).
log_file() {
  if [[ "$1" == nginx ]]; then echo "$LOG_DIR/nginx.stderr.log"; else echo "$LOG_DIR/$1.log"; fi
}

# group_members PGID -> PIDs (excluding zombies) whose process group is PGID.
group_members() {
  ps -e -o pgid=,pid=,stat= | awk -v pgid="$1" '$1 == pgid && $3 !~ /^[ZX]/ { print $2 }'
}

# wait_gone PID SECONDS -> true when PID and the members of its process group have exited within SECONDS.
wait_gone() {
  local pid="$1" deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    if ! pid_running "$pid" && [[ -z "$(group_members "$pid")" ]]; then return 0; fi
    sleep 0.1
  done
  ! pid_running "$pid" && [[ -z "$(group_members "$pid")" ]]
}

# kill_group PID -> SIGKILL to the process group PID leads (it does: launch uses setsid), else to PID alone.
kill_group() {
  local pid="$1"
  if [[ "$(proc_stat_field "$pid" 5 2>/dev/null)" == "$pid" ]]; then
    kill -KILL -- "-$pid" 2>/dev/null || true
  else
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

# reap_orphans NAME -> when NAME's leader died on its own (nginx master crashed), SIGKILLs what is left of its group.
# Only when no process has the recorded PID: Linux does not reuse a PID while it names a process group, so the
# members of that group are then certainly what remains of ours.
reap_orphans() {
  local pid members
  [[ -s "$RUN_DIR/$1.pid" ]] || return 0
  pid="$(head -n 1 "$RUN_DIR/$1.pid")"
  [[ "$pid" =~ ^[0-9]+$ && ! -e "/proc/$pid" ]] || return 0
  members="$(group_members "$pid")"
  [[ -n "$members" ]] || return 0
  log "$1: SIGKILL to the processes its dead leader (pid $pid) left: ${members//$'\n'/ }"
  kill -KILL -- "-$pid" 2>/dev/null || true
}

# stop_proc NAME [SIGNAL] [TIMEOUT] -> stops our process NAME.
#   TERM, INT, QUIT (default TERM): send it, wait up to TIMEOUT seconds for the program to exit, then SIGKILL its group.
#   KILL: SIGKILL the whole process group at once (as a container kill would) and wait for it to be gone.
#   any other signal (STOP, CONT, HUP, USR1...): send it to the program and return.
stop_proc() {
  local name="$1" sig="${2:-TERM}" timeout="${3:-${NATIVE_STOP_TIMEOUT:-20}}" pid
  sig="${sig#SIG}"
  sig="${sig^^}"
  if ! pid="$(proc_pid "$name")"; then
    log "$name is not running"
    reap_orphans "$name"
    forget_proc "$name"
    return 0
  fi
  case "$sig" in
    KILL | 9)
      log "$name (pid $pid): SIGKILL to its process group"
      kill_group "$pid"
      wait_gone "$pid" 10 || warn "$name (pid $pid) still present after SIGKILL"
      ;;
    TERM | INT | QUIT | 15 | 2 | 3)
      log "$name (pid $pid): SIG$sig, waiting up to ${timeout}s"
      kill "-$sig" "$pid" 2>/dev/null || true
      if ! wait_gone "$pid" "$timeout"; then
        warn "$name (pid $pid) did not exit within ${timeout}s; SIGKILL"
        kill_group "$pid"
        wait_gone "$pid" 10 || warn "$name (pid $pid) still present after SIGKILL"
      fi
      ;;
    *)
      log "$name (pid $pid): SIG$sig"
      kill "-$sig" "$pid"
      return 0
      ;;
  esac
  forget_proc "$name"
}

# log_tail NAME [LINES] -> the last lines of a process's log, indented, on stderr.
log_tail() {
  local file
  file="$(log_file "$1")"
  [[ -f "$file" ]] || return 0
  printf '  --- last lines of %s ---\n' "$file" >&2
  tail -n "${2:-25}" "$file" | sed 's/^/  | /' >&2
}
