//! Per-note expression with the shipped model: MPE (a channel per note), polyphonic
//! aftertouch and the events CLAP note expressions become each reach their own note.
//! Two notes are held; one is bent, pressed or darkened, and the output's spectrum
//! shows that note's partials changed and the other's in place.

use melwave::contract::{ModelBytes, TimbrePlane};
use melwave::engine::EngineConfig;
use melwave::features::{Event, Expression, MidiDecoder, TimedEvent};
use melwave::render::render;
use melwave_tests::spectrum;

const RATE: u32 = 24_000;
/// The two held notes: C4 and the F#4 a tritone above, so no partial of one lies near
/// a partial of the other among the first few.
const LOW: u8 = 60;
const HIGH: u8 = 66;
/// The expression changes here, and the notes are compared before and after.
const CHANGE: f64 = 1.0;

fn at(seconds: f64) -> u64 {
    (seconds * RATE as f64) as u64
}

/// Raw MIDI messages at times in seconds, through the instrument's decoder.
fn midi(messages: &[(f64, [u8; 3])]) -> Vec<TimedEvent> {
    let mut decoder = MidiDecoder::default();
    let mut out = Vec::new();
    for &(t, [s, a, b]) in messages {
        decoder.decode(s, a, b, |event| out.push(TimedEvent { time: at(t), event }));
    }
    out
}

/// Renders `events` on the shipped model's church organ: its held notes hold their
/// level, so a change is the expression's and not the note's decay.
fn play(events: &[TimedEvent]) -> Vec<f32> {
    let model = ModelBytes::embedded().unwrap();
    let organ = model.manifest.instrument("Church Organ").expect("the shipped model has an organ");
    let pad = TimbrePlane::new(&model.manifest.instruments).to_pad(&organ.point);
    let mut sorted = events.to_vec();
    sorted.sort_by_key(|e| e.time);
    render(&model, &EngineConfig::offline(RATE, 256), pad, &sorted, at(2.2) as usize, 256, |_, _| {}).unwrap().audio
}

fn hz(key: f64) -> f64 {
    440.0 * 2f64.powf((key - 69.0) / 12.0)
}

/// Level in dB of the strongest bin within ±20 cents of `f`, over 0.5 s from `from`.
fn level(audio: &[f32], from: f64, f: f64) -> f32 {
    let n = 1 << 13;
    let start = at(from) as usize;
    let s = spectrum(&audio[start..start + n]);
    let bin = |f: f64| (f * n as f64 / RATE as f64).round() as usize;
    let (lo, hi) = (bin(f * 2f64.powf(-0.2 / 12.0)), bin(f * 2f64.powf(0.2 / 12.0)));
    20.0 * s[lo.max(1)..=hi.max(lo + 1)].iter().fold(1e-9f32, |m, &v| m.max(v)).log10()
}

/// The first `n` partials' summed power of a note at `key`, in dB.
fn note_power(audio: &[f32], from: f64, key: f64, n: usize) -> f32 {
    let p: f32 = (1..=n).map(|h| 10f32.powf(level(audio, from, hz(key) * h as f64) / 10.0)).sum();
    10.0 * p.log10()
}

/// Messages that hold LOW on MIDI channel 2 and HIGH on channel 3 (0-based 1 and 2)
/// from 0.1 s to 2.0 s.
fn two_notes() -> Vec<(f64, [u8; 3])> {
    vec![(0.1, [0x91, LOW, 90]), (0.1, [0x92, HIGH, 90]), (2.0, [0x81, LOW, 0]), (2.0, [0x82, HIGH, 0])]
}

/// An MPE Configuration Message: the lower zone with 15 member channels.
fn mpe_zone() -> Vec<(f64, [u8; 3])> {
    vec![(0.0, [0xB0, 101, 0]), (0.0, [0xB0, 100, 6]), (0.0, [0xB0, 6, 15])]
}

#[test]
fn an_mpe_bend_moves_its_own_notes_partials_and_leaves_the_others_in_place() {
    // A member channel's bend, at MPE's default range of 48 semitones: +1 semitone
    // is 8192 + 8192/48.
    let up = 8192 + 8192 / 48;
    let mut m = mpe_zone();
    m.extend(two_notes());
    m.push((CHANGE, [0xE1, (up & 0x7f) as u8, (up >> 7) as u8]));
    let audio = play(&midi(&m));
    let (before, after) = (0.4, 1.3);
    for h in 1..=3 {
        let h = h as f64;
        // The bent note: its partial left its unbent place for the new one.
        let (was, moved) = (level(&audio, before, hz(LOW as f64) * h), level(&audio, after, hz(LOW as f64 + 1.0) * h));
        let left = level(&audio, after, hz(LOW as f64) * h);
        assert!(moved > left + 12.0, "partial {h} of the bent note: {moved:.1} dB at its new pitch, {left:.1} dB left at the old");
        // Its partials pass through filters the mel designed for the unbent pitch
        // (Mel2Mel knows no bend): the shipped organ loses up to 6.5 dB on one.
        eprintln!("partial {h} of the bent note: {was:.1} → {moved:.1} dB");
        assert!(moved > was - 10.0, "partial {h} of the bent note kept its level: {was:.1} → {moved:.1} dB");
        // The other note: in place, at its level.
        let (other_before, other_after) = (level(&audio, before, hz(HIGH as f64) * h), level(&audio, after, hz(HIGH as f64) * h));
        assert!((other_after - other_before).abs() < 6.0, "partial {h} of the unbent note: {other_before:.1} → {other_after:.1} dB");
        let other_moved = level(&audio, after, hz(HIGH as f64 + 1.0) * h);
        assert!(other_after > other_moved + 12.0, "the unbent note stayed: {other_after:.1} dB in place, {other_moved:.1} a semitone up");
    }
    // Without the zone, the same bend on channel 2 is a plain bend (±2 semitones):
    // it moves both notes, by 1/24 of a semitone here, too little to see; at full
    // scale both notes move two semitones.
    let mut plain = two_notes();
    plain.push((CHANGE, [0xE1, 0x7f, 0x7f]));
    let audio = play(&midi(&plain));
    for key in [LOW, HIGH] {
        let (moved, left) = (level(&audio, 1.3, hz(key as f64 + 2.0)), level(&audio, 1.3, hz(key as f64)));
        assert!(moved > left + 12.0, "without MPE a bend moves every note: key {key}, {moved:.1} vs {left:.1} dB");
    }
}

/// Pressure, from MPE channel pressure, polyphonic aftertouch or the host's note
/// expression, makes its note louder and leaves the neighbour as it was; the host's
/// volume expression scales its note alone.
#[test]
fn pressure_makes_its_own_note_louder_and_not_its_neighbour() {
    let with = |press: Vec<(f64, [u8; 3])>| {
        let mut m = mpe_zone();
        m.extend(two_notes());
        m.extend(press);
        play(&midi(&m))
    };
    let cases: Vec<(&str, Vec<TimedEvent>)> = vec![
        (
            "MPE channel pressure",
            midi(&{
                let mut m = mpe_zone();
                m.extend(two_notes());
                m.push((CHANGE, [0xD1, 127, 0]));
                m
            }),
        ),
        (
            "polyphonic aftertouch",
            midi(&{
                let mut m = two_notes();
                m.push((CHANGE, [0xA1, LOW, 127]));
                m
            }),
        ),
        ("note expression", {
            let mut e = midi(&two_notes());
            e.push(TimedEvent { time: at(CHANGE), event: Event::Expression { key: LOW, expression: Expression::Pressure(1.0) } });
            e
        }),
    ];
    let still = with(vec![]);
    // The host's volume expression scales its note alone: a quarter is −12 dB.
    let mut quiet = midi(&two_notes());
    quiet.push(TimedEvent { time: at(CHANGE), event: Event::Expression { key: LOW, expression: Expression::Volume(0.25) } });
    let quiet = play(&quiet);
    let (own, neighbour) =
        (note_power(&quiet, 1.4, LOW as f64, 4) - note_power(&still, 1.4, LOW as f64, 4), note_power(&quiet, 1.4, HIGH as f64, 4) - note_power(&still, 1.4, HIGH as f64, 4));
    eprintln!("volume 0.25: its note {own:+.1} dB, neighbour {neighbour:+.1} dB");
    assert!((own + 12.0).abs() < 1.5 && neighbour.abs() < 1.0, "volume 0.25: its note {own:+.1} dB, neighbour {neighbour:+.1} dB");
    for (name, events) in cases {
        let audio = play(&events);
        let rise = |key: u8, a: &[f32]| note_power(a, 1.4, key as f64, 4) - note_power(&still, 1.4, key as f64, 4);
        let (own, neighbour) = (rise(LOW, &audio), rise(HIGH, &audio));
        eprintln!("{name}: pressed note {own:+.1} dB, neighbour {neighbour:+.1} dB");
        assert!(own > 3.0, "{name}: the pressed note got {own:+.1} dB louder");
        assert!(own > neighbour + 3.0, "{name}: the pressed note {own:+.1} dB, its neighbour {neighbour:+.1} dB");
    }
}

/// CC74 below its centre on a member channel darkens that note: its upper partials
/// fall against its fundamental, the other note's do not.
#[test]
fn brightness_below_centre_darkens_its_own_note() {
    let mut m = mpe_zone();
    m.extend(two_notes());
    m.push((CHANGE, [0xB1, 74, 0]));
    let dark = play(&midi(&m));
    let mut m = mpe_zone();
    m.extend(two_notes());
    let plain = play(&midi(&m));
    // Partials 2-6 of each note, against its fundamental (the low note's 7th lies
    // 18 cents from the high note's 5th).
    let tilt = |a: &[f32], key: u8| {
        let upper: f32 = (2..=6).map(|h| 10f32.powf(level(a, 1.4, hz(key as f64) * h as f64) / 10.0)).sum();
        10.0 * upper.log10() - level(a, 1.4, hz(key as f64))
    };
    let (own, other) = (tilt(&dark, LOW) - tilt(&plain, LOW), tilt(&dark, HIGH) - tilt(&plain, HIGH));
    eprintln!("brightness 0: the note's upper partials {own:+.1} dB, the other's {other:+.1} dB");
    assert!(own < -30.0, "the darkened note's upper partials fell {own:+.1} dB");
    assert!(other.abs() < 3.0, "the other note's upper partials moved {other:+.1} dB");
}
