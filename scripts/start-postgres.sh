#!/usr/bin/env bash
# Start (or reuse) a throwaway PostgreSQL server for Glashaus tests.
#
#   scripts/start-postgres.sh          start; prints ONE line on stdout: the SQLAlchemy URL
#   scripts/start-postgres.sh stop     stop the server and delete its data dir
#
# Port: ${GLASHAUS_PG_PORT:-55432}, listening on 127.0.0.1, unix socket in /tmp,
# trust auth, superuser "postgres", database "glashaus_test".
# The data dir is a fresh temp dir; its path is recorded in /tmp/glashaus-pg-PORT.datadir.
# Idempotent: if a server already answers on the port, only the database is ensured.
# If initdb/pg_ctl are missing, `apt-get install -y postgresql` is run (needs root).
# All diagnostics go to stderr; stdout carries only the URL.
set -euo pipefail

# Keep the real stdout on fd 3 for the URL; everything else goes to stderr.
exec 3>&1 1>&2

PORT="${GLASHAUS_PG_PORT:-55432}"
HOST=127.0.0.1
DB=glashaus_test
PG_USER=postgres
STATE_FILE="/tmp/glashaus-pg-${PORT}.datadir"
URL="postgresql+psycopg://${PG_USER}@${HOST}:${PORT}/${DB}"

log() { echo "start-postgres: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

case "${1:-start}" in
  start|stop) ACTION="${1:-start}" ;;
  *) die "usage: $0 [start|stop]" ;;
esac

# --- locate the server binaries ---------------------------------------------
find_bindir() {
  local d best=""
  # Highest-versioned Debian install, e.g. /usr/lib/postgresql/15/bin.
  for d in /usr/lib/postgresql/*/bin; do
    if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
      if [[ -z "$best" ]] || [[ "$(basename "$(dirname "$d")")" -gt "$(basename "$(dirname "$best")")" ]] 2>/dev/null; then
        best="$d"
      fi
    fi
  done
  if [[ -z "$best" ]] && command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    best="$(dirname "$(readlink -f "$(command -v pg_ctl)")")"
  fi
  [[ -n "$best" ]] && echo "$best"
}

BINDIR="$(find_bindir || true)"

if [[ -z "$BINDIR" ]]; then
  [[ "$ACTION" == stop ]] && { log "no PostgreSQL installed; nothing to stop"; rm -f "$STATE_FILE"; exit 0; }
  [[ "$(id -u)" -eq 0 ]] || die "initdb/pg_ctl not found and not root; install the 'postgresql' package"
  log "initdb/pg_ctl not found; installing postgresql via apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update && apt-get install -y postgresql
  BINDIR="$(find_bindir || true)"
  [[ -n "$BINDIR" ]] || die "postgresql installed but initdb/pg_ctl still not found"
fi

# pg_isready/psql/createdb normally sit next to pg_ctl; fall back to PATH.
tool() {
  if [[ -x "$BINDIR/$1" ]]; then echo "$BINDIR/$1"; else command -v "$1" || die "$1 not found"; fi
}
PG_ISREADY="$(tool pg_isready)"
PSQL="$(tool psql)"

# Run a command as the postgres OS user (root cannot run the server).
# Not root: run as the current user instead.
# Every fd above 2 is closed first: the postmaster must not inherit fd 3 (our
# real stdout) or any other pipe, or a caller's "$(start-postgres.sh)" would
# wait for EOF forever.
as_pg() (
  local fd
  for fd in /proc/self/fd/*; do
    fd="${fd##*/}"
    if [[ "$fd" =~ ^[0-9]+$ && "$fd" -gt 2 ]]; then eval "exec ${fd}>&-" 2>/dev/null || true; fi
  done
  cd /tmp
  if [[ "$(id -u)" -ne 0 ]]; then
    "$@"
  elif command -v runuser >/dev/null 2>&1; then
    runuser -u postgres -- "$@"
  else
    local q; printf -v q '%q ' "$@"
    su postgres -s /bin/bash -c "$q"
  fi
)

is_ready() { "$PG_ISREADY" -q -h "$HOST" -p "$PORT" -U "$PG_USER" -t 2 >/dev/null 2>&1; }

# --- stop ----------------------------------------------------------------------
if [[ "$ACTION" == stop ]]; then
  if [[ ! -f "$STATE_FILE" ]]; then
    log "no state file $STATE_FILE; nothing to stop"
    exit 0
  fi
  DATADIR="$(cat "$STATE_FILE")"
  if [[ -n "$DATADIR" && -f "$DATADIR/PG_VERSION" ]]; then
    if as_pg "$BINDIR/pg_ctl" -D "$DATADIR" status >/dev/null 2>&1; then
      log "stopping server on port $PORT (data dir $DATADIR)"
      as_pg "$BINDIR/pg_ctl" -D "$DATADIR" -m fast -w -t 60 stop >&2 \
        || as_pg "$BINDIR/pg_ctl" -D "$DATADIR" -m immediate -w -t 30 stop >&2 \
        || log "WARNING: pg_ctl stop failed"
    else
      log "server in $DATADIR is not running"
    fi
    rm -rf -- "$DATADIR"
  fi
  rm -f -- "$STATE_FILE"
  log "stopped"
  exit 0
fi

# --- start ---------------------------------------------------------------------
ensure_db() {
  local exists
  exists="$("$PSQL" -X -h "$HOST" -p "$PORT" -U "$PG_USER" -d postgres -tAq \
    -c "SELECT 1 FROM pg_database WHERE datname = '${DB}'")" \
    || die "cannot connect to PostgreSQL on ${HOST}:${PORT} as ${PG_USER} (trust auth expected)"
  if [[ "$exists" != 1 ]]; then
    log "creating database $DB"
    "$PSQL" -X -q -h "$HOST" -p "$PORT" -U "$PG_USER" -d postgres -v ON_ERROR_STOP=1 \
      -c "CREATE DATABASE ${DB}" >&2
  fi
}

T0="$(date +%s.%N)"

if is_ready; then
  log "server already answering on ${HOST}:${PORT}; reusing it"
  ensure_db
  echo "$URL" >&3
  exit 0
fi

# A stale record from an earlier run whose server is gone: clean it up.
if [[ -f "$STATE_FILE" ]]; then
  OLD="$(cat "$STATE_FILE")"
  if [[ -n "$OLD" && -f "$OLD/PG_VERSION" ]]; then
    log "removing stale data dir $OLD"
    as_pg "$BINDIR/pg_ctl" -D "$OLD" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    rm -rf -- "$OLD"
  fi
  rm -f -- "$STATE_FILE"
fi

DATADIR="$(mktemp -d /tmp/glashaus-pg-"${PORT}".XXXXXX)"
if [[ "$(id -u)" -eq 0 ]]; then
  getent passwd postgres >/dev/null || die "OS user 'postgres' does not exist"
  chown postgres: "$DATADIR"
fi
chmod 700 "$DATADIR"
echo "$DATADIR" > "$STATE_FILE"

log "initdb into $DATADIR ($BINDIR)"
as_pg "$BINDIR/initdb" -D "$DATADIR" --auth=trust -U "$PG_USER" \
  --encoding=UTF8 --no-locale --no-sync >&2 \
  || die "initdb failed"

log "starting server on ${HOST}:${PORT} (socket dir /tmp)"
# fsync etc. off: throwaway test database, speed matters more than durability.
if ! as_pg "$BINDIR/pg_ctl" -D "$DATADIR" -l "$DATADIR/server.log" -w -t 60 \
    -o "-p ${PORT} -c listen_addresses=${HOST} -k /tmp -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >&2; then
  log "pg_ctl start failed; server log follows"
  cat "$DATADIR/server.log" >&2 || true
  die "could not start PostgreSQL on port $PORT"
fi

for _ in $(seq 1 120); do
  is_ready && break
  sleep 0.25
done
is_ready || { cat "$DATADIR/server.log" >&2 || true; die "server did not become ready on ${HOST}:${PORT}"; }

ensure_db

T1="$(date +%s.%N)"
log "ready in $(awk -v a="$T0" -v b="$T1" 'BEGIN{printf "%.2f", b-a}') s"
echo "$URL" >&3
