//! 24 kHz model audio → host rate, with rubato's synchronous FFT resampler fed one
//! frame (HOP samples) at a time. Feeding fixed frames, whatever the host's block
//! size, is what makes the output independent of how the host slices time.

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use crate::contract::{HOP, SAMPLE_RATE};

pub struct StreamResampler {
    inner: Option<Fft<f32>>,
    buf: Vec<f32>,
}

impl StreamResampler {
    pub fn new(host_rate: u32) -> Result<Self, String> {
        if host_rate == SAMPLE_RATE {
            return Ok(Self { inner: None, buf: Vec::new() });
        }
        let fft = Fft::<f32>::new(SAMPLE_RATE as usize, host_rate as usize, HOP, 1, FixedSync::Input)
            .map_err(|e| format!("cannot resample 24000 Hz to {host_rate} Hz: {e}"))?;
        let buf = vec![0.0; fft.output_frames_max()];
        Ok(Self { inner: Some(fft), buf })
    }

    /// Output samples by which the resampler delays its input.
    pub fn delay(&self) -> usize {
        self.inner.as_ref().map_or(0, |r| r.output_delay())
    }

    /// The most samples one frame can produce.
    pub fn max_output(&self) -> usize {
        self.inner.as_ref().map_or(HOP, |r| r.output_frames_max())
    }

    /// Resamples one frame (`HOP` samples) and appends the result to `out`.
    pub fn process(&mut self, frame: &[f32], out: &mut Vec<f32>) {
        debug_assert_eq!(frame.len(), HOP);
        let Some(r) = self.inner.as_mut() else {
            out.extend_from_slice(frame);
            return;
        };
        let input = InterleavedSlice::new(frame, 1, HOP).expect("one channel of HOP samples");
        let cap = self.buf.len();
        let mut output = InterleavedSlice::new_mut(&mut self.buf, 1, cap).expect("buffer sized by output_frames_max");
        let (_, written) = r.process_into_buffer(&input, &mut output, None).expect("fixed-size input always resamples");
        out.extend_from_slice(&self.buf[..written]);
    }
}

/// A whole clip at `rate` Hz → the model rate, with the resampler's delay trimmed so
/// that sample 0 stays at time 0 (offline use: recordings brought to the model).
pub fn clip_to_model_rate(audio: &[f32], rate: u32) -> Result<Vec<f32>, String> {
    if rate == SAMPLE_RATE || audio.is_empty() {
        return Ok(audio.to_vec());
    }
    let mut r = Fft::<f32>::new(rate as usize, SAMPLE_RATE as usize, 1024, 1, FixedSync::Both).map_err(|e| format!("cannot resample {rate} Hz to {SAMPLE_RATE} Hz: {e}"))?;
    let input = InterleavedSlice::new(audio, 1, audio.len()).map_err(|e| format!("{e}"))?;
    let out = r.process_all(&input, audio.len(), None).map_err(|e| format!("resampling {rate} Hz to {SAMPLE_RATE} Hz failed: {e}"))?;
    Ok(out.take_data())
}
