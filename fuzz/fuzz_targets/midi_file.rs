//! `melwave render`'s MIDI-file path on arbitrary bytes: parsing (midly plus our chunk
//! walk, tempo map, channel merge), conversion to timed events at several host rates,
//! and featurization of what comes out. It may refuse the input, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use melwave::contract::{HOP, SAMPLE_RATE};
use melwave::features::featurize_roll;
use melwave::midi_file;

fuzz_target!(|data: &[u8]| {
    let Ok(song) = midi_file::parse(data) else { return };
    assert!(song.duration.is_finite() && song.duration >= 0.0);
    for d in &song.damage {
        assert!(d.offset < data.len(), "a damaged event lies inside the file: {d}");
    }
    for rate in [8_000, 44_100, SAMPLE_RATE, 192_000] {
        let events = song.timed_events(rate);
        assert!(events.windows(2).all(|w| w[0].time <= w[1].time), "events are sorted");
    }
    // Featurize at most 20 s, so a file claiming hours stays fast.
    let events = song.timed_events(SAMPLE_RATE);
    let frames = (events.last().map_or(0, |e| e.time as usize) / HOP + 2).min(20 * SAMPLE_RATE as usize / HOP);
    let roll = featurize_roll(&events, frames);
    assert!(roll.iter().all(|v| (0.0..=1.0).contains(v)));
});
