#!/usr/bin/env bash
# Puts `fleet` on the PATH: builds the CLI (Release) and writes a small launcher named fleet into the first folder of
#   $FLEET_BIN_DIR, /usr/local/bin (when writable), ~/.local/bin
# that runs the built fleet.dll with the installed dotnet. deploy/run.sh calls it; run it again after moving the checkout.
# FLEET_SKIP_BUILD=1 uses the CLI already built.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DLL="$ROOT/src/Fleet.Cli/bin/Release/net10.0/fleet.dll"
if [ "${FLEET_SKIP_BUILD:-0}" != 1 ] || [ ! -f "$DLL" ]; then
  dotnet build "$ROOT/src/Fleet.Cli" -c Release -nologo -v quiet -clp:ErrorsOnly >&2
fi
DOTNET=$(command -v dotnet)
for dir in ${FLEET_BIN_DIR:-} /usr/local/bin "$HOME/.local/bin"; do
  [ -n "$dir" ] || continue
  mkdir -p "$dir" 2>/dev/null || continue
  [ -w "$dir" ] || continue
  printf '#!/bin/sh\n# Fleet CLI launcher, written by %s\nexec "%s" "%s" "$@"\n' "$ROOT/deploy/install-cli.sh" "$DOTNET" "$DLL" >"$dir/fleet"
  chmod 755 "$dir/fleet"
  echo "fleet CLI: $dir/fleet" >&2
  case ":$PATH:" in
    *":$dir:"*) ;;
    *) echo "note: $dir is not on your PATH; add it:  export PATH=\"$dir:\$PATH\"" >&2 ;;
  esac
  exit 0
done
echo "could not write a launcher into /usr/local/bin or ~/.local/bin; run the CLI as: dotnet $DLL" >&2
exit 1
