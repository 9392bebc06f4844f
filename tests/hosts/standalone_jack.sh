#!/usr/bin/env bash
# The standalone app played through a real MIDI connection: a JACK server on its dummy
# driver (the sound card), `jack_midiseq` as the MIDI keyboard (a loop of four notes on
# a JACK MIDI port), the app on the JACK backend with its MIDI input connected to it,
# and `jack_rec` recording the app's audio output from the JACK graph. The editor
# opens too, under Xvfb.
# usage: standalone_jack.sh MELWAVE_STANDALONE_BINARY OUT.wav SECONDS
set -euo pipefail
bin=$1
out=$2
seconds=$3
work=$(mktemp -d)
server="melwave-app-$$"
display=:$((100 + RANDOM % 50))
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 0.5
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
export JACK_DEFAULT_SERVER="$server" JACK_NO_AUDIO_RESERVATION=1 JACK_NO_START_SERVER=1

Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
pids+=($!)
export DISPLAY=$display LIBGL_ALWAYS_SOFTWARE=1

jackd -n "$server" -d dummy -r 48000 -p 256 >"$work/jackd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do jack_lsp >/dev/null 2>&1 && break; sleep 0.1; done
jack_lsp >/dev/null 2>&1 || { cat "$work/jackd.log"; echo "jackd did not start"; exit 1; }

# The keyboard: a 2-second loop of A3, E4, A4 and C5, each held 0.4 s.
jack_midiseq keyboard 96000 0 57 19200 24000 64 19200 48000 69 19200 72000 72 19200 >"$work/midiseq.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do jack_lsp | grep -q '^keyboard:out' && break; sleep 0.1; done
jack_lsp | grep -q '^keyboard:out' || { cat "$work/midiseq.log"; echo "jack_midiseq did not start"; exit 1; }

NICE_LOG=stderr "$bin" standalone -- --backend jack --connect-jack-midi-input keyboard:out >"$work/app.log" 2>&1 &
app=$!
pids+=($app)
port=
for _ in $(seq 200); do
    port=$(jack_lsp | grep -i '^melwave.*out' | head -n1 || true)
    [ -n "$port" ] && break
    kill -0 "$app" 2>/dev/null || { cat "$work/app.log"; echo "the app exited"; exit 1; }
    sleep 0.1
done
[ -n "$port" ] || { jack_lsp; cat "$work/app.log"; echo "the app's output port did not appear"; exit 1; }
echo "ports:"; jack_lsp -c
# Let the model load and the latency settle, then record.
sleep 2
jack_rec -f "$out" -d "$seconds" "$port" >"$work/rec.log" 2>&1 || { cat "$work/rec.log"; echo "jack_rec failed"; exit 1; }
kill -0 "$app" 2>/dev/null || { cat "$work/app.log"; echo "the app died while playing"; exit 1; }
echo "recorded $out from $port"
grep -i "latency\|playing" "$work/app.log" | head -n 3 || true
