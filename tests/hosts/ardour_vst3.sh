#!/usr/bin/env bash
# Ardour 7, headless: scan Melwave.vst3 with Ardour's own scanner, create a session
# with ardour7-lua against `jackd -d dummy`, put the plugin on a MIDI track, play
# chords and print the track's output meter (tests/tests/ardour_host.rs reads it).
# Usage: ardour_vst3.sh path/to/Melwave.vst3
set -euo pipefail
bundle=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
server="melwave-test-$$"
cleanup() {
	[[ -n "${jack_pid:-}" ]] && kill "$jack_pid" 2>/dev/null && wait "$jack_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# Ardour keeps its configuration, plugin cache and scripts under HOME and the XDG
# dirs; a temp home keeps the test away from the user's own.
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config" XDG_CACHE_HOME="$work/home/.cache" XDG_DATA_HOME="$work/home/.local/share"
mkdir -p "$HOME/.vst3" "$XDG_CONFIG_HOME/ardour7/scripts"
# Ardour treats a cache file older than the module as stale, and the scanner stores
# whole seconds: the copy keeps the bundle's (older) time.
cp -rp "$bundle" "$HOME/.vst3/"
cp "$here/ardour/melwave_test_notes.lua" "$XDG_CONFIG_HOME/ardour7/scripts/"

# The scanner is not on PATH and needs Ardour's private libraries.
LD_LIBRARY_PATH=/usr/lib/ardour7 timeout 120 /usr/lib/ardour7/ardour-vst3-scanner -q "$HOME/.vst3/$(basename "$bundle")"
echo "scanned: $(ls "$XDG_CACHE_HOME"/ardour7/vst/*.v3i)"

# Debian's Ardour has no dummy backend of its own; jackd has one.
export JACK_DEFAULT_SERVER="$server" JACK_NO_AUDIO_RESERVATION=1
jackd -n "$server" -d dummy -r 48000 -p 1024 >"$work/jackd.log" 2>&1 &
jack_pid=$!
for _ in $(seq 50); do
	grep -q "dummy" "$work/jackd.log" 2>/dev/null && break
	sleep 0.1
done
sleep 1
kill -0 "$jack_pid" || { cat "$work/jackd.log"; echo "jackd did not start"; exit 1; }

MELWAVE_SESSION_DIR="$work/session" timeout 300 ardour7-lua "$here/ardour/session.lua"
grep -c 'name="Melwave"' "$work/session/melwave.ardour" | sed 's/^/saved session processors named Melwave: /'
