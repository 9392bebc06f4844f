//! The evaluation's metrics, each against a ground-truth render of the same events at
//! 24 kHz. Definitions (also in docs/evaluation.md):
//!
//! - RMSE-CQT: see [`super::cqt`].
//! - Log-mel L1: mean |a − b| over every band and frame of the two log-mel
//!   spectrograms (natural log of magnitude, the model's own features), and the
//!   Pearson correlation of the same values.
//! - Pitch accuracy: for each note-on, in the 100 ms after it, is there a spectral peak
//!   within ±50 cents of the note's fundamental (bend included)? See
//!   [`PitchCheck::note_present`].
//! - Harmonicity: see [`harmonicity`].
//! - Loudness error: for each note-on, the RMS level (dB) of the 100 ms after it in the
//!   estimate minus the same in the truth, grouped by velocity.

use melwave::features::excitation::key_frequency;
use melwave::features::stft::{hann, Spectrum};
use melwave::features::{Event, LogMel, RollState, TimedEvent};
use serde::Serialize;

/// The window after each onset that the note checks look at.
pub const NOTE_WINDOW_SECONDS: f64 = 0.1;
/// Zero-padded FFT length for the pitch check (1.46 Hz bins at 24 kHz).
const PITCH_FFT: usize = 16_384;
/// The note's peak must be within this of the window's loudest component (dB).
const PEAK_RANGE_DB: f32 = 40.0;

pub fn log_mel_l1(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len()).max(1);
    a.iter().zip(b).map(|(x, y)| (x - y).abs() as f64).sum::<f64>() / n as f64
}

pub fn pearson(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    if n == 0 {
        return 0.0;
    }
    let (a, b) = (&a[..n], &b[..n]);
    let (ma, mb) = (a.iter().map(|&v| v as f64).sum::<f64>() / n as f64, b.iter().map(|&v| v as f64).sum::<f64>() / n as f64);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (dx, dy) = (*x as f64 - ma, *y as f64 - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    if saa == 0.0 || sbb == 0.0 {
        return 0.0;
    }
    sab / (saa * sbb).sqrt()
}

/// (L1, r) of the log-mels of `truth` and `estimate`.
pub fn log_mel_scores(truth: &[f32], estimate: &[f32]) -> (f64, f64) {
    let mut lm = LogMel::new();
    let (t, e) = (lm.compute(truth), lm.compute(estimate));
    let n = t.len().min(e.len());
    (log_mel_l1(&t[..n], &e[..n]), pearson(&t[..n], &e[..n]))
}

/// A note-on with what the checks need: where, which fundamental, how hard.
#[derive(Clone, Copy, Debug)]
pub struct Onset {
    pub sample: usize,
    pub key: u8,
    pub frequency: f64,
    pub velocity: u8,
}

/// Every note-on of `events`, with the pitch bend in force at that moment.
pub fn onsets(events: &[TimedEvent]) -> Vec<Onset> {
    let mut state = RollState::default();
    let mut out = Vec::new();
    for e in events {
        state.apply(&e.event);
        if let Event::NoteOn { key, velocity } = e.event {
            out.push(Onset { sample: e.time as usize, key, frequency: key_frequency(key as usize, state.bend()), velocity });
        }
    }
    out
}

pub struct PitchCheck {
    spectrum: Spectrum,
    window: usize,
    rate: f64,
}

impl PitchCheck {
    pub fn new(rate: f64) -> Self {
        let window = (NOTE_WINDOW_SECONDS * rate) as usize;
        Self { spectrum: Spectrum::new(PITCH_FFT, hann(window)), window, rate }
    }

    /// Magnitude spectrum of the Hann-windowed 100 ms after `start`, or None past the end.
    fn spectrum(&mut self, audio: &[f32], start: usize) -> Option<Vec<f32>> {
        if start + self.window > audio.len() {
            return None;
        }
        Some(self.spectrum.frame(audio, start as i64)[..PITCH_FFT / 2].iter().map(|c| c.norm()).collect())
    }

    /// Is `f` present in the 100 ms after `start`? The strongest spectral component
    /// within ±100 cents of `f` (widened to at least the Hann main lobe's half-width,
    /// 2 / 100 ms = 20 Hz, where 100 cents is narrower) must be a peak inside that
    /// region, not its edge, must lie within ±50 cents of `f` (or one 1.46 Hz bin
    /// more), and be within 40 dB of the window's loudest component. A tone a semitone
    /// off therefore fails even at low pitches, where its main lobe still covers `f`.
    /// None when the window runs past the end of the audio.
    pub fn note_present(&mut self, audio: &[f32], start: usize, f: f64) -> Option<bool> {
        let spec = self.spectrum(audio, start)?;
        let bin_hz = self.rate / PITCH_FFT as f64;
        let to_bin = |hz: f64| ((hz / bin_hz).round().max(0.0) as usize).min(spec.len() - 1);
        let lobe = 2.0 * self.rate / self.window as f64;
        let reach_down = (f * (1.0 - 2f64.powf(-100.0 / 1200.0))).max(lobe);
        let reach_up = (f * (2f64.powf(100.0 / 1200.0) - 1.0)).max(lobe);
        let (r_lo, r_hi) = (to_bin(f - reach_down), to_bin(f + reach_up));
        let (peak_bin, &peak) = spec[r_lo..=r_hi].iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
        let peak_bin = r_lo + peak_bin;
        let peak_hz = peak_bin as f64 * bin_hz;
        let (lo, hi) = (f * 2f64.powf(-50.0 / 1200.0) - bin_hz, f * 2f64.powf(50.0 / 1200.0) + bin_hz);
        let loudest = spec.iter().copied().fold(0.0, f32::max);
        let db = |x: f32| 20.0 * x.max(1e-12).log10();
        let interior = peak_bin > r_lo && peak_bin < r_hi;
        Some(loudest > 1e-9 && interior && (lo..=hi).contains(&peak_hz) && db(peak) >= db(loudest) - PEAK_RANGE_DB)
    }
}

/// RMS level in dB (floor −120 dB) of the 100 ms after `start`.
pub fn level_db(audio: &[f32], start: usize, rate: f64) -> Option<f64> {
    let n = (NOTE_WINDOW_SECONDS * rate) as usize;
    Some(rms_db(audio.get(start..start + n)?))
}

/// Window of the onset peak level: short enough to catch an attack's loudest moment,
/// long enough (a period of 100 Hz) that it measures a level, not a sample's phase.
pub const PEAK_WINDOW_SECONDS: f64 = 0.01;
/// How far apart the onset peak's windows start.
pub const PEAK_HOP_SECONDS: f64 = 0.001;

/// Onset peak level in dB (floor −120 dB): the loudest 10 ms RMS window, hop 1 ms,
/// within the 100 ms after `start`. A blunt attack, its energy spread over the 100 ms
/// instead of in its first moments, scores its 100 ms RMS ([`level_db`]) right and
/// this one low.
pub fn peak_level_db(audio: &[f32], start: usize, rate: f64) -> Option<f64> {
    let span = audio.get(start..start + (NOTE_WINDOW_SECONDS * rate) as usize)?;
    let (w, hop) = ((PEAK_WINDOW_SECONDS * rate).round() as usize, ((PEAK_HOP_SECONDS * rate).round() as usize).max(1));
    Some((0..=span.len().saturating_sub(w)).step_by(hop).map(|i| rms_db(&span[i..i + w])).fold(f64::NEG_INFINITY, f64::max))
}

/// RMS level of `x` in dB (floor −120 dB).
pub fn rms_db(x: &[f32]) -> f64 {
    let ms = x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / x.len().max(1) as f64;
    10.0 * (ms + 1e-12).log10()
}

/// Levels below this count as this in the loudness error: BS.1770's absolute gate
/// (−70 LKFS), taken as an RMS level. Without it a note that the SoundFont renders as
/// digital silence (a preset past its highest sample) sits at [`rms_db`]'s −120 dB
/// floor, and a model that answers it at an inaudible −90 dBFS scored 30 dB of error.
pub const AUDIBLE_FLOOR_DB: f64 = -70.0;

/// The loudness error of one note, dB: the estimate's level minus the truth's, each
/// raised to [`AUDIBLE_FLOOR_DB`], so that two inaudible levels agree.
pub fn level_error(estimate_db: f64, truth_db: f64) -> f64 {
    estimate_db.max(AUDIBLE_FLOOR_DB) - truth_db.max(AUDIBLE_FLOOR_DB)
}

/// Velocity groups for the loudness error.
pub const VELOCITY_GROUPS: [(&str, u8, u8); 3] = [("soft (1–47)", 1, 47), ("medium (48–95)", 48, 95), ("loud (96–127)", 96, 127)];

pub fn velocity_group(v: u8) -> usize {
    VELOCITY_GROUPS.iter().position(|&(_, lo, hi)| (lo..=hi).contains(&v)).unwrap_or(0)
}

/// Registers for the loudness error: where on the keyboard it lies. The top one is
/// where the training data is thinnest (keys above 96 are 8 % of its notes).
pub const REGISTERS: [(&str, u8, u8); 4] = [("below C3 (0–47)", 0, 47), ("C3–B4 (48–71)", 48, 71), ("C5–B6 (72–95)", 72, 95), ("C7 and up (96–127)", 96, 127)];

pub fn register(key: u8) -> usize {
    REGISTERS.iter().position(|&(_, lo, hi)| (lo..=hi).contains(&key)).unwrap_or(0)
}

/// Sums over notes, so items and instruments can be pooled.
#[derive(Clone, Debug, Default, Serialize)]
pub struct NoteTally {
    pub notes: usize,
    pub pitch_hits: usize,
    /// Per velocity group: (count, Σ|error| dB, Σ error dB).
    pub loudness: [(usize, f64, f64); 3],
    /// The same per register ([`REGISTERS`]).
    pub register: [(usize, f64, f64); 4],
    /// Per velocity group, the onset peak's error ([`peak_level_db`]): (count, Σ|error|
    /// dB, Σ error dB).
    pub peak: [(usize, f64, f64); 3],
}

impl NoteTally {
    pub fn add(&mut self, other: &NoteTally) {
        self.notes += other.notes;
        self.pitch_hits += other.pitch_hits;
        let pairs = self.loudness.iter_mut().zip(&other.loudness).chain(self.register.iter_mut().zip(&other.register));
        for (a, b) in pairs.chain(self.peak.iter_mut().zip(&other.peak)) {
            a.0 += b.0;
            a.1 += b.1;
            a.2 += b.2;
        }
    }

    pub fn pitch_accuracy(&self) -> Option<f64> {
        (self.notes > 0).then(|| self.pitch_hits as f64 / self.notes as f64)
    }

    /// Mean |loudness error| over every note, dB.
    pub fn loudness_error(&self) -> Option<f64> {
        let n: usize = self.loudness.iter().map(|g| g.0).sum();
        (n > 0).then(|| self.loudness.iter().map(|g| g.1).sum::<f64>() / n as f64)
    }
}

/// Pitch, loudness and onset peak of every onset in `estimate`, against `truth` for
/// the levels. Onsets whose window runs past either signal are left out.
pub fn note_tally(check: &mut PitchCheck, onsets: &[Onset], truth: &[f32], estimate: &[f32], rate: f64) -> NoteTally {
    let mut t = NoteTally::default();
    for o in onsets {
        let level = |audio: &[f32]| Some((level_db(audio, o.sample, rate)?, peak_level_db(audio, o.sample, rate)?));
        let (Some(present), Some((le, pe)), Some((lt, pt))) = (check.note_present(estimate, o.sample, o.frequency), level(estimate), level(truth)) else {
            continue;
        };
        t.notes += 1;
        t.pitch_hits += present as usize;
        let (error, peak_error) = (level_error(le, lt), level_error(pe, pt));
        let group = velocity_group(o.velocity);
        for (g, e) in [(&mut t.loudness[group], error), (&mut t.register[register(o.key)], error), (&mut t.peak[group], peak_error)] {
            g.0 += 1;
            g.1 += e.abs();
            g.2 += e;
        }
    }
    t
}

/// Magnitude-weighted mean frequency (Hz) of `audio`, over the frames within 60 dB of
/// the loudest one: the brightness measure for morph continuity.
pub fn spectral_centroid(audio: &[f32], rate: f64) -> f64 {
    let mut stft = super::griffin_lim::Stft::new();
    let frames = audio.len() / melwave::contract::HOP;
    let spec = stft.analyse(audio, frames);
    let bins = super::griffin_lim::BINS;
    let energy: Vec<f64> = (0..frames).map(|t| spec[t * bins..(t + 1) * bins].iter().map(|c| c.norm_sqr() as f64).sum()).collect();
    let loudest = energy.iter().copied().fold(0.0, f64::max);
    let (mut num, mut den) = (0.0, 0.0);
    for t in 0..frames {
        if energy[t] < loudest * 1e-6 || loudest == 0.0 {
            continue;
        }
        for b in 0..bins {
            let m = spec[t * bins + b].norm() as f64;
            num += m * b as f64 * rate / melwave::contract::N_FFT as f64;
            den += m;
        }
    }
    if den > 0.0 {
        num / den
    } else {
        0.0
    }
}

/// Mean and 95 % confidence half-width (normal approximation, 1.96·s/√n).
pub fn mean_ci(values: &[f64]) -> (f64, f64) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, f64::NAN);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, 1.96 * (var / n as f64).sqrt())
}

/// Harmonicity's FFT (5.9 Hz bins at 24 kHz), hop half of it.
pub const HARMONICITY_FFT: usize = 4096;
/// A bin belongs to a partial within this many bins of it (the Hann main lobe's half-width).
pub const HARMONICITY_TOLERANCE_BINS: f64 = 2.0;
/// The band harmonicity looks at.
pub const HARMONICITY_BAND_HZ: (f64, f64) = (50.0, 10_000.0);
/// How far each key's partials may be detuned, in cents, and in what steps. A
/// SoundFont's samples are tuned within a few tens of cents, not exactly (FluidR3's
/// trumpet at C4 is about 17 cents flat), and ±2 bins is ±20 cents at 1 kHz but
/// ±2 cents at 10 kHz: at the nominal pitch a detuned sample's upper partials fall
/// between the claimed bins and score as noise. A 2-cent grid leaves at most 1 cent
/// of error, which stays inside the ±2 bins up to about 20 kHz.
pub const HARMONICITY_DETUNE_CENTS: (i32, i32) = (50, 2);
/// A key leaves its nominal grid only for a detune that claims more energy by this
/// share of what its nominal windows hold: leakage alone moves a bare sine's figure by
/// parts in 1e11, and a key whose fundamental another key's partial covers has little
/// of its own left to judge by.
pub const HARMONICITY_DETUNE_MARGIN: f64 = 0.01;

/// How much of the sound lies on the sounding notes' partials ("breathy" as a number).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Harmonicity {
    /// Of the energy in the band, in frames where a key sounds, the share within
    /// ±2 bins of a partial h·f (h ≥ 1) of a sounding key, each key's partials on its
    /// own detuned grid (one detune per key for the whole item), or on the nominal
    /// grid where that claims more.
    pub on_partials: f64,
    /// The same with every partial at its key's nominal pitch (no detune): the
    /// definition before the detune search, kept to compare.
    pub on_nominal_partials: f64,
    /// The keys' detunes, cents, weighted by the energy on their partials; 0 where
    /// the nominal grid counted.
    pub detune_cents: f64,
    /// Of the on-partial energy, the share on overtones (h ≥ 2) rather than on
    /// fundamentals: 0 for bare sines.
    pub overtone_share: f64,
    /// The share of the band that the partial windows cover (energy-weighted): what
    /// white noise scores on `on_partials`.
    pub chance: f64,
}

/// The bins within ±2 bins of each partial of `f` (Hz), up to the band's top:
/// `(first, last, is_fundamental)`.
fn partial_windows(f: f64, bin_hz: f64, top_hz: f64, hi_bin: usize) -> impl Iterator<Item = (usize, usize, bool)> {
    (1..).map(move |h| (h, h as f64 * f)).take_while(move |&(_, hf)| hf <= top_hz + HARMONICITY_TOLERANCE_BINS * bin_hz).map(move |(h, hf)| {
        let c = hf / bin_hz;
        (((c - HARMONICITY_TOLERANCE_BINS).ceil().max(0.0) as usize), ((c + HARMONICITY_TOLERANCE_BINS).floor() as usize).min(hi_bin), h == 1)
    })
}

/// One counted frame: its band energy per bin and in all, and its sounding keys with
/// their nominal frequencies.
struct Frame {
    energy: Vec<f64>,
    total: f64,
    keys: Vec<(usize, f64)>,
}

/// Harmonicity of `audio` given the events it plays; None when no key sounds.
/// Two passes: the first finds each key's detune from every frame it sounds in, so a
/// detune is a property of the key's sample, not a per-frame fit that noise could
/// steer; the second scores the frames with those grids.
pub fn harmonicity(audio: &[f32], events: &[TimedEvent], rate: f64) -> Option<Harmonicity> {
    let n = HARMONICITY_FFT;
    let hop = n / 2;
    let mut spectrum = Spectrum::hann(n);
    let bin_hz = rate / n as f64;
    let top_hz = HARMONICITY_BAND_HZ.1.min(rate / 2.0);
    let (lo_bin, hi_bin) = ((HARMONICITY_BAND_HZ.0 / bin_hz).ceil() as usize, (top_hz / bin_hz).floor() as usize);
    let (reach, step) = HARMONICITY_DETUNE_CENTS;
    let detunes: Vec<i32> = (-reach..=reach).step_by(step as usize).collect();
    let ratio = |cents: i32| 2f64.powf(cents as f64 / 1200.0);

    let mut state = RollState::default();
    let mut next = 0;
    let mut frames = Vec::new();
    // Per key, per detune: the energy its own partials' windows hold over the item.
    let mut gain = vec![vec![0.0f64; detunes.len()]; 128];
    // Per key: all the energy its nominal windows hold, shared bins included: the
    // scale of the margin a detune must clear.
    let mut held = vec![0.0f64; 128];
    for start in (0..audio.len().saturating_sub(n - 1)).step_by(hop) {
        let centre = (start + n / 2) as u64;
        while next < events.len() && events[next].time <= centre {
            state.apply(&events[next].event);
            next += 1;
        }
        let keys: Vec<(usize, f64)> = (0..128).filter(|&k| state.sounding(k)).map(|k| (k, key_frequency(k, state.bend()))).collect();
        if keys.is_empty() {
            continue;
        }
        let mut energy: Vec<f64> = spectrum.frame(audio, start as i64)[..=hi_bin].iter().map(|c| c.norm_sqr() as f64).collect();
        energy[..lo_bin].fill(0.0);
        // How many keys' nominal windows hold each bin. A key's detune is judged on the
        // energy only its own partials can claim: a bin another key's nominal partial
        // covers is that key's, or a key would detune to reach its neighbours' energy
        // (sines of a chord did, and scored lower for it).
        let mut claims = vec![0u8; hi_bin + 1];
        for &(_, f) in &keys {
            for (a, b, _) in partial_windows(f, bin_hz, top_hz, hi_bin) {
                for c in claims.iter_mut().take(b + 1).skip(a) {
                    *c = c.saturating_add(1);
                }
            }
        }
        // The energy no key's nominal windows claim, which every key may reach.
        let unclaimed: Vec<f64> = energy.iter().zip(&claims).map(|(&e, &c)| if c == 0 { e } else { 0.0 }).collect();
        for &(k, f) in &keys {
            // What key k may claim: the unclaimed energy and the bins its own nominal
            // windows alone hold.
            let mut own = unclaimed.clone();
            for (a, b, _) in partial_windows(f, bin_hz, top_hz, hi_bin) {
                held[k] += energy.get(a..=b).map_or(0.0, |e| e.iter().sum::<f64>());
                for x in (a..=b).filter(|&x| claims[x] == 1) {
                    own[x] = energy[x];
                }
            }
            for (d, &cents) in detunes.iter().enumerate() {
                // Windows only overlap below about 23 Hz; `from` keeps them from counting twice.
                let mut from = 0;
                for (a, b, _) in partial_windows(f * ratio(cents), bin_hz, top_hz, hi_bin) {
                    let a = a.max(from);
                    if b >= a {
                        gain[k][d] += own[a..=b].iter().sum::<f64>();
                    }
                    from = from.max(b + 1);
                }
            }
        }
        let total = energy.iter().sum();
        frames.push(Frame { energy, total, keys });
    }
    let nominal = detunes.iter().position(|&c| c == 0).expect("the grid holds 0");
    // Per key, the index into `detunes` of its detune.
    let chosen: Vec<usize> = gain
        .iter()
        .zip(&held)
        .map(|(g, &held)| {
            let best = (0..g.len()).max_by(|&a, &b| g[a].total_cmp(&g[b])).expect("detunes");
            if g[best] - g[nominal] > HARMONICITY_DETUNE_MARGIN * held {
                best
            } else {
                nominal
            }
        })
        .collect();

    let total: f64 = frames.iter().map(|f| f.total).sum();
    let nominal_grid = score_grid(&frames, |_| 1.0, (lo_bin, hi_bin), bin_hz, top_hz);
    let detuned_grid = score_grid(&frames, |k| ratio(detunes[chosen[k]]), (lo_bin, hi_bin), bin_hz, top_hz);
    // Each key's detune is judged on its own energy alone, so together they can lose
    // what neighbours shared (a chord of differently tuned samples): the detuned grid
    // counts only where it claims more of the item than the nominal one.
    let (grid, detuned) = if detuned_grid.on > nominal_grid.on { (detuned_grid, true) } else { (nominal_grid, false) };
    let weights: Vec<f64> = (0..128).map(|k| gain[k][chosen[k]]).collect();
    let weight: f64 = weights.iter().sum();
    (total > 0.0).then(|| Harmonicity {
        on_partials: grid.on / total,
        on_nominal_partials: nominal_grid.on / total,
        detune_cents: if detuned && weight > 0.0 { (0..128).map(|k| weights[k] * detunes[chosen[k]] as f64).sum::<f64>() / weight } else { 0.0 },
        overtone_share: if grid.on > 0.0 { grid.over / grid.on } else { 0.0 },
        chance: grid.covered / total,
    })
}

/// Sums over an item's frames for one grid: energy on partials, on overtones only, and
/// the band's energy-weighted share the windows cover.
#[derive(Clone, Copy)]
struct GridScore {
    on: f64,
    over: f64,
    covered: f64,
}

/// Scores `frames` with each key's partials at its frequency times `ratio(key)`.
fn score_grid(frames: &[Frame], ratio: impl Fn(usize) -> f64, (lo_bin, hi_bin): (usize, usize), bin_hz: f64, top_hz: f64) -> GridScore {
    let mut g = GridScore { on: 0.0, over: 0.0, covered: 0.0 };
    // 0: off every partial, 1: near an overtone only, 2: near a fundamental.
    let mut mask = vec![0u8; hi_bin + 1];
    for frame in frames {
        mask.fill(0);
        for &(k, f) in &frame.keys {
            for (a, b, fundamental) in partial_windows(f * ratio(k), bin_hz, top_hz, hi_bin) {
                for m in mask.iter_mut().take(b + 1).skip(a) {
                    *m = (*m).max(if fundamental { 2 } else { 1 });
                }
            }
        }
        let mut cover = 0usize;
        for b in (lo_bin..=hi_bin).filter(|&b| mask[b] > 0) {
            cover += 1;
            g.on += frame.energy[b];
            if mask[b] == 1 {
                g.over += frame.energy[b];
            }
        }
        g.covered += frame.total * cover as f64 / (hi_bin + 1 - lo_bin) as f64;
    }
    g
}
