#!/usr/bin/env bash
# Fleet's main job: one embedded silo (localhost clustering, state and audit in ./data) with the demo fleet
# (24 simulated nodes, a fault every few minutes) reporting to it. Nothing to install by hand.
# Without the demo: deploy/run.sh --Fleet:Demo=false
# Any argument goes to the silo, e.g.  deploy/run.sh --urls http://127.0.0.1:8080 --Fleet:DataDir=/var/lib/fleet
set -euo pipefail
cd "$(dirname "$0")/.."
# `fleet` on the PATH (a launcher in /usr/local/bin or ~/.local/bin), so the README's fleet lines work in any shell.
deploy/install-cli.sh || echo "the fleet CLI launcher was not installed; use: dotnet src/Fleet.Cli/bin/Release/net10.0/fleet.dll" >&2
exec dotnet run --project silo/Fleet.Silo -c Release -- --Fleet:Demo=true "$@"
