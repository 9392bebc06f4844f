//! Helpers shared by the end-to-end tests: a CLAP host, models built through the real contract,
//! and spectrum analysis for checking pitches.

pub mod clap;

use std::path::PathBuf;

use melwave::contract::{Mel2MelConfig, ModelBytes, VocoderConfig, Weights};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is in the workspace").to_path_buf()
}

/// A small random model (fast to run) built through the contract.
pub fn random_model(seed: u64) -> ModelBytes {
    ModelBytes::random(
        seed,
        Mel2MelConfig { hidden: 64, layers: 1 },
        VocoderConfig { filter_hidden: 64, layers: 6, channels: 16, skip_channels: 16, dilation_cycle: 3, ..Default::default() },
    )
}

/// A model whose vocoder passes the excitation's sine straight through (within
/// 1e-6 relative): filters shut (every log gain at its floor, −174 dB), and one
/// gated WaveNet layer in its near-linear range, split into positive and negative
/// halves around the ReLUs and recombined. Its output is a known
/// signal (sines at the played pitches), so it measures the engine's timing,
/// pitch and resampling exactly.
pub fn passthrough_model() -> ModelBytes {
    passthrough_model_with_gain(1.0)
}

/// [`passthrough_model`] with its output scaled by `gain`: a model whose output is
/// known and as loud as a test needs.
pub fn passthrough_model_with_gain(gain: f32) -> ModelBytes {
    let base = random_model(7);
    let cfg = base.manifest.vocoder.config.clone();
    let mut w = Weights::default();
    for (name, dims) in cfg.weight_specs() {
        let n = dims.iter().product();
        w.insert(&name, dims, vec![0.0; n]);
    }
    let (c, s) = (cfg.channels, cfg.skip_channels);
    let set = |w: &mut Weights, name: &str, idx: usize, v: f32| w.0.get_mut(name).expect("spec'd weight").data[idx] = v;
    let bins = cfg.filter_bins();
    for i in 0..2 * bins {
        set(&mut w, "filter.output.bias", i, -1000.0);
    }
    // input: channel 0 ← the sine.
    set(&mut w, "input.weight", 0, 1.0);
    // layer 0: tanh half, channel 0 ← 0.01·x0 at the newest tap (k = 2); σ half saturated at 1.
    set(&mut w, "layers.0.conv.weight", 2, 0.01);
    for ch in c..2 * c {
        set(&mut w, "layers.0.conv.bias", ch, 40.0);
    }
    // skip channels 0 and 1 ← ±100·gated0 (rows c and c+1 of res_skip).
    set(&mut w, "layers.0.res_skip.weight", c * c, 100.0);
    set(&mut w, "layers.0.res_skip.weight", (c + 1) * c, -100.0);
    // post1 = identity on the first two channels; post2 = ch0 − ch1.
    set(&mut w, "post1.weight", 0, 1.0);
    set(&mut w, "post1.weight", s + 1, 1.0);
    set(&mut w, "post2.weight", 0, gain);
    set(&mut w, "post2.weight", 1, -gain);
    let mel = Weights::random(&base.manifest.mel2mel.config.weight_specs(), 7, |_| 1.0);
    let mut m = ModelBytes::from_weights(base.manifest.clone(), &mel, &w).expect("weights follow the specs");
    m.origin = "passthrough test model".into();
    m
}

/// Magnitude spectrum (Blackman-Harris window), bin width `rate / len`.
pub fn spectrum(x: &[f32]) -> Vec<f32> {
    let n = x.len();
    // Blackman-Harris: sidelobes below −92 dB, so a weak partial is not hidden under a
    // strong one's leakage.
    let window = (0..n)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / n as f64;
            (0.35875 - 0.48829 * a.cos() + 0.14128 * (2.0 * a).cos() - 0.01168 * (3.0 * a).cos()) as f32
        })
        .collect();
    melwave::features::stft::Spectrum::new(n, window).frame(x, 0)[..n / 2].iter().map(|c| c.norm()).collect()
}

/// Frequency of the strongest spectral peak, refined by parabolic interpolation.
pub fn peak_frequency(x: &[f32], rate: f32) -> f32 {
    let s = spectrum(x);
    let (i, _) = s.iter().enumerate().skip(1).fold((0, 0.0f32), |best, (i, &v)| if v > best.1 { (i, v) } else { best });
    let (a, b, c) = (s[i - 1].max(1e-12).ln(), s[i].max(1e-12).ln(), s[(i + 1).min(s.len() - 1)].max(1e-12).ln());
    let d = 0.5 * (a - c) / (a - 2.0 * b + c);
    (i as f32 + if d.is_finite() { d } else { 0.0 }) * rate / x.len() as f32
}

pub fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

/// Runs the ignored test `name` of the current test binary in a child process with
/// `env_flag` set, for checks whose failure is an abort (the armed allocator) that
/// must not take the test runner down. Returns (exited successfully, stdout + stderr).
pub fn run_ignored_in_child(name: &str, env_flag: &str) -> (bool, String) {
    let out = std::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", name, "--ignored", "--nocapture", "--test-threads", "1"])
        .env(env_flag, "1")
        .output()
        .expect("the test binary runs");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}
