//! MIDI events → piano-roll frames on the model's 24 kHz / hop-128 clock.
//!
//! A frame is the span of model samples `[f·HOP, (f+1)·HOP)`. An event at model
//! sample `s` belongs to frame `s / HOP`. Per frame the roll holds
//! `onset[k]` = the largest velocity/127 of note-ons on key `k` in the frame, and
//! `frame[k]` = 1 if key `k` sounded at any moment of the frame (held, or sustained
//! by the pedal), and `velocity[k]` = velocity/127 of the note sounding on key `k`
//! (its last strike) in every frame it sounds, else 0. "At any moment" is what lets a
//! note shorter than a frame still produce its onset, frame flag and velocity.
//!
//! The velocity channel repeats what the onset said: with the onset alone, Mel2Mel
//! had to carry each note's velocity in its LSTM state for the whole note, and from
//! the zero state the engine starts from (and returns to when idle) it did not. A
//! first C4 at velocity 20 came out 25–30 dB too loud, and a whole model's level
//! moved only 2–9 dB from velocity 20 to 127 where FluidR3's moves 32 dB.

use super::events::{Event, HeldKeys, NoteExpression, TimedEvent};
use super::excitation::Excitation;
use crate::contract::{HOP, KEYS, ROLL_DIM, SOURCE_CHANNELS};

/// Largest bend accepted, in semitones; anything beyond is clamped rather than
/// letting a corrupt event push sines past Nyquist.
const MAX_BEND: f32 = 24.0;

/// Key, pedal and bend state, advanced event by event and sampled frame by frame.
#[derive(Clone, Debug)]
pub struct RollState {
    held: HeldKeys,
    sustained: [bool; KEYS],
    pedal: bool,
    bend: f32,
    onset: [f32; KEYS],
    /// Velocity/127 of each key's last strike, while it sounds.
    velocity: [f32; KEYS],
    touched: [bool; KEYS],
    /// Keys whose sound must stop at once (choke, All Sound Off) after this frame.
    cut: [bool; KEYS],
    /// Each key's per-note expression, reset by its note-on.
    expression: [NoteExpression; KEYS],
}

impl Default for RollState {
    fn default() -> Self {
        Self {
            held: HeldKeys::default(),
            sustained: [false; KEYS],
            pedal: false,
            bend: 0.0,
            onset: [0.0; KEYS],
            velocity: [0.0; KEYS],
            touched: [false; KEYS],
            cut: [false; KEYS],
            expression: [NoteExpression::NEUTRAL; KEYS],
        }
    }
}

impl RollState {
    pub fn sounding(&self, key: usize) -> bool {
        self.held.is_held(key) || self.sustained[key]
    }

    /// Whether the frame now open would flag any key: one sounds, or was struck in it.
    pub fn active(&self) -> bool {
        (0..KEYS).any(|k| self.touched[k] || self.sounding(k))
    }

    /// Current pitch bend in semitones.
    pub fn bend(&self) -> f32 {
        self.bend
    }

    /// Each key's per-note expression.
    pub fn expression(&self) -> &[NoteExpression; KEYS] {
        &self.expression
    }

    pub fn apply(&mut self, event: &Event) {
        match *event {
            Event::NoteOn { key, velocity } => {
                let k = (key as usize) % KEYS;
                if velocity == 0 {
                    return self.apply(&Event::NoteOff { key });
                }
                self.held.press(k);
                self.sustained[k] = false;
                self.cut[k] = false;
                self.onset[k] = self.onset[k].max(velocity.min(127) as f32 / 127.0);
                self.velocity[k] = velocity.min(127) as f32 / 127.0;
                self.touched[k] = true;
                self.expression[k] = NoteExpression::NEUTRAL;
            }
            Event::Expression { key, expression } => self.expression[(key as usize) % KEYS].set(expression),
            Event::NoteOff { key } => {
                let k = (key as usize) % KEYS;
                if self.held.release(k) {
                    self.sustained[k] = self.pedal;
                }
            }
            Event::Choke { key } => {
                let k = (key as usize) % KEYS;
                self.held.clear(k);
                self.sustained[k] = false;
                self.cut[k] = true;
            }
            Event::Sustain(down) => {
                self.pedal = down;
                if !down {
                    self.sustained = [false; KEYS];
                }
            }
            Event::PitchBend(semitones) => {
                self.bend = if semitones.is_finite() { semitones.clamp(-MAX_BEND, MAX_BEND) } else { 0.0 };
            }
            Event::AllNotesOff => {
                for k in 0..KEYS {
                    if self.held.clear(k) {
                        self.sustained[k] = self.pedal;
                    }
                }
            }
            Event::AllSoundOff => {
                self.held.clear_all();
                self.sustained = [false; KEYS];
                self.pedal = false;
                self.cut = [true; KEYS];
            }
            Event::ResetControllers => {
                self.bend = 0.0;
                self.pedal = false;
                self.sustained = [false; KEYS];
            }
        }
    }

    /// Keys cut (choked or All Sound Off) since the last frame closed; clears the marks.
    pub fn take_cut(&mut self) -> [bool; KEYS] {
        std::mem::replace(&mut self.cut, [false; KEYS])
    }

    /// Closes the current frame: writes `onset[128]`, `frame[128]` then
    /// `velocity[128]` into `roll` (length [`ROLL_DIM`]) and starts the next frame.
    pub fn end_frame(&mut self, roll: &mut [f32]) {
        debug_assert_eq!(roll.len(), ROLL_DIM);
        for k in 0..KEYS {
            let flagged = self.touched[k] || self.sounding(k);
            roll[k] = self.onset[k];
            roll[KEYS + k] = if flagged { 1.0 } else { 0.0 };
            roll[2 * KEYS + k] = if flagged { self.velocity[k] } else { 0.0 };
            self.onset[k] = 0.0;
            self.touched[k] = self.sounding(k);
            if !self.touched[k] {
                self.velocity[k] = 0.0;
            }
        }
    }
}

/// One frame of model input: the roll row and the excitation block.
pub struct FrameFeatures<'a> {
    /// `onset[128]`, `frame[128]`, `velocity[128]`.
    pub roll: &'a [f32],
    /// `SOURCE_CHANNELS × HOP` samples, channel-major.
    pub source: &'a [f32],
}

/// Roll state plus excitation oscillators: the whole per-frame featurization that
/// the engine runs live and training runs over a MIDI file.
pub struct Featurizer {
    pub roll: RollState,
    pub excitation: Excitation,
    roll_buf: [f32; ROLL_DIM],
    source_buf: [f32; SOURCE_CHANNELS * HOP],
}

impl Featurizer {
    pub fn new(seed: u64) -> Self {
        Self { roll: RollState::default(), excitation: Excitation::new(seed), roll_buf: [0.0; ROLL_DIM], source_buf: [0.0; SOURCE_CHANNELS * HOP] }
    }

    pub fn apply(&mut self, event: &Event) {
        self.roll.apply(event);
    }

    /// Ends the frame whose events have all been applied and returns its features.
    pub fn end_frame(&mut self) -> FrameFeatures<'_> {
        self.roll.end_frame(&mut self.roll_buf);
        self.excitation.render_frame(&self.roll_buf[KEYS..], self.roll.bend(), self.roll.expression(), &mut self.source_buf);
        self.stop_cut_voices();
        FrameFeatures { roll: &self.roll_buf, source: &self.source_buf }
    }

    /// Closes a frame that nobody will hear (an idle engine's, with no note in it):
    /// the roll moves on as [`Featurizer::end_frame`] moves it, but the excitation
    /// renders nothing. Its noise, the one thing it would have made, starts over
    /// from its seed when the engine leaves idle.
    pub fn end_unheard_frame(&mut self) {
        self.roll.end_frame(&mut self.roll_buf);
        self.stop_cut_voices();
    }

    /// A cut key sounds to the end of the frame it was cut in (its frame flag is
    /// set), then its voice stops, release tail and all.
    fn stop_cut_voices(&mut self) {
        for (k, cut) in self.roll.take_cut().iter().enumerate() {
            if *cut {
                self.excitation.stop(k);
            }
        }
    }
}

/// Applies `events` (model samples, sorted) frame by frame, calling `frame(f, state)`
/// after the events of frame `f` and before it is closed.
fn for_each_frame(events: &[TimedEvent], n_frames: usize, mut apply: impl FnMut(&Event), mut frame: impl FnMut(usize)) {
    let mut next = 0;
    for f in 0..n_frames {
        let end = ((f + 1) * HOP) as u64;
        while next < events.len() && events[next].time < end {
            apply(&events[next].event);
            next += 1;
        }
        frame(f);
    }
}

/// Whole-sequence featurization of events stamped in model samples (sorted by time).
/// Returns `(roll, source)`: `n_frames × ROLL_DIM` and `SOURCE_CHANNELS × n_frames·HOP`
/// (channel-major, as the vocoder takes it). Training uses this; the engine runs the
/// same [`Featurizer`] one frame at a time.
pub fn featurize(events: &[TimedEvent], n_frames: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let f = std::cell::RefCell::new(Featurizer::new(seed));
    let mut roll = Vec::with_capacity(n_frames * ROLL_DIM);
    let n = n_frames * HOP;
    let mut source = vec![0.0; SOURCE_CHANNELS * n];
    for_each_frame(
        events,
        n_frames,
        |e| f.borrow_mut().apply(e),
        |frame| {
            let mut f = f.borrow_mut();
            let feats = f.end_frame();
            roll.extend_from_slice(feats.roll);
            super::layout::put_frame(&mut source, n_frames, frame, feats.source);
        },
    );
    (roll, source)
}

/// The roll alone (no excitation): what Mel2Mel training needs, at a fraction of the cost.
pub fn featurize_roll(events: &[TimedEvent], n_frames: usize) -> Vec<f32> {
    let state = std::cell::RefCell::new(RollState::default());
    let mut roll = vec![0.0; n_frames * ROLL_DIM];
    for_each_frame(events, n_frames, |e| state.borrow_mut().apply(e), |frame| state.borrow_mut().end_frame(&mut roll[frame * ROLL_DIM..(frame + 1) * ROLL_DIM]));
    roll
}
