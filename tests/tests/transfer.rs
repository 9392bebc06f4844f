//! Audio in, through `render::transfer` (what `melwave transfer` runs): a sine melody
//! comes out at its pitches and onsets on two instruments of the pad, and silence and
//! white noise come out as silence.

use melwave::contract::{ModelBytes, TimbrePlane};
use melwave::engine::EngineConfig;
use melwave::features::audio_in::AudioInSettings;
use melwave::render::transfer;
use pitch_detection::detector::mcleod::McLeodDetector;
use pitch_detection::detector::PitchDetector;

const RATE: u32 = 48_000;
/// The melody: A3 C4 E4 G4 C5 A4 D4, each 0.35 s, 0.15 s apart.
const MELODY: [u8; 7] = [57, 60, 64, 67, 72, 69, 62];
const NOTE: f64 = 0.35;
const STEP: f64 = 0.5;
const START: f64 = 0.2;

fn hz(key: f64) -> f64 {
    440.0 * 2f64.powf((key - 69.0) / 12.0)
}

fn melody() -> Vec<f32> {
    let mut audio = vec![0.0f32; ((START + STEP * MELODY.len() as f64 + 0.3) * RATE as f64) as usize];
    for (i, &k) in MELODY.iter().enumerate() {
        let start = ((START + STEP * i as f64) * RATE as f64) as usize;
        let n = (NOTE * RATE as f64) as usize;
        let fade = RATE as usize / 200;
        for j in 0..n {
            let env = (j.min(n - j) as f32 / fade as f32).min(1.0);
            audio[start + j] = 0.3 * env * (std::f64::consts::TAU * hz(k as f64) * j as f64 / RATE as f64).sin() as f32;
        }
    }
    audio
}

fn on(instrument: &str, input: &[f32]) -> Vec<f32> {
    let model = ModelBytes::embedded().unwrap();
    let i = model.manifest.instrument(instrument).unwrap();
    let pad = TimbrePlane::new(&model.manifest.instruments).to_pad(&i.point);
    transfer(&model, &EngineConfig::offline(RATE, 512), pad, input, AudioInSettings::default(), 0.5, 512).unwrap().0.audio
}

/// The 5 ms RMS envelope.
fn envelope(x: &[f32]) -> Vec<f32> {
    x.chunks(RATE as usize / 200).map(melwave_tests::rms).collect()
}

#[test]
fn a_sine_melody_comes_out_at_its_pitches_and_onsets_on_two_instruments() {
    let input = melody();
    for instrument in ["Church Organ", "Trumpet"] {
        let out = on(instrument, &input);
        let env = envelope(&out);
        let mut detector = McLeodDetector::<f32>::new(4096, 2048);
        let mut found = Vec::new();
        for (i, &k) in MELODY.iter().enumerate() {
            let t = START + STEP * i as f64;
            // The onset: the rising edge out of the quietest point between the notes,
            // where the level first climbs a tenth of the way from there to the note's
            // peak (the previous note's release may still ring; an organ swells).
            let (from, to) = (((t - 0.1) * 200.0) as usize, ((t + NOTE) * 200.0) as usize);
            let low = (from..((t + 0.03) * 200.0) as usize).min_by(|&a, &b| env[a].total_cmp(&env[b])).unwrap();
            let peak = env[low..to].iter().fold(0.0f32, |m, &v| m.max(v));
            let first = env[low..to].iter().position(|&v| v >= env[low] + (peak - env[low]) / 10.0).unwrap() + low;
            let off = first as f64 / 200.0 - t;
            // The pitch, over 85 ms in the note's middle.
            let mid = ((t + 0.15) * RATE as f64) as usize;
            let p = detector.get_pitch(&out[mid..mid + 4096], RATE as usize, 1e-6, 0.6).unwrap_or_else(|| panic!("{instrument}: note {i} has a pitch"));
            let cents = 1200.0 * (p.frequency as f64 / hz(k as f64)).log2();
            eprintln!("{instrument}: key {k} onset {:+.1} ms, pitch {cents:+.1} cents", off * 1e3);
            found.push((k, off, cents));
        }
        for (k, off, cents) in found {
            assert!(cents.abs() <= 20.0, "{instrument}: key {k} came out {cents:+.1} cents off");
            assert!(off.abs() <= 0.03, "{instrument}: key {k} starts {:+.1} ms from the input's onset", off * 1e3);
        }
    }
}

#[test]
fn silence_and_white_noise_come_out_as_silence() {
    let mut seed = 7u64;
    let noise: Vec<f32> = (0..RATE as usize * 2)
        .map(|_| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            ((seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.8
        })
        .collect();
    for (name, input) in [("silence", vec![0.0f32; RATE as usize * 2]), ("white noise", noise)] {
        let out = on("Trumpet", &input);
        let peak = out.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert_eq!(peak, 0.0, "{name} played something (peak {peak})");
    }
}
