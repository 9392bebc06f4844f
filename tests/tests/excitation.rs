//! The harmonic excitation: partials up to Nyquist and nothing above, smooth bends,
//! continuous phase, the release rule, and one definition for engine and training.

use melwave::contract::{HOP, KEYS, ROLL_DIM, SAMPLE_RATE, SOURCE_CHANNELS};
use melwave::features::excitation::{key_frequency, CHANNELS, RELEASE_DECAY_SECONDS, RELEASE_FADE_SECONDS, RELEASE_SECONDS, SINE_AMPLITUDE};
use melwave::features::{featurize, Event, Excitation, Featurizer, NoteExpression, TimedEvent};
use melwave_tests::spectrum;

const SR: f64 = SAMPLE_RATE as f64;

fn at(time: u64, event: Event) -> TimedEvent {
    TimedEvent { time, event }
}

fn channel(source: &[f32], name: &str, frames: usize) -> Vec<f32> {
    let c = CHANNELS.iter().position(|c| *c == name).expect("known channel");
    source[c * frames * HOP..(c + 1) * frames * HOP].to_vec()
}

fn db(x: f32) -> f32 {
    20.0 * x.max(1e-12).log10()
}

#[test]
fn sawtooth_carries_every_partial_below_nyquist_and_nothing_else() {
    // 220 Hz: 24 000 / 220 is not whole, so any alias would fall between partials.
    let frames = 2 * 8192 / HOP;
    let (_, source) = featurize(&[at(0, Event::NoteOn { key: 57, velocity: 100 })], frames + 64, 0);
    let saw = channel(&source, "sawtooth", frames + 64);
    let s = spectrum(&saw[64 * HOP..64 * HOP + 16384]);
    let bin = |f: f64| f * 16384.0 / SR;
    let f0 = key_frequency(57, 0.0);
    let peak_near = |f: f64| {
        let b = bin(f).round() as usize;
        s[b.saturating_sub(3)..(b + 4).min(s.len())].iter().copied().fold(0.0, f32::max)
    };
    let fundamental = peak_near(f0);
    let top = (SR / 2.0 / f0).floor() as usize;
    assert_eq!(top, 54);
    for h in 1..=top {
        let level = db(peak_near(h as f64 * f0)) - db(fundamental);
        let ideal = db(1.0 / h as f32);
        // The integrator's 1/(2·sin(ω/2)) runs up to 4 dB above 1/h near Nyquist.
        assert!(level > ideal - 1.5 && level < ideal + 4.5, "partial {h}: {level:.1} dB, ideal {ideal:.1} dB");
    }
    // Between and above the partials (outside the window's main lobes) nothing
    // comes within 70 dB of the fundamental: no aliasing, no noise.
    let mut worst = f32::MIN;
    for (b, &v) in s.iter().enumerate().skip(8) {
        let f = b as f64 * SR / 16384.0;
        let nearest = (f / f0).round() * f0;
        if (bin(f) - bin(nearest)).abs() > 6.0 {
            worst = worst.max(db(v) - db(fundamental));
        }
    }
    assert!(worst < -70.0, "largest component off the partials: {worst:.1} dB");
}

#[test]
fn sine_channel_is_the_bare_fundamental_and_phase_is_continuous() {
    let frames = 40;
    let (_, source) = featurize(&[at(0, Event::NoteOn { key: 60, velocity: 100 })], frames, 0);
    let sine = channel(&source, "sine", frames);
    let step = std::f64::consts::TAU * key_frequency(60, 0.0) / SR;
    // Against the ideal continuous sine from phase 0: any reset or jump at a frame
    // boundary would show here.
    let worst = sine.iter().enumerate().map(|(i, &v)| (v as f64 - SINE_AMPLITUDE as f64 * (step * i as f64).sin()).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-5, "largest deviation from a continuous sine: {worst}");
    let s = spectrum(&sine[..4096]);
    let f0_bin = (key_frequency(60, 0.0) * 4096.0 / SR).round() as usize;
    let second = s[2 * f0_bin - 3..2 * f0_bin + 4].iter().copied().fold(0.0, f32::max);
    assert!(db(second) - db(s[f0_bin]) < -90.0, "no overtone on the sine channel");
}

/// Instantaneous angular frequency of a sine from three samples.
fn omega(x: &[f32], n: usize) -> f64 {
    let c = (x[n + 1] as f64 + x[n - 1] as f64) / (2.0 * x[n] as f64);
    c.clamp(-1.0, 1.0).acos()
}

/// A bend, or a note's own tuning (per-note expression), sweeps within the frame.
#[test]
fn a_bend_sweeps_within_the_frame_with_no_staircase() {
    for own_tuning in [false, true] {
        let mut ex = Excitation::new(0);
        let mut flags = [0.0f32; KEYS];
        flags[69] = 1.0;
        let mut expression = [NoteExpression::NEUTRAL; KEYS];
        let mut out = vec![0.0; SOURCE_CHANNELS * HOP];
        let mut sine = Vec::new();
        for f in 0..6 {
            // Bend 0 for 3 frames, then a two-semitone jump at the end of frame 3.
            let bend = if f >= 3 { 2.0 } else { 0.0 };
            let global = if own_tuning {
                expression[69].tuning = bend;
                0.0
            } else {
                bend
            };
            ex.render_frame(&flags, global, &expression, &mut out);
            sine.extend_from_slice(&out[..HOP]);
        }
        let at_rest = std::f64::consts::TAU * key_frequency(69, 0.0) / SR;
        let bent = std::f64::consts::TAU * key_frequency(69, 2.0) / SR;
        // Estimates where the sine is far from a zero crossing, per quarter of frame 3.
        let estimate = |from: usize, to: usize| -> f64 {
            let v: Vec<f64> = (from..to).filter(|&n| sine[n].abs() > 0.05).map(|n| omega(&sine, n)).collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        let f3 = 3 * HOP;
        let quarters: Vec<f64> = (0..4).map(|q| estimate(f3 + q * HOP / 4, f3 + (q + 1) * HOP / 4)).collect();
        assert!((estimate(HOP, 2 * HOP) - at_rest).abs() < 1e-3 * at_rest);
        assert!((estimate(4 * HOP + 1, 5 * HOP) - bent).abs() < 1e-3 * bent, "own tuning {own_tuning}");
        for w in quarters.windows(2) {
            assert!(w[1] > w[0], "frequency rises through the frame (own tuning {own_tuning}): {quarters:?}");
        }
        assert!(quarters[0] < at_rest + 0.4 * (bent - at_rest) && quarters[3] > at_rest + 0.6 * (bent - at_rest), "{quarters:?}");
    }
}

#[test]
fn a_released_key_decays_for_the_release_time_then_fades_to_exact_zero() {
    let h = HOP as u64;
    let frames = ((RELEASE_SECONDS + RELEASE_FADE_SECONDS) as f64 * SR / HOP as f64) as usize + 40;
    let (_, source) = featurize(&[at(0, Event::NoteOn { key: 48, velocity: 100 }), at(10 * h, Event::NoteOff { key: 48 })], frames, 0);
    let (sine, saw) = (channel(&source, "sine", frames), channel(&source, "sawtooth", frames));
    let release_end = 11 * HOP + (RELEASE_SECONDS as f64 * SR) as usize;
    let peak = |x: &[f32]| x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    // The frame after the note-off starts the release: the voice decays with time
    // constant RELEASE_DECAY_SECONDS, and the level channel follows it squared.
    let level = channel(&source, "level", frames);
    let held = level[5 * HOP];
    let start = 11 * HOP;
    for t in [0.1f64, 0.25, 1.0] {
        let at = start + (t * SR) as usize;
        let want = (-t / RELEASE_DECAY_SECONDS as f64).exp();
        let got = peak(&sine[at..at + 200]) as f64 / SINE_AMPLITUDE as f64;
        assert!((got / want - 1.0).abs() < 0.05, "{t} s into the release: amplitude {got:.4}, expected {want:.4}");
        let lv = level[at] as f64 / held as f64;
        assert!((lv / (want * want) - 1.0).abs() < 0.05, "{t} s into the release: level {lv:.4}, expected {:.4}", want * want);
    }
    assert!(peak(&sine[release_end - 4000..release_end - 2000]) > 0.0, "still running until the fade");
    let fade_end = release_end + (RELEASE_FADE_SECONDS as f64 * SR) as usize;
    assert!(peak(&sine[fade_end..]) == 0.0 && peak(&saw[fade_end..]) == 0.0, "exact zero after the fade");
    // The fade is gradual: no step larger than the sine's own slope allows.
    let step = std::f64::consts::TAU * key_frequency(48, 0.0) / SR;
    let max_slope = (SINE_AMPLITUDE as f64 * step * 1.5) as f32;
    let jump = sine[release_end - 10..fade_end + 10].windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0, f32::max);
    assert!(jump < max_slope, "largest step in the fade {jump} vs slope {max_slope}");
}

#[test]
fn a_key_struck_again_during_its_release_keeps_its_phase() {
    let h = HOP as u64;
    let frames = 60;
    let events = [at(0, Event::NoteOn { key: 60, velocity: 100 }), at(10 * h, Event::NoteOff { key: 60 }), at(30 * h + 17, Event::NoteOn { key: 60, velocity: 80 })];
    let (_, source) = featurize(&events, frames, 0);
    let sine = channel(&source, "sine", frames);
    let step = std::f64::consts::TAU * key_frequency(60, 0.0) / SR;
    // Held, and again once re-struck, the voice is the one sine that started at 0: the
    // phase ran on through the (decaying) release.
    let held = (0..10 * HOP).chain(32 * HOP..frames * HOP);
    let worst = held.map(|i| (sine[i] as f64 - SINE_AMPLITUDE as f64 * (step * i as f64).sin()).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-5, "one continuous sine through release and re-strike: {worst}");
    // In the release the sine decays but keeps the same zero crossings.
    let release = 12 * HOP..29 * HOP;
    assert!(release.clone().all(|i| (sine[i] as f64 * (step * i as f64).sin()) >= -1e-9), "release in phase");
}

#[test]
fn choke_and_all_sound_off_stop_the_voice_with_no_tail() {
    let h = HOP as u64;
    for cut in [Event::Choke { key: 60 }, Event::AllSoundOff] {
        let events = [at(0, Event::Sustain(true)), at(0, Event::NoteOn { key: 60, velocity: 100 }), at(5 * h + 3, cut)];
        let (roll, source) = featurize(&events, 20, 0);
        let sine = channel(&source, "sine", 20);
        assert!(roll[5 * ROLL_DIM + KEYS + 60] > 0.5, "{cut:?}: the key sounded in the frame it was cut in");
        assert!(roll[6 * ROLL_DIM + KEYS + 60] < 0.5, "{cut:?}: and not after, pedal or not");
        assert!(sine[6 * HOP..].iter().all(|&v| v == 0.0), "{cut:?}: no release tail");
    }
}

#[test]
fn the_engine_featurizer_and_training_featurize_give_identical_excitation() {
    let h = HOP as u64;
    let events = [
        at(5, Event::NoteOn { key: 40, velocity: 70 }),
        at(3 * h + 9, Event::PitchBend(1.3)),
        at(4 * h, Event::NoteOn { key: 67, velocity: 110 }),
        at(9 * h + 100, Event::NoteOff { key: 40 }),
        at(12 * h, Event::PitchBend(-0.5)),
        at(14 * h + 1, Event::NoteOff { key: 67 }),
    ];
    let frames = 30;
    let (roll, source) = featurize(&events, frames, 9);
    // The engine's way: apply the frame's events, close the frame, copy it out.
    let mut f = Featurizer::new(9);
    let mut next = 0;
    for frame in 0..frames {
        while next < events.len() && events[next].time < ((frame + 1) * HOP) as u64 {
            f.apply(&events[next].event);
            next += 1;
        }
        let feats = f.end_frame();
        assert_eq!(feats.roll, &roll[frame * ROLL_DIM..(frame + 1) * ROLL_DIM], "roll of frame {frame}");
        for c in 0..SOURCE_CHANNELS {
            let whole = &source[c * frames * HOP + frame * HOP..c * frames * HOP + (frame + 1) * HOP];
            assert_eq!(&feats.source[c * HOP..(c + 1) * HOP], whole, "channel {} of frame {frame}", CHANNELS[c]);
        }
    }
}

#[test]
fn keys_bent_past_nyquist_add_nothing_and_stay_finite() {
    let (_, source) = featurize(&[at(0, Event::PitchBend(24.0)), at(0, Event::NoteOn { key: 127, velocity: 127 })], 10, 0);
    let sine = channel(&source, "sine", 10);
    let saw = channel(&source, "sawtooth", 10);
    assert!(sine.iter().chain(&saw).all(|v| *v == 0.0));
    assert!(source.iter().all(|v| v.is_finite()));
}

#[test]
fn level_channel_is_the_sawtooths_mean_square_and_steady() {
    // Alone and as a chord, the level channel matches the sawtooth's measured mean
    // square over many periods, and it does not swing from frame to frame as a
    // frame's own measurement of a low note's sawtooth does.
    let frames = 256;
    let ms = |x: &[f32]| x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len() as f64;
    // (No octave in the chord: an octave's partials coincide exactly and add in phase,
    // which a sum of mean squares does not count; equal-tempered fifths and thirds
    // only beat, which averages out.)
    for keys in [vec![33u8], vec![57], vec![81], vec![45, 52, 60]] {
        let events: Vec<TimedEvent> = keys.iter().map(|&k| at(0, Event::NoteOn { key: k, velocity: 100 })).collect();
        let (_, source) = featurize(&events, frames, 0);
        let saw = channel(&source, "sawtooth", frames);
        let level = channel(&source, "level", frames);
        let (measured, stated) = (ms(&saw[32 * HOP..]), level[32 * HOP..].iter().map(|&v| v as f64).sum::<f64>() / (level.len() - 32 * HOP) as f64);
        let ratio = measured / stated;
        // The integrator lifts partials near Nyquist a little above 1/h.
        assert!((0.9..1.2).contains(&ratio), "keys {keys:?}: measured {measured:.3e}, level {stated:.3e}");
        let per_frame: Vec<f64> = (32..frames).map(|f| level[f * HOP..(f + 1) * HOP].iter().map(|&v| v as f64).sum::<f64>() / HOP as f64).collect();
        let (lo, hi) = per_frame.iter().fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        assert!(hi / lo < 1.001, "keys {keys:?}: the level is steady while the notes hold ({lo:.3e}..{hi:.3e})");
    }
    // The reason: one frame's own measure of a 55 Hz sawtooth swings by several dB.
    let (_, source) = featurize(&[at(0, Event::NoteOn { key: 33, velocity: 100 })], frames, 0);
    let saw = channel(&source, "sawtooth", frames);
    let per_frame: Vec<f64> = (32..frames).map(|f| ms(&saw[f * HOP..(f + 1) * HOP])).collect();
    let (lo, hi) = per_frame.iter().fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    assert!(10.0 * (hi / lo).log10() > 3.0, "a frame's measure of a low sawtooth swings: {lo:.3e}..{hi:.3e}");
}
