//! A model folder's manifest.json on arbitrary bytes: parsing and validation, then
//! what the engine derives from an accepted manifest (the pad's plane, instrument
//! look-ups). It may refuse the input, never panic, and what it accepts must give a
//! finite pad.
#![no_main]

use libfuzzer_sys::fuzz_target;
use melwave::contract::{Manifest, TimbrePlane};

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Manifest::parse(data) else { return };
    let plane = TimbrePlane::new(&m.instruments);
    for (x, y) in [(0.0, 0.0), (0.5, 0.5), (1.0, 1.0), (f32::NAN, 2.0)] {
        let p = plane.to_embedding(x, y);
        assert!(p.iter().all(|v| v.is_finite()), "an accepted manifest gives a finite pad: {p:?}");
    }
    for inst in &m.instruments {
        let (x, y) = plane.to_pad(&inst.point);
        assert!(x.is_finite() && y.is_finite());
        assert!(m.instrument(&inst.name).is_some());
    }
    // Written and read back, it is accepted again with the same instruments (the
    // free-form provenance may lose a float's last digit in the round trip).
    let back = Manifest::parse(m.to_json().as_bytes()).expect("a manifest this code wrote is accepted");
    assert_eq!(back.instruments, m.instruments);
});
