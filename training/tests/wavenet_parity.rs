//! A vocoder with a WaveNet, exported: ONNX Runtime agrees with tch within the export
//! tolerance, and streams in blocks of 1, 7 and 64 frames as one whole call does, to
//! float rounding.

use melwave::contract::manifest::TRAINING_INSTRUMENTS;
use melwave::contract::{Manifest, Mel2MelConfig, ModelBytes, VocoderConfig};
use melwave_train::export;
use melwave_train::nets::mel2mel::Mel2Mel;
use melwave_train::nets::vocoder::{zero_wavenet, Vocoder};
use tch::nn;

fn model(mel_vs: &nn::VarStore, voc_vs: &nn::VarStore, cfg: &VocoderConfig) -> ModelBytes {
    let points = melwave_train::nets::points(mel_vs);
    let instruments = export::instruments(&TRAINING_INSTRUMENTS.iter().map(|&(p, n)| (p, n.to_string())).collect::<Vec<_>>(), &points);
    let manifest = Manifest::new(Mel2MelConfig { hidden: 64, layers: 1 }, cfg.clone(), instruments, serde_json::json!({ "trained": false }));
    ModelBytes::from_weights(manifest, &melwave_train::nets::weights(mel_vs), &melwave_train::nets::weights(voc_vs)).unwrap()
}

#[test]
fn a_vocoder_with_a_wavenet_matches_tch_and_streams_exactly() {
    tch::manual_seed(7);
    let instruments = TRAINING_INSTRUMENTS.len();
    let mel_vs = nn::VarStore::new(tch::Device::Cpu);
    let m2m = Mel2Mel::new(&mel_vs.root(), &Mel2MelConfig { hidden: 64, layers: 1 }, instruments);
    let cfg = VocoderConfig { layers: 6, channels: 16, skip_channels: 16, dilation_cycle: 6, ..Default::default() };
    let voc_vs = nn::VarStore::new(tch::Device::Cpu);
    let voc = Vocoder::new(&voc_vs.root(), &cfg, instruments);
    // A trained WaveNet's output layer is not zero, nor are its FiLM layers: give
    // every WaveNet weight a value, so that the whole stack is compared.
    tch::no_grad(|| {
        for (name, mut v) in voc_vs.variables() {
            if !name.starts_with("filter.") && name != "embedding" {
                v.copy_(&(v.randn_like() * 0.1));
            }
        }
    });
    let full = model(&mel_vs, &voc_vs, &cfg);
    let p = export::parity(&full, &m2m, &voc, None).unwrap();
    assert!(p.mel2mel_random <= export::TOLERANCE && p.vocoder_random <= export::TOLERANCE, "tch vs ONNX Runtime: {p:?}");
    // Not bit for bit: ONNX Runtime's matrix products block their sums by the number
    // of frames in a call, so the last bit can differ (measured: 1.5e-8).
    assert!(p.streaming <= 1e-6, "blocks of 1, 7 and 64 frames against one call: {p:?}");

    // The WaveNet is really in the comparison: zeroed, the audio changes.
    zero_wavenet(&voc_vs).unwrap();
    let ablated = model(&mel_vs, &voc_vs, &cfg);
    let (mut a, mut b) = (
        melwave::runtime::ModelRunner::new(&full, melwave::runtime::Provider::Cpu).unwrap(),
        melwave::runtime::ModelRunner::new(&ablated, melwave::runtime::Provider::Cpu).unwrap(),
    );
    let frames = 8;
    let roll = vec![0.0f32; frames * melwave::contract::ROLL_DIM];
    // Every channel in [0, 0.2): the level channel is a power, never negative.
    let source: Vec<f32> = (0..frames * melwave::contract::HOP * melwave::contract::SOURCE_CHANNELS).map(|i| ((i * 7919) % 200) as f32 / 1000.0).collect();
    let (_, with) = a.run_in_blocks(&roll, &source, [0.3, -0.2], frames).unwrap();
    let (_, without) = b.run_in_blocks(&roll, &source, [0.3, -0.2], frames).unwrap();
    assert!(with.iter().chain(&without).all(|v| v.is_finite()));
    let moved = with.iter().zip(&without).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(moved > 1e-3, "the WaveNet's output moved the audio by only {moved}");
}
