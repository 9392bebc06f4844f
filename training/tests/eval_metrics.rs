//! The evaluation's metrics on constructed cases whose answers are known.

use melwave::contract::{HOP, SAMPLE_RATE};
use melwave::features::{Event, TimedEvent};
use melwave_train::eval::cqt::{self, Cqt, FLOOR_DB};
use melwave_train::eval::griffin_lim::{griffin_lim, Stft};
use melwave_train::eval::metrics::{self, log_mel_scores, note_tally, onsets, PitchCheck};

const RATE: f64 = SAMPLE_RATE as f64;

/// A tone with 6 decaying partials at `f`, `seconds` long, starting at `start`.
fn tone(out: &mut [f32], f: f64, start: usize, seconds: f64, amp: f32) {
    let n = (seconds * RATE) as usize;
    for i in 0..n.min(out.len().saturating_sub(start)) {
        let t = i as f64 / RATE;
        let env = (-(t * 3.0)).exp() as f32;
        let v: f64 = (1..=6).map(|h| (std::f64::consts::TAU * f * h as f64 * t).sin() / h as f64).sum();
        out[start + i] += amp * env * v as f32;
    }
}

fn melody(detune_cents: f64) -> (Vec<f32>, Vec<TimedEvent>) {
    let mut audio = vec![0.0; (4.0 * RATE) as usize];
    let mut events = vec![];
    for (i, key) in [57u8, 64, 69, 72, 76, 81].into_iter().enumerate() {
        let start = (0.1 + 0.6 * i as f64) * RATE;
        let f = 440.0 * 2f64.powf((key as f64 - 69.0 + detune_cents / 100.0) / 12.0);
        tone(&mut audio, f, start as usize, 0.5, 0.2);
        events.push(TimedEvent { time: start as u64, event: Event::NoteOn { key, velocity: 30 + 15 * i as u8 } });
        events.push(TimedEvent { time: (start + 0.5 * RATE) as u64, event: Event::NoteOff { key } });
    }
    (audio, events)
}

#[test]
fn identical_audio_scores_perfectly() {
    let (audio, events) = melody(0.0);
    let mut c = Cqt::new(RATE);
    assert_eq!(cqt::rmse_cqt(&mut c, &audio, &audio), 0.0);
    let (l1, r) = log_mel_scores(&audio, &audio);
    assert_eq!(l1, 0.0);
    assert!((r - 1.0).abs() < 1e-9, "r = {r}");
    let t = note_tally(&mut PitchCheck::new(RATE), &onsets(&events), &audio, &audio, RATE);
    assert_eq!((t.notes, t.pitch_hits), (6, 6), "every played note is found in the truth itself");
    assert_eq!(t.loudness_error(), Some(0.0));
}

#[test]
fn the_cqt_puts_a_tone_in_its_bin() {
    // A4 = 440 Hz is 45 semitones above C1.
    let mut audio = vec![0.0f32; (1.0 * RATE) as usize];
    for (i, v) in audio.iter_mut().enumerate() {
        *v = (std::f64::consts::TAU * 440.0 * i as f64 / RATE).sin() as f32;
    }
    let m = Cqt::new(RATE).magnitude(&audio);
    let t = Cqt::n_frames(audio.len()) / 2;
    let frame = &m[t * cqt::BINS..(t + 1) * cqt::BINS];
    let best = frame.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
    assert_eq!(best, 45);
    // A unit sine's response is ¼: ½ for its positive-frequency half, times the Hann
    // window's mean of ½ (the kernels are normalised by their length).
    assert!((frame[45] - 0.25).abs() < 0.05, "peak {}", frame[45]);
    assert!(frame[45] > 30.0 * frame[40] && frame[45] > 30.0 * frame[50], "neighbours a few semitones away are far below");
}

#[test]
fn an_octave_shift_raises_rmse_cqt_by_the_shifted_spectrogram_difference() {
    let mut a = vec![0.0f32; (2.0 * RATE) as usize];
    tone(&mut a, 220.0, 0, 2.0, 0.3);
    let mut b = vec![0.0f32; a.len()];
    tone(&mut b, 440.0, 0, 2.0, 0.3);
    let mut c = Cqt::new(RATE);
    let got = cqt::rmse_cqt(&mut c, &a, &b);
    // A constant-Q transform is shift-invariant in log frequency: the octave-up tone's
    // CQT is the original's moved up 12 bins. The known answer is the RMSE between
    // the reference's dB CQT and itself shifted by 12 bins (floor where nothing moved in).
    let m = c.magnitude(&a);
    let max = m.iter().copied().fold(0.0, f32::max);
    let db = cqt::to_db(&m, max);
    let shifted: Vec<f32> = (0..db.len()).map(|i| if i % cqt::BINS >= 12 { db[i - 12] } else { FLOOR_DB }).collect();
    let known = cqt::rmse_db(&db, &shifted);
    assert!(known > 10.0, "an octave is a large error ({known} dB)");
    assert!((got - known).abs() < 0.1 * known, "octave shift: RMSE-CQT {got:.2} dB, expected {known:.2} dB");
}

#[test]
fn silence_is_caught_by_every_metric() {
    let (audio, events) = melody(0.0);
    let silence = vec![0.0f32; audio.len()];
    let mut c = Cqt::new(RATE);
    let got = cqt::rmse_cqt(&mut c, &audio, &silence);
    let m = c.magnitude(&audio);
    let max = m.iter().copied().fold(0.0, f32::max);
    let db = cqt::to_db(&m, max);
    let known = (db.iter().map(|&d| ((d - FLOOR_DB) as f64).powi(2)).sum::<f64>() / db.len() as f64).sqrt();
    assert!((got - known).abs() < 1e-6, "silence scores every bin at the floor: {got} vs {known}");
    assert!(got > 20.0, "{got}");
    let (l1, r) = log_mel_scores(&audio, &silence);
    // Silence's log-mel is the floor everywhere, so L1 is the truth's mean height above it.
    let truth_mel = melwave::features::LogMel::new().compute(&audio);
    let known_l1 = truth_mel.iter().map(|&v| (v - melwave::contract::LOG_FLOOR) as f64).sum::<f64>() / truth_mel.len() as f64;
    assert!((l1 - known_l1).abs() < 1e-6 && l1 > 1.0, "log-mel L1 of silence {l1} vs {known_l1}");
    assert_eq!(r, 0.0);
    let t = note_tally(&mut PitchCheck::new(RATE), &onsets(&events), &audio, &silence, RATE);
    assert_eq!(t.pitch_hits, 0, "no note is found in silence");
    // Silence counts at the audible floor, so each note is off by its own height above it.
    let on = onsets(&events);
    let known = on.iter().map(|o| metrics::level_db(&audio, o.sample, RATE).unwrap() - metrics::AUDIBLE_FLOOR_DB).sum::<f64>() / on.len() as f64;
    let got = t.loudness_error().unwrap();
    assert!((got - known).abs() < 1e-9 && got > 40.0, "silence is far too quiet: {got} vs {known}");
}

#[test]
fn the_onset_peak_catches_an_attack_that_the_100_ms_rms_averages_away() {
    // The truth strikes at full level for 10 ms and falls silent; the estimate plays the
    // same energy spread evenly over the 100 ms. Their 100 ms RMS agree, their peaks
    // differ by 10·log10(10) = 10 dB, and the tally files it in the note's velocity group.
    let n = (0.1 * RATE) as usize;
    let sine = |i: usize| (std::f64::consts::TAU * 600.0 * i as f64 / RATE).sin() as f32;
    let truth: Vec<f32> = (0..2 * n).map(|i| if i < n / 10 { 0.5 * sine(i) } else { 0.0 }).collect();
    let spread: Vec<f32> = (0..2 * n).map(|i| if i < n { 0.5 / 10f32.sqrt() * sine(i) } else { 0.0 }).collect();
    let (rms_t, rms_e) = (metrics::level_db(&truth, 0, RATE).unwrap(), metrics::level_db(&spread, 0, RATE).unwrap());
    assert!((rms_t - rms_e).abs() < 0.1, "{rms_t} vs {rms_e}");
    let (peak_t, peak_e) = (metrics::peak_level_db(&truth, 0, RATE).unwrap(), metrics::peak_level_db(&spread, 0, RATE).unwrap());
    assert!((peak_t - 20.0 * (0.5f64 / 2f64.sqrt()).log10()).abs() < 0.1, "a 10 ms sine's peak is its RMS: {peak_t}");
    assert!((peak_t - peak_e - 10.0).abs() < 0.1, "{peak_t} vs {peak_e}");
    assert!(metrics::peak_level_db(&truth, n + 1, RATE).is_none(), "the window runs past the end");
    // A 5 ms strike fills half a 10 ms window: 3 dB under its own RMS. A strike that
    // starts between two windows (37.5 ms) is still caught whole but for half a hop.
    let burst = |from: usize, len: usize| -> Vec<f32> { (0..2 * n).map(|i| if (from..from + len).contains(&i) { 0.5 * sine(i) } else { 0.0 }).collect() };
    let half = metrics::peak_level_db(&burst(0, n / 20), 0, RATE).unwrap();
    assert!((peak_t - half - 10.0 * 2f64.log10()).abs() < 0.1, "a 5 ms strike: {half} vs {peak_t}");
    let between = metrics::peak_level_db(&burst(900, n / 10), 0, RATE).unwrap();
    assert!((peak_t - between).abs() < 0.3, "the windows are 1 ms apart: {between} vs {peak_t}");
    let events = [TimedEvent { time: 0, event: Event::NoteOn { key: 74, velocity: 110 } }];
    let t = note_tally(&mut PitchCheck::new(RATE), &onsets(&events), &truth, &spread, RATE);
    let (count, abs, signed) = t.peak[metrics::velocity_group(110)];
    assert_eq!(count, 1);
    assert!((signed + 10.0).abs() < 0.1 && (abs - 10.0).abs() < 0.1, "the estimate's attack is 10 dB short: {signed}");
    assert_eq!(t.peak.iter().map(|g| g.0).sum::<usize>(), 1, "only the loud group holds it");
}

#[test]
fn levels_below_the_audible_floor_agree() {
    // A truth that falls silent (a preset past its last sample) against an estimate at
    // −90 dBFS: both inaudible, no error. At −40 dBFS the estimate is heard, 30 dB too loud.
    let (truth, events) = melody(0.0);
    let silent = vec![0.0f32; truth.len()];
    let first = &onsets(&events)[..1];
    let level = metrics::level_db(&truth, first[0].sample, RATE).unwrap();
    // The truth's first note scaled to `db` dBFS.
    let at = |db: f64| -> Vec<f32> { truth.iter().map(|&v| v * 10f32.powf(((db - level) / 20.0) as f32)).collect() };
    let whisper = note_tally(&mut PitchCheck::new(RATE), first, &silent, &at(-90.0), RATE);
    assert_eq!(whisper.loudness_error(), Some(0.0));
    let heard = note_tally(&mut PitchCheck::new(RATE), first, &silent, &at(-40.0), RATE);
    let signed = heard.loudness.iter().map(|g| g.2).sum::<f64>();
    assert!((signed - 30.0).abs() < 1e-6, "{signed}");
    assert_eq!(metrics::level_error(-50.0, -60.0), 10.0, "above the floor, the plain difference");
}

#[test]
fn pitch_check_fails_a_detuned_render() {
    let (truth, events) = melody(0.0);
    let mut check = PitchCheck::new(RATE);
    let on = onsets(&events);
    for cents in [-100.0, 100.0, 300.0] {
        let (detuned, _) = melody(cents);
        let t = note_tally(&mut check, &on, &truth, &detuned, RATE);
        assert_eq!(t.pitch_hits, 0, "{cents} cents off must fail every note ({} of {} passed)", t.pitch_hits, t.notes);
    }
    // 20 cents is within tolerance.
    let (close, _) = melody(20.0);
    assert_eq!(note_tally(&mut check, &on, &truth, &close, RATE).pitch_hits, 6);
}

#[test]
fn onset_pitch_includes_the_bend_in_force() {
    let events = [TimedEvent { time: 0, event: Event::PitchBend(1.0) }, TimedEvent { time: 10, event: Event::NoteOn { key: 69, velocity: 100 } }];
    let o = onsets(&events);
    assert_eq!(o.len(), 1);
    assert!((o[0].frequency - 440.0 * 2f64.powf(1.0 / 12.0)).abs() < 1e-6);
}

#[test]
fn loudness_error_is_grouped_by_velocity_and_signed() {
    let (truth, events) = melody(0.0);
    let half: Vec<f32> = truth.iter().map(|v| v * 0.5).collect();
    let t = note_tally(&mut PitchCheck::new(RATE), &onsets(&events), &truth, &half, RATE);
    // Velocities 30, 45 (soft), 60, 75, 90 (medium), 105 (loud); half amplitude is −6.02 dB.
    assert_eq!(t.loudness.map(|g| g.0), [2, 3, 1]);
    for (n, abs, signed) in t.loudness {
        assert!((signed / n as f64 + 6.02).abs() < 0.01 && (abs / n as f64 - 6.02).abs() < 0.01);
    }
    assert_eq!(metrics::velocity_group(47), 0);
    assert_eq!(metrics::velocity_group(96), 2);
    // Keys 57, 64, 69 (C3–B4) and 72, 76, 81 (C5–B6), the same −6.02 dB in each.
    assert_eq!(t.register.map(|g| g.0), [0, 3, 3, 0]);
    for (n, abs, signed) in t.register.into_iter().filter(|g| g.0 > 0) {
        assert!((signed / n as f64 + 6.02).abs() < 0.01 && (abs / n as f64 - 6.02).abs() < 0.01);
    }
    assert_eq!((metrics::register(47), metrics::register(48), metrics::register(95), metrics::register(96), metrics::register(127)), (0, 1, 2, 3, 3));
}

#[test]
fn griffin_lim_converges_on_a_known_signal() {
    let (audio, _) = melody(0.0);
    let audio = &audio[..audio.len() / HOP * HOP];
    let mut stft = Stft::new();
    let frames = audio.len() / HOP;
    let magnitude: Vec<f32> = stft.analyse(audio, frames).iter().map(|c| c.norm()).collect();
    let (rebuilt, sc) = griffin_lim(&mut stft, &magnitude, audio.len(), 32, 1);
    assert_eq!(rebuilt.len(), audio.len());
    assert!(sc[sc.len() - 1] < 0.5 * sc[0], "spectral convergence {:.3} → {:.3}", sc[0], sc[sc.len() - 1]);
    let rises = sc.windows(2).filter(|w| w[1] > w[0] * 1.02).count();
    assert!(rises <= 3, "spectral convergence mostly falls: {sc:?}");
    // And the reconstruction sounds like the signal: its log-mel correlates strongly.
    let (_, r) = log_mel_scores(audio, &rebuilt);
    assert!(r > 0.95, "Griffin-Lim result log-mel r {r}");
}

#[test]
fn morph_centroid_tracks_brightness() {
    let mut dull = vec![0.0f32; (1.0 * RATE) as usize];
    tone(&mut dull, 220.0, 0, 1.0, 0.3);
    let bright: Vec<f32> = (0..dull.len()).map(|i| (std::f64::consts::TAU * 2000.0 * i as f64 / RATE).sin() as f32 * 0.3).collect();
    let (cd, cb) = (metrics::spectral_centroid(&dull, RATE), metrics::spectral_centroid(&bright, RATE));
    assert!(cd < 600.0 && (cb - 2000.0).abs() < 50.0, "centroids {cd} / {cb}");
}

#[test]
fn confidence_interval_is_the_normal_approximation() {
    let (m, h) = metrics::mean_ci(&[1.0, 2.0, 3.0, 4.0]);
    assert!((m - 2.5).abs() < 1e-12);
    // s = 1.29099, 1.96·s/2 = 1.26517.
    assert!((h - 1.265_17).abs() < 1e-4, "{h}");
    assert!(metrics::mean_ci(&[5.0]).1.is_nan());
}

mod harmonicity {
    use melwave::features::excitation::key_frequency;
    use melwave::features::{Event, TimedEvent};
    use melwave_train::eval::metrics::harmonicity;
    use rand::{RngExt, SeedableRng};

    const RATE: f64 = 24_000.0;

    fn note(key: u8) -> Vec<TimedEvent> {
        vec![TimedEvent { time: 0, event: Event::NoteOn { key, velocity: 100 } }]
    }

    fn tone(key: usize, partials: usize, seconds: f64) -> Vec<f32> {
        detuned(key, 0.0, partials, seconds)
    }

    fn detuned(key: usize, cents: f64, partials: usize, seconds: f64) -> Vec<f32> {
        let f = key_frequency(key, 0.0) * 2f64.powf(cents / 1200.0);
        (0..(seconds * RATE) as usize)
            .map(|i| {
                let t = i as f64 / RATE;
                (1..=partials).filter(|h| *h as f64 * f < RATE / 2.0).map(|h| (std::f64::consts::TAU * h as f64 * f * t).sin() / h as f64).sum::<f64>() as f32 * 0.2
            })
            .collect()
    }

    #[test]
    fn a_harmonic_tone_scores_near_one_with_overtones() {
        let h = harmonicity(&tone(57, 40, 2.0), &note(57), RATE).unwrap();
        assert!(h.on_partials > 0.97, "{h:?}");
        assert!(h.overtone_share > 0.3, "{h:?}");
        assert!(h.chance < 0.4, "{h:?}");
    }

    #[test]
    fn white_noise_scores_its_chance_level() {
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(3);
        let noise: Vec<f32> = (0..48_000).map(|_| rng.random_range(-0.1f32..0.1)).collect();
        let h = harmonicity(&noise, &note(57), RATE).unwrap();
        assert!((h.on_partials - h.chance).abs() < 0.03, "{h:?}");
        assert!(h.on_partials < 0.4, "{h:?}");
    }

    #[test]
    fn a_sine_without_overtones_shows_no_overtone_energy() {
        let h = harmonicity(&tone(57, 1, 2.0), &note(57), RATE).unwrap();
        assert!(h.on_partials > 0.99, "{h:?}");
        assert!(h.overtone_share < 1e-3, "{h:?}");
    }

    #[test]
    fn a_detuned_sample_is_harmonic_on_its_own_partials() {
        // 18 cents flat, as FluidR3's trumpet is at C4: at the nominal pitch its upper
        // partials miss the ±2-bin windows and read as noise; the detune search finds them.
        let h = harmonicity(&detuned(60, -18.0, 40, 2.0), &note(60), RATE).unwrap();
        assert!(h.on_partials > 0.97, "{h:?}");
        assert!(h.on_partials - h.on_nominal_partials > 0.1, "the nominal grid misses the upper partials: {h:?}");
        assert!((h.detune_cents + 18.0).abs() <= 2.0, "{h:?}");
        let exact = harmonicity(&tone(60, 40, 2.0), &note(60), RATE).unwrap();
        assert!(exact.detune_cents == 0.0 && exact.on_partials == exact.on_nominal_partials, "an exact tone stays on the nominal grid: {exact:?}");
        let sine = harmonicity(&tone(57, 1, 2.0), &note(57), RATE).unwrap();
        assert_eq!(sine.detune_cents, 0.0, "leakage alone does not detune a bare sine: {sine:?}");
        // A chord of bare sines with an octave in it: C4's second-partial window holds
        // C5's fundamental, which is C5's to claim, so nothing pulls C4 off its grid.
        let keys = [60u8, 64, 67, 72];
        let sines: Vec<Vec<f32>> = keys.iter().map(|&k| tone(k as usize, 1, 2.0)).collect();
        let chord: Vec<f32> = (0..48_000).map(|i| sines.iter().map(|s| s[i]).sum()).collect();
        let events: Vec<TimedEvent> = keys.iter().map(|&key| TimedEvent { time: 0, event: Event::NoteOn { key, velocity: 100 } }).collect();
        let h = harmonicity(&chord, &events, RATE).unwrap();
        assert!(h.detune_cents == 0.0 && h.on_partials == h.on_nominal_partials && h.on_partials > 0.99, "{h:?}");
    }

    #[test]
    fn the_detune_search_does_not_flatter_noise() {
        // One detune per key for the whole item, not one per frame: noise cannot pick
        // the grid that its fluctuations favour frame by frame.
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(11);
        let noise: Vec<f32> = (0..96_000).map(|_| rng.random_range(-0.1f32..0.1)).collect();
        for key in [45, 57, 69] {
            let h = harmonicity(&noise, &note(key), RATE).unwrap();
            assert!((0.0..0.01).contains(&(h.on_partials - h.on_nominal_partials)), "never below the nominal grid, and not far above: key {key}: {h:?}");
            assert!((h.on_partials - h.chance).abs() < 0.02, "key {key}: {h:?}");
        }
    }

    #[test]
    fn a_tone_at_the_wrong_pitch_is_off_the_partials_and_silence_has_no_score() {
        // A semitone is outside the ±50 cents the grid may move. (At A3 and below ±2 bins
        // is wider than 50 cents, so there a semitone's fundamental can still land.)
        let h = harmonicity(&tone(70, 40, 2.0), &note(69), RATE).unwrap();
        assert!(h.on_partials < 0.5, "a semitone off: {h:?}");
        assert!(harmonicity(&tone(57, 40, 2.0), &[], RATE).is_none(), "no key sounds");
    }
}
