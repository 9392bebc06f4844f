//! 24 kHz model audio → host rate, with rubato's windowed-sinc resampler fed one
//! frame (HOP samples) at a time. Feeding fixed frames, whatever the host's block
//! size, is what makes the output independent of how the host slices time.
//!
//! Why sinc and not rubato's FFT resampler: the resampler's delay is latency the
//! player hears. The FFT resampler's filter is as long as its FFT, which for one
//! 128-sample frame gave 2.67 ms at 48 kHz, and at 44.1 kHz (ratio 147:80, FFT blocks
//! of 160 input samples against 128-sample frames) it also buffered, adding ~6 ms. A
//! 64-point Blackman-Harris sinc has a linear-phase delay of 32 model samples
//! (1.33 ms) at every rate and nearly the same passband: rubato's cutoff for it is
//! 0.875 of 12 kHz (10.5 kHz), against 0.895 for the FFT resampler's 128-point
//! Blackman-Harris², and the window's sidelobes (−92 dB) keep images below −80 dB
//! (tested).

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Async, Fft, FixedAsync, FixedSync, Resampler, SincInterpolationParameters, SincInterpolationType, WindowFunction};

use crate::contract::{HOP, SAMPLE_RATE};

/// The sinc's length in model samples; its delay is half of it.
const SINC_LEN: usize = 64;
const _: () = assert!(HOP >= SINC_LEN, "a frame of zeros must fill the filter");

pub struct StreamResampler {
    inner: Option<Async<f32>>,
    buf: Vec<f32>,
    /// Output samples per frame where the ratio is a whole number (48, 72, 96 kHz…):
    /// every frame then yields exactly this many.
    whole: Option<usize>,
    /// Whether the last frame went through [`StreamResampler::process_silence`], so the
    /// filter holds nothing but zeros: its output is zeros until the next sound.
    settled: bool,
}

impl StreamResampler {
    pub fn new(host_rate: u32) -> Result<Self, String> {
        if host_rate == SAMPLE_RATE {
            return Ok(Self { inner: None, buf: Vec::new(), whole: Some(HOP), settled: false });
        }
        // Linear interpolation between 256 precomputed sinc phases: the table's error is
        // well below the window's sidelobes, at half the cost of cubic.
        let params = SincInterpolationParameters::new(SINC_LEN, WindowFunction::BlackmanHarris).oversampling_factor(256).interpolation(SincInterpolationType::Linear);
        let ratio = host_rate as f64 / SAMPLE_RATE as f64;
        let sinc = Async::<f32>::new_sinc(ratio, 1.0, &params, HOP, 1, FixedAsync::Input).map_err(|e| format!("cannot resample 24000 Hz to {host_rate} Hz: {e}"))?;
        let buf = vec![0.0; sinc.output_frames_max()];
        let whole = host_rate.is_multiple_of(SAMPLE_RATE).then_some(HOP * (host_rate / SAMPLE_RATE) as usize);
        Ok(Self { inner: Some(sinc), buf, whole, settled: false })
    }

    /// Output samples by which the resampler delays its input.
    pub fn delay(&self) -> usize {
        self.inner.as_ref().map_or(0, |r| r.output_delay())
    }

    /// The most samples one frame can produce.
    pub fn max_output(&self) -> usize {
        self.inner.as_ref().map_or(HOP, |r| r.output_frames_max())
    }

    /// Appends what one frame of silence resamples to. Once the filter holds only
    /// zeros at a whole-number ratio, that is a known count of zeros and the filter's
    /// state does not change, so nothing is computed: an idle engine costs less.
    pub fn process_silence(&mut self, out: &mut Vec<f32>) {
        match self.whole {
            Some(n) if self.settled => out.resize(out.len() + n, 0.0),
            _ => {
                self.process(&[0.0; HOP], out);
                // One whole frame of zeros fills the filter (HOP ≥ SINC_LEN).
                self.settled = true;
            }
        }
    }

    /// Resamples one frame (`HOP` samples) and appends the result to `out`.
    pub fn process(&mut self, frame: &[f32], out: &mut Vec<f32>) {
        debug_assert_eq!(frame.len(), HOP);
        self.settled = false;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A stretch of silence skipped at a settled filter gives the very samples, and
    /// the very sound after it, that resampling the zeros gives, at every rate.
    #[test]
    fn skipped_silence_is_the_same_stream_as_resampled_silence() {
        for rate in [24_000, 44_100, 48_000, 96_000] {
            let (mut computed, mut skipped) = (StreamResampler::new(rate).unwrap(), StreamResampler::new(rate).unwrap());
            let tone: Vec<f32> = (0..HOP).map(|i| (i as f32 * 0.3).sin()).collect();
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for _ in 0..3 {
                computed.process(&tone, &mut a);
                skipped.process(&tone, &mut b);
            }
            for _ in 0..20 {
                computed.process(&[0.0; HOP], &mut a);
                skipped.process_silence(&mut b);
            }
            for _ in 0..3 {
                computed.process(&tone, &mut a);
                skipped.process(&tone, &mut b);
            }
            assert_eq!(a, b, "{rate} Hz");
        }
    }
}
