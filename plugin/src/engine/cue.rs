//! What the audio side tells the inference thread, each stamped with the host sample
//! it takes effect at. Timbre travels in the same ring as the notes, so an automated
//! morph lands on its frame however late the inference thread runs, and a bounce
//! with automation is the same every time.

use crate::features::Event;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cue {
    /// A note, pedal, bend or reset, for the featurizer.
    Event(Event),
    /// The pad position from this sample on, each axis 0..1.
    Timbre { x: f32, y: f32 },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimedCue {
    /// Host sample.
    pub time: u64,
    pub cue: Cue,
}
