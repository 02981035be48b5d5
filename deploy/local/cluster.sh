#!/usr/bin/env bash
# A local Fleet cluster on loopback: one private Redis and N silos on deterministic ports.
#
#   deploy/local/cluster.sh start [N] [--tls]   build, start Redis (AOF on) and N silos (default 3), wait until healthy;
#                                       --tls: mutual TLS on both Orleans ports, with a small PKI made in $DIR/pki
#   deploy/local/cluster.sh status      each process: pid, alive, /health
#   deploy/local/cluster.sh kill I      SIGKILL silo I (by its pid)
#   deploy/local/cluster.sh restart I   start silo I again on its ports
#   deploy/local/cluster.sh stop        SIGTERM every silo, then Redis; wait for each pid to exit
#
# Ports: Redis $BASE_REDIS (6400); silo I: HTTP 5100+I, silo 11200+I, gateway 30100+I. State and logs in $FLEET_LOCAL_DIR
# (default .local-cluster under the repository, which git ignores).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${FLEET_LOCAL_DIR:-$ROOT/.local-cluster}
BASE_REDIS=${BASE_REDIS:-6400}
SILO_DLL="$ROOT/silo/Fleet.Silo/bin/Release/net10.0/Fleet.Silo.dll"
mkdir -p "$DIR"

http_port() { echo $((5100 + $1)); }
silo_port() { echo $((11200 + $1)); }
gw_port()   { echo $((30100 + $1)); }
alive()     { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

ensure_redis_binary() {
  command -v redis-server >/dev/null 2>&1 && return
  echo "installing redis-server (Debian package)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
}

start_redis() {
  if alive "$DIR/redis.pid"; then return; fi
  mkdir -p "$DIR/redis"
  redis-server --port "$BASE_REDIS" --bind 127.0.0.1 --daemonize yes --pidfile "$DIR/redis.pid" \
    --dir "$DIR/redis" --appendonly yes --appendfsync everysec --save "" --logfile "$DIR/redis.log"
  for _ in $(seq 1 50); do redis-cli -p "$BASE_REDIS" ping 2>/dev/null | grep -q PONG && return; sleep 0.1; done
  echo "redis did not start; see $DIR/redis.log" >&2; exit 1
}

# One admin key for every silo of the cluster (docs/security.md), made once, kept owner-only in $DIR/admin.key.
ensure_admin_key() {
  [ -s "$DIR/admin.key" ] && return
  (umask 077; echo "fk_$(openssl rand -hex 6)_$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n')" >"$DIR/admin.key")
}

# One cluster secret for every silo (it stamps the silos' own calls and signs agents' actions), owner-only in $DIR/cluster.secret.
ensure_cluster_secret() {
  [ -s "$DIR/cluster.secret" ] && return
  (umask 077; openssl rand -base64 32 >"$DIR/cluster.secret")
}

# A small PKI for --tls (openssl): a CA for the silos and one for clients, a silo certificate (both ports, and silo to
# silo) and a client certificate for the CLI and agents. Made once; docs/security.md says how to rotate.
ensure_pki() {
  [ -s "$DIR/pki/client.crt" ] && return
  mkdir -p "$DIR/pki"
  (
    umask 077; cd "$DIR/pki"
    for ca in silo client; do
      openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$ca-ca.key" 2>/dev/null
      openssl req -x509 -new -key "$ca-ca.key" -subj "/CN=Fleet $ca CA" -days 825 -out "$ca-ca.crt" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    done
    issue() { # name, ca, extended key usage
      openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null
      openssl req -new -key "$1.key" -subj "/CN=fleet-$1" -out "$1.csr" 2>/dev/null
      printf 'subjectAltName=DNS:fleet,IP:127.0.0.1\nextendedKeyUsage=%s\n' "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA "$2-ca.crt" -CAkey "$2-ca.key" -CAcreateserial -days 397 -out "$1.crt" -extfile "$1.ext" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    issue silo silo serverAuth,clientAuth
    issue client client clientAuth
  )
}

tls_env() {
  [ -f "$DIR/tls" ] || return 0
  echo "Fleet__Tls__Certificate=$DIR/pki/silo.crt Fleet__Tls__Key=$DIR/pki/silo.key Fleet__Tls__SiloCa=$DIR/pki/silo-ca.crt Fleet__Tls__ClientCa=$DIR/pki/client-ca.crt"
}

start_silo() {
  local i=$1
  if alive "$DIR/silo$i.pid"; then echo "silo $i already runs (pid $(cat "$DIR/silo$i.pid"))"; return; fi
  ensure_admin_key
  ensure_cluster_secret
  env $(tls_env) Fleet__Auth__AdminKey="$(cat "$DIR/admin.key")" Fleet__Auth__ClusterSecretFile="$DIR/cluster.secret" nohup dotnet "$SILO_DLL" --urls "http://127.0.0.1:$(http_port "$i")" \
    --Fleet:Clustering=Redis --Fleet:Storage=Redis --Fleet:Audit=Redis --Fleet:Reminders=Redis \
    --Fleet:Redis="127.0.0.1:$BASE_REDIS" --Fleet:SiloPort="$(silo_port "$i")" --Fleet:GatewayPort="$(gw_port "$i")" \
    --Fleet:DataDir="$DIR/silo$i" >"$DIR/silo$i.log" 2>&1 &
  echo $! >"$DIR/silo$i.pid"
}

wait_healthy() {
  local i=$1
  for _ in $(seq 1 120); do
    curl -sf -o /dev/null "http://127.0.0.1:$(http_port "$i")/health" && { echo "silo $i healthy on http://127.0.0.1:$(http_port "$i") (pid $(cat "$DIR/silo$i.pid"))"; return; }
    alive "$DIR/silo$i.pid" || { echo "silo $i exited; see $DIR/silo$i.log" >&2; return 1; }
    sleep 0.5
  done
  echo "silo $i did not become healthy; see $DIR/silo$i.log" >&2; return 1
}

count() { cat "$DIR/count" 2>/dev/null || echo 3; }

case "${1:-}" in
  start)
    shift
    n=3; tls=0
    for a in "$@"; do case "$a" in --tls) tls=1 ;; *) n=$a ;; esac; done
    [[ "$n" =~ ^[1-9][0-9]?$ ]] || { echo "N must be 1 to 99" >&2; exit 2; }
    echo "$n" >"$DIR/count"
    if [ "$tls" = 1 ]; then ensure_pki; touch "$DIR/tls"; else rm -f "$DIR/tls"; fi
    ensure_redis_binary
    echo "building the silo (Release)"
    dotnet build "$ROOT/silo/Fleet.Silo" -c Release -nologo -v quiet -clp:ErrorsOnly
    start_redis
    for i in $(seq 0 $((n - 1))); do start_silo "$i"; done
    for i in $(seq 0 $((n - 1))); do wait_healthy "$i"; done
    tls_cli=""
    [ -f "$DIR/tls" ] && tls_cli="FLEET_TLS_CA=$DIR/pki/silo-ca.crt FLEET_TLS_CERT=$DIR/pki/client.crt FLEET_TLS_KEY=$DIR/pki/client.key "
    echo "CLI: ${tls_cli}FLEET_KEY_FILE=$DIR/admin.key dotnet src/Fleet.Cli/bin/Release/net10.0/fleet.dll --redis 127.0.0.1:$BASE_REDIS nodes list"
    ;;
  status)
    if alive "$DIR/redis.pid"; then echo "redis  pid $(cat "$DIR/redis.pid")  up    127.0.0.1:$BASE_REDIS"; else echo "redis  down"; fi
    for i in $(seq 0 $(($(count) - 1))); do
      if alive "$DIR/silo$i.pid"; then
        h=$(curl -s -m 3 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(http_port "$i")/health" || true)
        echo "silo $i pid $(cat "$DIR/silo$i.pid")  up    http $(http_port "$i") silo $(silo_port "$i") gateway $(gw_port "$i")  /health $h"
      else
        echo "silo $i down"
      fi
    done
    ;;
  kill)
    i=${2:?which silo}
    alive "$DIR/silo$i.pid" || { echo "silo $i is not running" >&2; exit 1; }
    pid=$(cat "$DIR/silo$i.pid"); kill -KILL "$pid"; echo "sent SIGKILL to silo $i (pid $pid)"
    ;;
  restart)
    i=${2:?which silo}
    start_silo "$i"; wait_healthy "$i"
    ;;
  stop)
    for f in "$DIR"/silo*.pid; do [ -f "$f" ] && alive "$f" && kill -TERM "$(cat "$f")"; done
    for f in "$DIR"/silo*.pid; do
      [ -f "$f" ] || continue
      for _ in $(seq 1 60); do alive "$f" || break; sleep 0.5; done
      alive "$f" && kill -KILL "$(cat "$f")"
      rm -f "$f"
    done
    if alive "$DIR/redis.pid"; then
      pid=$(cat "$DIR/redis.pid"); kill -TERM "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$DIR/redis.pid"
    echo "stopped"
    ;;
  *)
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
