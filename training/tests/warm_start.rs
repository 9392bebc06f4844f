//! The vocoder warm start that hands the sine's learned input to the sawtooth.

use melwave::contract::{VocoderConfig, EMBED_DIM, HOP, N_MELS, SOURCE_CHANNELS};
use melwave::features::excitation::CHANNELS;
use melwave_train::nets::vocoder::Vocoder;
use melwave_train::train::route_sine_to_sawtooth;
use tch::{nn, Device, Kind, Tensor};

#[test]
fn the_rerouted_net_hears_the_sawtooth_as_the_old_one_heard_the_sine() {
    tch::manual_seed(4);
    let cfg = VocoderConfig { layers: 3, channels: 8, skip_channels: 8, dilation_cycle: 3 };
    let vs = nn::VarStore::new(Device::Cpu);
    let net = Vocoder::new(&vs.root(), &cfg, 2);
    let frames = 4;
    let n = (frames * HOP) as i64;
    let mel = Tensor::randn([1, frames as i64, N_MELS as i64], (Kind::Float, Device::Cpu));
    let e = Tensor::randn([1, EMBED_DIM as i64], (Kind::Float, Device::Cpu));
    let signal = Tensor::randn([1, 1, n], (Kind::Float, Device::Cpu)) * 0.1;
    let noise = Tensor::randn([1, 1, n], (Kind::Float, Device::Cpu)) * 0.03;
    let (sine, saw) = (CHANNELS.iter().position(|c| *c == "sine").unwrap(), CHANNELS.iter().position(|c| *c == "sawtooth").unwrap());
    let source = |at_sine: &Tensor, at_saw: &Tensor| {
        let mut parts: Vec<Tensor> = (0..SOURCE_CHANNELS).map(|_| noise.shallow_clone()).collect();
        parts[sine] = at_sine.shallow_clone();
        parts[saw] = at_saw.shallow_clone();
        Tensor::cat(&parts, 1)
    };
    let zero = Tensor::zeros([1, 1, n], (Kind::Float, Device::Cpu));
    let before = tch::no_grad(|| net.forward(&source(&signal, &zero), &mel, &e));
    route_sine_to_sawtooth(&vs).unwrap();
    // Whatever the sine channel now carries, it is not heard; the sawtooth is heard
    // as the sine was.
    let junk = Tensor::randn([1, 1, n], (Kind::Float, Device::Cpu));
    let after = tch::no_grad(|| net.forward(&source(&junk, &signal), &mel, &e));
    let diff = (&after - &before).abs().max().double_value(&[]);
    assert!(diff < 1e-5, "the rerouted net differs by {diff}");
    assert!(before.abs().max().double_value(&[]) > 1e-4, "the net makes a sound to compare");
}
