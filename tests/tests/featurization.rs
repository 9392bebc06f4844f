//! The shared featurization: frame timing, pedal semantics, excitation pitch, log-mel.

use melwave::contract::{HOP, KEYS, LOG_FLOOR, N_MELS, ROLL_DIM, SAMPLE_RATE, SOURCE_CHANNELS};
use melwave::features::excitation::key_frequency;
use melwave::features::{featurize, Event, LogMel, TimedEvent};
use melwave_tests::{peak_frequency, spectrum};

fn at(time: u64, event: Event) -> TimedEvent {
    TimedEvent { time, event }
}

fn onset(roll: &[f32], frame: usize, key: usize) -> f32 {
    roll[frame * ROLL_DIM + key]
}

fn active(roll: &[f32], frame: usize, key: usize) -> bool {
    roll[frame * ROLL_DIM + KEYS + key] > 0.5
}

#[test]
fn event_lands_in_the_frame_that_contains_its_sample() {
    let h = HOP as u64;
    for (time, frame) in [(0, 0), (h - 1, 0), (h, 1), (2 * h - 1, 1), (5 * h, 5), (5 * h + 64, 5)] {
        let (roll, _) = featurize(&[at(time, Event::NoteOn { key: 60, velocity: 127 })], 8, 0);
        for f in 0..8 {
            let expect = if f == frame { 1.0 } else { 0.0 };
            assert_eq!(onset(&roll, f, 60), expect, "note at sample {time}: onset in frame {f}");
            assert_eq!(active(&roll, f, 60), f >= frame, "note at sample {time}: frame flag in frame {f}");
        }
    }
}

fn velocity(roll: &[f32], frame: usize, key: usize) -> f32 {
    roll[frame * ROLL_DIM + 2 * KEYS + key]
}

/// The velocity channel carries each sounding key's last strike in every frame it
/// sounds, through the pedal, and is 0 once the key is silent.
#[test]
fn velocity_channel_holds_each_sounding_keys_velocity() {
    let h = HOP as u64;
    let events = [
        at(0, Event::NoteOn { key: 60, velocity: 127 }),
        at(0, Event::NoteOn { key: 64, velocity: 20 }),
        at(2 * h, Event::Sustain(true)),
        at(3 * h, Event::NoteOff { key: 60 }),
        at(5 * h, Event::NoteOn { key: 60, velocity: 40 }), // re-strike under the pedal
        at(6 * h, Event::NoteOff { key: 60 }),
        at(6 * h, Event::NoteOff { key: 64 }),
        at(7 * h, Event::Sustain(false)),
        at(9 * h + 10, Event::NoteOn { key: 67, velocity: 90 }), // shorter than a frame
        at(9 * h + 20, Event::NoteOff { key: 67 }),
    ];
    let (roll, _) = featurize(&events, 11, 0);
    let v = |x: f32| x / 127.0;
    for f in 0..5 {
        assert_eq!(velocity(&roll, f, 60), v(127.0), "frame {f}: held, then sustained");
    }
    for f in 5..8 {
        assert_eq!(velocity(&roll, f, 60), v(40.0), "frame {f}: the re-strike's velocity");
    }
    for f in 0..7 {
        assert_eq!(velocity(&roll, f, 64), v(20.0), "frame {f}: held, then sustained");
    }
    for f in 8..11 {
        assert_eq!((velocity(&roll, f, 60), velocity(&roll, f, 64)), (0.0, 0.0), "frame {f}: the pedal lifted, both silent");
    }
    assert_eq!(velocity(&roll, 9, 67), v(90.0), "a note inside one frame has its velocity there");
    assert_eq!(velocity(&roll, 10, 67), 0.0);
    // Wherever a key is flagged it has a velocity, and nowhere else.
    for f in 0..11 {
        for k in 0..KEYS {
            assert_eq!(active(&roll, f, k), velocity(&roll, f, k) > 0.0, "frame {f}, key {k}");
        }
    }
}

#[test]
fn onset_holds_velocity_over_127() {
    let (roll, _) = featurize(&[at(0, Event::NoteOn { key: 10, velocity: 64 })], 1, 0);
    assert!((onset(&roll, 0, 10) - 64.0 / 127.0).abs() < 1e-6);
}

#[test]
fn note_shorter_than_a_frame_still_produces_its_onset() {
    let events = [at(300, Event::NoteOn { key: 72, velocity: 100 }), at(310, Event::NoteOff { key: 72 })];
    let (roll, _) = featurize(&events, 4, 0);
    let f = 300 / HOP;
    assert!(onset(&roll, f, 72) > 0.7);
    assert!(active(&roll, f, 72), "the frame flag marks that the key sounded during the frame");
    assert!(!active(&roll, f + 1, 72), "and the key is released after it");
}

#[test]
fn sustain_pedal_holds_released_keys_until_lifted() {
    let h = HOP as u64;
    let events = [
        at(0, Event::Sustain(true)),
        at(0, Event::NoteOn { key: 60, velocity: 90 }),
        at(2 * h, Event::NoteOff { key: 60 }),
        at(4 * h, Event::NoteOn { key: 60, velocity: 50 }), // re-strike while sustained: a new onset
        at(5 * h, Event::NoteOff { key: 60 }),
        at(8 * h, Event::Sustain(false)),
        at(8 * h, Event::NoteOn { key: 64, velocity: 90 }),
        at(9 * h, Event::NoteOff { key: 64 }),
    ];
    let (roll, _) = featurize(&events, 12, 0);
    for f in 0..8 {
        assert!(active(&roll, f, 60), "key 60 sustained in frame {f}");
    }
    assert!(active(&roll, 8, 60), "the frame where the pedal lifts still saw the key sound");
    assert!(!active(&roll, 9, 60), "released after the pedal lifts");
    assert!(onset(&roll, 4, 60) > 0.3, "re-strike gives an onset");
    assert!(!active(&roll, 10, 64), "without the pedal a note-off releases at once");
}

#[test]
fn all_sound_off_and_zero_velocity_release() {
    let events = [
        at(0, Event::Sustain(true)),
        at(0, Event::NoteOn { key: 1, velocity: 1 }),
        at(0, Event::NoteOn { key: 127, velocity: 127 }),
        at(0, Event::NoteOn { key: 50, velocity: 90 }),
        at(130, Event::NoteOn { key: 50, velocity: 0 }),
        at(300, Event::AllSoundOff),
    ];
    let (roll, _) = featurize(&events, 5, 0);
    assert!(active(&roll, 2, 1) && active(&roll, 2, 127));
    assert!(active(&roll, 2, 50), "velocity-0 note-on releases, but the pedal was down");
    for k in 0..KEYS {
        assert!(!active(&roll, 3, k), "key {k} silent after all-sound-off, pedal or not");
    }
}

#[test]
fn all_notes_off_releases_held_keys_but_leaves_the_pedal() {
    let h = HOP as u64;
    let events = [
        at(0, Event::NoteOn { key: 60, velocity: 90 }),
        at(0, Event::NoteOn { key: 64, velocity: 90 }),
        at(2 * h, Event::AllNotesOff),
        at(4 * h, Event::Sustain(true)),
        at(4 * h, Event::NoteOn { key: 67, velocity: 90 }),
        at(6 * h, Event::AllNotesOff),
        at(9 * h, Event::Sustain(false)),
    ];
    let (roll, _) = featurize(&events, 12, 0);
    assert!(!active(&roll, 3, 60) && !active(&roll, 3, 64), "no pedal: CC123 releases at once");
    assert!(active(&roll, 8, 67), "pedal down: CC123 releases into the pedal, which stays down");
    assert!(!active(&roll, 10, 67), "lifting the pedal ends it");
}

#[test]
fn overlapping_notes_on_one_key_sound_until_the_last_note_off() {
    let h = HOP as u64;
    // Two channels double a key: the first note-off must not end the second note.
    let events = [
        at(0, Event::NoteOn { key: 60, velocity: 90 }),
        at(2 * h, Event::NoteOn { key: 60, velocity: 70 }),
        at(4 * h, Event::NoteOff { key: 60 }),
        at(8 * h, Event::NoteOff { key: 60 }),
        at(10 * h, Event::NoteOff { key: 60 }), // a stray extra note-off changes nothing
        at(11 * h, Event::NoteOn { key: 60, velocity: 50 }),
    ];
    let (roll, _) = featurize(&events, 13, 0);
    for f in 0..=8 {
        assert!(active(&roll, f, 60), "frame {f}");
    }
    assert!(onset(&roll, 2, 60) > 0.5, "the second note is an onset");
    assert!(!active(&roll, 9, 60) && !active(&roll, 10, 60));
    assert!(active(&roll, 11, 60) && active(&roll, 12, 60), "a stray note-off did not leave a negative count");
}

#[test]
fn choke_ends_a_key_under_the_pedal_and_reset_controllers_lifts_it_and_the_bend() {
    let h = HOP as u64;
    let events = [
        at(0, Event::Sustain(true)),
        at(0, Event::PitchBend(1.0)),
        at(0, Event::NoteOn { key: 60, velocity: 90 }),
        at(0, Event::NoteOn { key: 62, velocity: 90 }),
        at(h, Event::NoteOff { key: 62 }),
        at(2 * h, Event::Choke { key: 60 }),
        at(4 * h, Event::ResetControllers),
    ];
    let mut state = melwave::features::RollState::default();
    let (roll, _) = featurize(&events, 6, 0);
    assert!(!active(&roll, 3, 60), "choke ends the key though the pedal is down");
    assert!(active(&roll, 3, 62), "the pedal still holds the released key");
    assert!(!active(&roll, 5, 62), "CC121 lifted the pedal");
    for e in &events {
        state.apply(&e.event);
    }
    assert_eq!(state.bend(), 0.0, "CC121 centres the bend");
}

#[test]
fn midi_codec_round_trips_every_event() {
    let events = [
        Event::NoteOn { key: 0, velocity: 1 },
        Event::NoteOn { key: 127, velocity: 127 },
        Event::NoteOff { key: 64 },
        Event::Sustain(true),
        Event::Sustain(false),
        Event::pitch_bend_from_midi(0),
        Event::pitch_bend_from_midi(8192),
        Event::pitch_bend_from_midi(12345),
        Event::AllNotesOff,
        Event::AllSoundOff,
        Event::ResetControllers,
    ];
    for ch in [0u8, 9, 15] {
        for e in events {
            let [s, a, b] = e.to_midi(ch).unwrap();
            assert_eq!(Event::from_midi(s, a, b), Some((ch, e)), "{e:?} on channel {ch}");
        }
    }
    assert_eq!(Event::from_midi(0x93, 60, 0), Some((3, Event::NoteOff { key: 60 })), "velocity 0 is a note-off");
    assert_eq!(Event::from_midi(0xB0, 7, 100), None, "controllers the instrument ignores");
    assert_eq!(Event::from_midi(0xC0, 5, 0), None);
    assert_eq!(Event::pitch_bend_to_midi(f32::NAN), 8192);
    assert_eq!(Event::pitch_bend_to_midi(100.0), 16383);
}

#[test]
fn excitation_sounds_at_the_bent_pitch() {
    let frames = 400; // 2.1 s
    for bend in [0.0f32, 2.0, -1.0] {
        let events = [at(0, Event::PitchBend(bend)), at(0, Event::NoteOn { key: 69, velocity: 100 })];
        let (_, source) = featurize(&events, frames, 3);
        let harmonic = &source[..frames * HOP];
        let f = peak_frequency(harmonic, SAMPLE_RATE as f32);
        let expect = key_frequency(69, bend) as f32;
        assert!((f - expect).abs() < 0.5, "bend {bend}: peak at {f} Hz, expected {expect} Hz");
    }
}

#[test]
fn midi_pitch_bend_scales_to_two_semitones() {
    assert_eq!(Event::pitch_bend_from_midi(8192), Event::PitchBend(0.0));
    assert_eq!(Event::pitch_bend_from_midi(0), Event::PitchBend(-2.0));
    match Event::pitch_bend_from_midi(16383) {
        Event::PitchBend(v) => assert!((v - 2.0).abs() < 1e-3),
        e => panic!("{e:?}"),
    }
}

#[test]
fn excitation_phase_is_continuous_across_frames() {
    let frames = 20;
    let (_, source) = featurize(&[at(0, Event::NoteOn { key: 60, velocity: 100 })], frames, 0);
    let h = &source[..frames * HOP];
    let step = std::f64::consts::TAU * key_frequency(60, 0.0) / SAMPLE_RATE as f64;
    // The sine channel against the ideal continuous sine.
    let worst = h.iter().enumerate().map(|(i, &v)| (v - 0.1 * (step * i as f64).sin() as f32).abs()).fold(0.0, f32::max);
    assert!(worst < 1e-5, "largest deviation from a continuous sine: {worst}");
}

#[test]
fn excitation_noise_is_reproducible_by_seed() {
    let ev = [at(0, Event::NoteOn { key: 40, velocity: 80 })];
    let a = featurize(&ev, 10, 5).1;
    assert_eq!(a, featurize(&ev, 10, 5).1);
    assert_ne!(a, featurize(&ev, 10, 6).1);
    assert_eq!(a.len(), SOURCE_CHANNELS * 10 * HOP);
}

#[test]
fn log_mel_of_a_sine_peaks_in_its_band_and_silence_hits_the_floor() {
    let n = SAMPLE_RATE as usize / 2;
    let tone: Vec<f32> = (0..n).map(|i| 0.5 * (std::f32::consts::TAU * 1000.0 * i as f32 / SAMPLE_RATE as f32).sin()).collect();
    let mut lm = LogMel::new();
    let mel = lm.compute(&tone);
    assert_eq!(mel.len(), LogMel::n_frames(n) * N_MELS);
    let frame = &mel[50 * N_MELS..51 * N_MELS];
    let (band, _) = frame.iter().enumerate().fold((0, f32::MIN), |b, (i, &v)| if v > b.1 { (i, v) } else { b });
    // Band centres (Slaney scale, 0..12 kHz, 80 bands) put 1 kHz in band 22.
    assert!((21..=23).contains(&band), "1 kHz peaks in band {band}");
    let silent = lm.compute(&vec![0.0; 4096]);
    assert!(silent.iter().all(|&v| (v - LOG_FLOOR).abs() < 1e-6));
}

#[test]
fn spectrum_helper_finds_a_known_tone() {
    let x: Vec<f32> = (0..8192).map(|i| (std::f32::consts::TAU * 440.0 * i as f32 / 24000.0).sin()).collect();
    assert!((peak_frequency(&x, 24000.0) - 440.0).abs() < 0.5);
    assert_eq!(spectrum(&x).len(), 4096);
}

#[test]
fn the_mel_filterbank_matches_librosa() {
    use melwave::contract::N_FFT;
    // tests/fixtures/librosa_mel.json: librosa.filters.mel for the contract's settings,
    // written by tests/fixtures/librosa_mel.py; each band's non-zero span.
    let text = std::fs::read_to_string(melwave_tests::repo_root().join("tests/fixtures/librosa_mel.json")).expect("the fixture");
    let fixture: serde_json::Value = serde_json::from_str(&text).unwrap();
    let bands = fixture["bands"].as_array().unwrap();
    assert_eq!(bands.len(), N_MELS);
    let bins = N_FFT / 2 + 1;
    let ours = melwave::features::mel::mel_filterbank(SAMPLE_RATE as f64, N_FFT, N_MELS, 0.0, SAMPLE_RATE as f64 / 2.0);
    assert_eq!(ours.len(), N_MELS * bins);
    for (m, band) in bands.iter().enumerate() {
        let first = band["first"].as_u64().unwrap() as usize;
        let weights: Vec<f64> = band["weights"].as_array().unwrap().iter().map(|w| w.as_f64().unwrap()).collect();
        for b in 0..bins {
            let want = if b >= first && b < first + weights.len() { weights[b - first] } else { 0.0 };
            let got = ours[m * bins + b] as f64;
            assert!((got - want).abs() <= 1e-7 + 1e-5 * want.abs(), "band {m}, bin {b}: ours {got}, librosa {want}");
        }
    }
}
