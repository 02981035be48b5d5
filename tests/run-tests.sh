#!/usr/bin/env bash
# Fleet's test command: installs what the tests need (redis-server, prometheus, node_exporter, alertmanager, python3, chromium, npm; Redocly's CLI and Kiota in
# .tools/) when missing, starts a private
# Redis on a free loopback port (AOF on) for the cluster tests, builds once, runs every test project, and ends
# with one line "N passed, N failed" counted from the TRX results. Exits non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CONFIG=${FLEET_TEST_CONFIG:-Release}
RESULTS="$ROOT/TestResults"
WORK=$(mktemp -d /tmp/fleet-tests.XXXXXX)
rm -rf "$RESULTS" && mkdir -p "$RESULTS"

say() { printf '==> %s\n' "$*"; }

# --- packages the tests use, from Debian ---------------------------------------------------------------
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v prometheus   >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-node-exporter >/dev/null 2>&1 || missing+=(prometheus-node-exporter)  # intake: remote-write of real host figures
command -v prometheus-alertmanager  >/dev/null 2>&1 || missing+=(prometheus-alertmanager)   # intake: Alertmanager's webhook
command -v python3      >/dev/null 2>&1 || missing+=(python3)
command -v chromium     >/dev/null 2>&1 || missing+=(chromium)   # the web view's browser tests (Playwright drives it)
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
    || say "could not install ${missing[*]}; the tests that need them will fail and say why"
fi

# --- tools the API contract test uses: Redocly's linter (npm) and Kiota's client generator (a .NET tool), in .tools/ ---
command -v npm >/dev/null 2>&1 || {
  say "installing npm"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null 2>&1 || say "could not install npm"
}
if [ ! -x .tools/redocly/node_modules/.bin/redocly ] && command -v npm >/dev/null 2>&1; then
  say "installing @redocly/cli 2.77.0"
  npm install --prefix .tools/redocly --no-audit --no-fund --silent @redocly/cli@2.77.0 >/dev/null 2>&1 || say "could not install @redocly/cli"
fi
if [ ! -x .tools/kiota/kiota ]; then
  say "installing kiota 1.38.0"
  dotnet tool install microsoft.openapi.kiota --version 1.38.0 --tool-path .tools/kiota >/dev/null 2>&1 || say "could not install kiota"
fi

# --- a private Redis on a free loopback port -------------------------------------------------------------
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( (RANDOM % 20000) + 40000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  return 1
}
REDIS_PID_FILE="$WORK/redis.pid"
cleanup() {
  # Stop Redis and wait until its process is gone (it may still be writing its files) before removing its folder.
  if [ -f "$REDIS_PID_FILE" ]; then
    local pid
    pid=$(cat "$REDIS_PID_FILE")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$WORK" 2>/dev/null || { sleep 1; rm -rf "$WORK"; }
}
trap cleanup EXIT
if command -v redis-server >/dev/null 2>&1; then
  REDIS_PORT=$(free_port)
  mkdir -p "$WORK/redis"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --pidfile "$REDIS_PID_FILE" \
    --dir "$WORK/redis" --appendonly yes --save "" --logfile "$WORK/redis/redis.log" >/dev/null
  for _ in $(seq 1 50); do redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
  export FLEET_TEST_REDIS="127.0.0.1:$REDIS_PORT"
  say "private redis on $FLEET_TEST_REDIS (pid $(cat "$REDIS_PID_FILE" 2>/dev/null))"
fi

# --- build once, run each test project --------------------------------------------------------------------
say "building ($CONFIG)"
if ! dotnet build Fleet.sln -c "$CONFIG" -nologo -v quiet -clp:ErrorsOnly; then
  echo "the build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

projects=(tests/Fleet.Core.Tests tests/Fleet.Grains.Tests tests/Fleet.Silo.Tests)
[ -d tests/Fleet.Cluster.Tests ] && projects+=(tests/Fleet.Cluster.Tests)
[ -d tests/Fleet.Simulator.Tests ] && projects+=(tests/Fleet.Simulator.Tests)
[ -d tests/Fleet.Agent.Tests ] && projects+=(tests/Fleet.Agent.Tests)

crashed=0
for project in "${projects[@]}"; do
  name=$(basename "$project")
  say "testing $name"
  timeout 1200 dotnet test "$project" -c "$CONFIG" --no-build -nologo \
    --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=minimal" --results-directory "$RESULTS"
  if [ ! -f "$RESULTS/$name.trx" ]; then
    echo "$name produced no results (crashed or timed out)"
    crashed=$((crashed + 1))
  fi
done

passed=0; failed=$crashed
for trx in "$RESULTS"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters"); f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  t=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$counters"); e=$(sed -n 's/.* executed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0} + ${t:-0} - ${e:-0}))
done
[ "$passed" -eq 0 ] && [ "$failed" -eq 0 ] && failed=1   # no test ran is a failure
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
