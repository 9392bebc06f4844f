"""Melwave.vst3 in pedalboard (JUCE's VST3 host), headless.

Checks: it loads as an instrument, its parameters are visible and settable, and a
rendered MIDI phrase is non-silent with its spectral peaks at the played pitches.
Exit code 0 on success; every failure prints why.
"""
import sys

import numpy as np
import pedalboard
from mido import Message  # noqa: F401  (pedalboard accepts mido messages or raw tuples)

path = sys.argv[1]
plugin = pedalboard.load_plugin(path)
assert plugin.is_instrument, "Melwave.vst3 should load as an instrument"
# VST3 also exposes MIDI-CC proxy parameters; Melwave's own come first.
names = [n for n in plugin.parameters.keys() if not n.startswith("midi_ch_")]
print("parameters:", names)
for wanted in ("timbre_x", "timbre_y", "gain_db"):
    assert wanted in names, f"parameter {wanted} not visible in {names}"
plugin.timbre_x = 0.25
plugin.timbre_y = 0.75
assert abs(plugin.timbre_x - 0.25) < 1e-3 and abs(plugin.timbre_y - 0.75) < 1e-3, "parameters are settable"

rate = 48_000
notes = [57, 64]  # A3 and E4, a fifth apart: their fundamentals are easy to tell apart
midi = []
for n in notes:
    midi.append(([0x90, n, 100], 0.2))
    midi.append(([0x80, n, 0], 2.2))
audio = plugin(midi, duration=3.0, sample_rate=rate, num_channels=2)
mono = np.asarray(audio).mean(axis=0)
assert np.all(np.isfinite(mono)), "finite output"
rms = float(np.sqrt(np.mean(mono[int(0.4 * rate):int(2.0 * rate)] ** 2)))
print(f"rms while playing: {rms:.5f}")
assert rms > 1e-3, "non-silent while the notes sound"

seg = mono[int(0.5 * rate):int(2.0 * rate)]
spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
freqs = np.fft.rfftfreq(len(seg), 1.0 / rate)
for n in notes:
    f0 = 440.0 * 2 ** ((n - 69) / 12)
    band = (freqs > f0 * 2 ** (-0.5 / 12)) & (freqs < f0 * 2 ** (0.5 / 12))
    # The note's semitone band must hold a local spectral peak that stands above its
    # neighbouring semitones (a bare energy check would pass noise).
    peak = spec[band].max()
    lo = spec[(freqs > f0 * 2 ** (-1.5 / 12)) & (freqs < f0 * 2 ** (-0.5 / 12))].max()
    hi = spec[(freqs > f0 * 2 ** (0.5 / 12)) & (freqs < f0 * 2 ** (1.5 / 12))].max()
    print(f"note {n} ({f0:.1f} Hz): peak {peak:.3g}, neighbours {lo:.3g} / {hi:.3g}")
    assert peak > 2 * max(lo, hi), f"no spectral peak at {f0:.1f} Hz"
print("pedalboard: ok")
