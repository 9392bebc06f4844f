#!/usr/bin/env bash
# The editor in the standalone app under Xvfb: take a screenshot, then drag the XY pad
# with xdotool and check that the plugin's timbre parameters moved.
# usage: editor_gui.sh MELWAVE_STANDALONE_BINARY OUT.png
set -euo pipefail
bin=$1
out=$2
work=$(mktemp -d)
display=:$((90 + RANDOM % 9))
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
xvfb=$!
app=
cleanup() {
    [ -n "$app" ] && kill -TERM "$app" 2>/dev/null || true
    kill "$xvfb" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
export DISPLAY=$display
# Mesa's software GL: there is no GPU.
export LIBGL_ALWAYS_SOFTWARE=1
for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done
NICE_LOG=stderr "$bin" standalone -- --backend dummy >"$work/app.log" 2>&1 &
app=$!
wid=
for _ in $(seq 100); do
    wid=$(xdotool search --name '^Melwave$' 2>/dev/null | head -n1 || true)
    [ -n "$wid" ] && break
    if ! kill -0 "$app" 2>/dev/null; then echo "the app exited:"; cat "$work/app.log"; exit 1; fi
    sleep 0.2
done
[ -n "$wid" ] || { echo "no Melwave window appeared"; cat "$work/app.log"; exit 1; }
sleep 3
# A chord on the computer keyboard (A D G: C4 E4 G4), held for the photograph: the
# on-screen keys light and the meter moves.
xdotool windowfocus "$wid" 2>/dev/null || true
xdotool mousemove --window "$wid" 600 120
xdotool keydown a keydown d keydown g
sleep 1.5
import -window "$wid" "$out"
xdotool keyup a keyup d keyup g
echo "screenshot: $out"
sleep 0.5
if grep -q "editor plays key 64" "$work/app.log"; then
    echo "computer keyboard: ok"
else
    echo "the computer keyboard did not play:"; cat "$work/app.log"; exit 1
fi
# The pad fills the left of the window below the heading: drag inside it.
xdotool mousemove --window "$wid" 120 330 mousedown 1
for step in 1 2 3 4 5 6 7 8; do
    xdotool mousemove --window "$wid" $((120 + step * 20)) $((330 - step * 25))
    sleep 0.05
done
xdotool mouseup 1
sleep 1
if grep -q "timbre moved to" "$work/app.log"; then
    grep "timbre moved to" "$work/app.log" | tail -n1
    echo "editor drag: ok"
else
    echo "the drag did not reach the parameters:"; cat "$work/app.log"; exit 1
fi
