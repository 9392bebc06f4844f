//! The excitation's buffer layout, written once: channel-major, `SOURCE_CHANNELS`
//! runs of `frames·HOP` samples, as the vocoder's `source` input takes it. One frame
//! of features is the same layout with `frames = 1`.

use crate::contract::{HOP, SOURCE_CHANNELS};

/// Writes one frame (`SOURCE_CHANNELS × HOP`) into frame `at` of `dst`, a buffer of
/// `frames` frames.
pub fn put_frame(dst: &mut [f32], frames: usize, at: usize, frame: &[f32]) {
    let n = frames * HOP;
    for c in 0..SOURCE_CHANNELS {
        dst[c * n + at * HOP..c * n + (at + 1) * HOP].copy_from_slice(&frame[c * HOP..(c + 1) * HOP]);
    }
}

/// Appends frames `from..from + count` of `src`, a buffer of `frames` frames, to
/// `out` in the same layout (a buffer of `count` frames once `out` was empty).
pub fn extend_with_frames(out: &mut Vec<f32>, src: &[f32], frames: usize, from: usize, count: usize) {
    let n = frames * HOP;
    for c in 0..SOURCE_CHANNELS {
        out.extend_from_slice(&src[c * n + from * HOP..c * n + (from + count) * HOP]);
    }
}
