//! The training side of the vocoder's filters: with every filter set to a flat gain,
//! the frame-by-frame FFT convolution and overlap-add must give the source back,
//! scaled exactly as the contract says (the harmonic gain is relative to the
//! source's `level` channel in each frame).

use melwave::contract::vocoder::{saw_reference_power, HARMONIC_CHANNEL, LEVEL_CHANNEL, NOISE_CHANNEL, POWER_FLOOR};
use melwave::contract::{VocoderConfig, EMBED_DIM, HOP, N_MELS, SOURCE_CHANNELS};
use melwave_train::nets::vocoder::Vocoder;
use tch::{nn, Device, Kind, Tensor};

/// A filters-only vocoder whose responses are fixed: `log|H_harm| = harm − p/2`,
/// `log|H_noise| = noise`, each `[taps + 1]`.
fn fixed(taps: usize, harm: &Tensor, noise: &Tensor) -> Vocoder {
    let cfg = VocoderConfig { filter_taps: taps, filter_hidden: 16, ..Default::default() };
    let vs = nn::VarStore::new(Device::Cpu);
    let mut net = Vocoder::new(&vs.root(), &cfg, 2);
    tch::no_grad(|| {
        let _ = net.filter.output.ws.zero_();
        let _ = net.filter.skip.ws.zero_();
        net.filter.output.bs.as_mut().unwrap().copy_(&Tensor::cat(&[harm, noise], 0));
    });
    net
}

/// [`fixed`] with flat responses.
fn flat(harm: f64, noise: f64, taps: usize) -> Vocoder {
    let k = taps as i64 + 1;
    let full = |v: f64| Tensor::full([k], v, (Kind::Float, Device::Cpu));
    fixed(taps, &full(harm), &full(noise))
}

fn to_vec(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.contiguous().view(-1)).unwrap()
}

#[test]
fn flat_filters_give_the_source_back_at_the_contracts_level() {
    tch::manual_seed(9);
    let frames = 6;
    let n = frames * HOP;
    let harm: Vec<f32> = (0..n).map(|i| ((i as f32 * 0.37).sin()) * [0.05f32, 0.3, 0.0, 1.0, 0.01, 0.2][i / HOP]).collect();
    let noise: Vec<f32> = (0..n).map(|i| ((i as f32 * 1.7).cos()) * 0.03).collect();
    let mut src = vec![0f32; SOURCE_CHANNELS * n];
    src[HARMONIC_CHANNEL * n..(HARMONIC_CHANNEL + 1) * n].copy_from_slice(&harm);
    src[NOISE_CHANNEL * n..(NOISE_CHANNEL + 1) * n].copy_from_slice(&noise);
    // A level that differs from the sawtooth's measured power, so the test tells
    // which one the gain follows.
    let level: Vec<f32> = (0..n).map(|i| 0.001 + 0.01 * (i / HOP) as f32 + 0.0001 * (i % 7) as f32).collect();
    src[LEVEL_CHANNEL * n..(LEVEL_CHANNEL + 1) * n].copy_from_slice(&level);
    let source = Tensor::from_slice(&src).reshape([1, SOURCE_CHANNELS as i64, n as i64]);
    let mel = Tensor::randn([1, frames as i64, N_MELS as i64], (Kind::Float, Device::Cpu));
    let e = Tensor::zeros([1, EMBED_DIM as i64], (Kind::Float, Device::Cpu));
    for taps in [HOP, 2 * HOP] {
        let (gh, gn) = (0.5f64, -1.0f64);
        let out = to_vec(&tch::no_grad(|| flat(gh, gn, taps).forward(&source, &mel, &e)));
        for f in 0..frames {
            let ms = level[f * HOP..(f + 1) * HOP].iter().sum::<f32>() / HOP as f32 + POWER_FLOOR;
            let p = (ms / saw_reference_power()).ln() as f64;
            let log_gain = (gh - p / 2.0).clamp(-20.0, 6.0);
            for i in f * HOP..(f + 1) * HOP {
                let want = (log_gain.exp() * harm[i] as f64 + gn.exp() * noise[i] as f64) as f32;
                assert!((out[i] - want).abs() < 2e-4 * (1.0 + want.abs()), "taps {taps}, sample {i}: {} vs {want}", out[i]);
            }
        }
    }
}

#[test]
fn a_shaped_filter_spills_into_the_next_frames_and_stays_causal() {
    // An impulse at the last sample of frame 2 through a low-pass filter: nothing
    // before it, and the response runs on into frames 3 and 4 (the overlap-add).
    let frames = 6;
    let n = frames * HOP;
    let taps = 2 * HOP;
    let k = taps as i64 + 1;
    let slope = Tensor::linspace(0.0, -8.0, k, (Kind::Float, Device::Cpu));
    let net = fixed(taps, &Tensor::full([k], -20.0, (Kind::Float, Device::Cpu)), &slope);
    let mut src = vec![0f32; SOURCE_CHANNELS * n];
    let at = 3 * HOP - 1;
    src[NOISE_CHANNEL * n + at] = 1.0;
    let source = Tensor::from_slice(&src).reshape([1, SOURCE_CHANNELS as i64, n as i64]);
    let mel = Tensor::zeros([1, frames as i64, N_MELS as i64], (Kind::Float, Device::Cpu));
    let e = Tensor::zeros([1, EMBED_DIM as i64], (Kind::Float, Device::Cpu));
    let out = to_vec(&tch::no_grad(|| net.forward(&source, &mel, &e)));
    assert!(out[..at].iter().all(|v| v.abs() < 1e-6), "nothing before the impulse");
    let spill: f32 = out[at + 1..at + 1 + 2 * HOP].iter().map(|v| v.abs()).sum();
    assert!(spill > 1e-3, "the filter's response continues past the frame: {spill}");
    // Low-pass: the response is smooth, its first difference far below its size.
    let size: f32 = out[at..].iter().map(|v| v.abs()).sum();
    let roughness: f32 = out[at..].windows(2).map(|w| (w[1] - w[0]).abs()).sum();
    assert!(roughness < 0.5 * size, "a low-pass response is smooth: {roughness} vs {size}");
}
