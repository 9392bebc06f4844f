"""Melwave.vst3 in pedalboard (JUCE's VST3 host), headless.

Checks: the bundle holds Melwave and Melwave Audio; Melwave loads as an instrument,
its parameters are visible and settable, and a rendered MIDI phrase is non-silent
with its spectral peaks at the played pitches; Melwave Audio loads as an effect and
turns a sung-like sine melody into the instrument at the melody's pitches.
Exit code 0 on success; every failure prints why.
"""
import sys

import numpy as np
import pedalboard
from mido import Message  # noqa: F401  (pedalboard accepts mido messages or raw tuples)

path = sys.argv[1]
names_in_bundle = pedalboard.VST3Plugin.get_plugin_names_for_file(path)
print("plugins in the bundle:", names_in_bundle)
assert set(names_in_bundle) == {"Melwave", "Melwave Audio"}, names_in_bundle
plugin = pedalboard.load_plugin(path, plugin_name="Melwave")
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


def peak_at(seg, f0):
    spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    freqs = np.fft.rfftfreq(len(seg), 1.0 / rate)
    band = (freqs > f0 * 2 ** (-0.5 / 12)) & (freqs < f0 * 2 ** (0.5 / 12))
    lo = spec[(freqs > f0 * 2 ** (-1.5 / 12)) & (freqs < f0 * 2 ** (-0.5 / 12))].max()
    hi = spec[(freqs > f0 * 2 ** (0.5 / 12)) & (freqs < f0 * 2 ** (1.5 / 12))].max()
    return spec[band].max(), max(lo, hi)


# Melwave Audio: an effect whose input plays the instrument.
effect = pedalboard.load_plugin(path, plugin_name="Melwave Audio")
assert not effect.is_instrument, "Melwave Audio should load as an effect"
fx_names = [n for n in effect.parameters.keys() if not n.startswith("midi_ch_")]
print("Melwave Audio parameters:", fx_names)
assert "transpose_st" in fx_names and "loudness_follow" in fx_names, fx_names
melody = [57, 64, 60]  # A3, E4, C4: 0.6 s each, 0.2 s apart
t = np.arange(int(0.6 * rate)) / rate
sung = np.zeros(int(3.0 * rate), dtype=np.float32)
for i, n in enumerate(melody):
    f0 = 440.0 * 2 ** ((n - 69) / 12)
    start = int((0.2 + 0.8 * i) * rate)
    sung[start:start + len(t)] = 0.3 * np.sin(2 * np.pi * f0 * t) * np.minimum(1, np.minimum(t, t[::-1]) / 0.01)
out = np.asarray(effect(np.stack([sung, sung]), rate, buffer_size=128)).mean(axis=0)
assert np.all(np.isfinite(out)), "finite output"
print(f"Melwave Audio: latency {effect.reported_latency_samples if hasattr(effect, 'reported_latency_samples') else 'n/a'}")
for i, n in enumerate(melody):
    f0 = 440.0 * 2 ** ((n - 69) / 12)
    # pedalboard compensates the reported latency: the note sits where it was sung.
    start = int((0.2 + 0.8 * i + 0.15) * rate)
    peak, neighbours = peak_at(out[start:start + int(0.35 * rate)], f0)
    print(f"sung {n} ({f0:.1f} Hz): peak {peak:.3g}, neighbours {neighbours:.3g}")
    assert peak > 2 * neighbours, f"Melwave Audio: no peak at the sung {f0:.1f} Hz"
silent = np.asarray(effect(np.zeros((2, rate), dtype=np.float32), rate, buffer_size=128))
assert float(np.abs(silent).max()) < 1e-4, "silence in, silence out"
print("pedalboard: ok")
