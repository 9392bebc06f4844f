//! The whole training chain at quick size, on real FluidR3 renders: dataset → Mel2Mel
//! → vocoder → fine-tune → export with parity → the engine loads it and plays.

use std::path::Path;

use melwave::contract::ModelBytes;
use melwave::engine::EngineConfig;
use melwave::features::{Event, TimedEvent};
use melwave::render::render;
use melwave_train::checkpoint;
use melwave_train::dataset::{self, DatasetConfig, Split};
use melwave_train::train::{self, Options};
use melwave_train::{export, nets};

fn opts(data: &Path, run: &Path, steps: u64, batch: usize, frames: usize, lr: f64) -> Options {
    Options { batch, frames, lr, checkpoint_every: 10, validate_every: 10, ..Options::new(data, run, steps) }
}

fn first_and_last(run: &Path) -> (f64, f64) {
    let s = checkpoint::read_state(run).unwrap().unwrap();
    (s.history.first().unwrap().train, s.history.last().unwrap().train)
}

#[test]
fn quick_pipeline_trains_exports_and_plays() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut cfg = DatasetConfig::quick(dataset::synth::DEFAULT_FONT.into());
    cfg.real_files = 2;
    let m = dataset::build(&cfg, &data).expect("dataset builds (FluidR3 is installed by xtask)");
    assert!(m.items.iter().any(|i| i.split == Split::Train));

    let (m2m, voc, ft) = (tmp.path().join("m2m"), tmp.path().join("voc"), tmp.path().join("ft"));
    train::train_mel2mel(&opts(&data, &m2m, 60, 4, 128, 3e-3), &Default::default()).unwrap();
    train::train_vocoder(&opts(&data, &voc, 30, 2, 16, 2e-3), &Default::default()).unwrap();
    train::finetune_vocoder(&opts(&data, &ft, 10, 2, 16, 5e-4), &voc, &m2m).unwrap();
    // The same fine-tune with the discriminators (past their warm-up from step 3): they
    // are trained and saved with the checkpoint, and their terms add to the loss.
    let adv = tmp.path().join("adv");
    let adversarial = Options { adversarial: 1.0, critic_warmup: 2, ..opts(&data, &adv, 10, 2, 16, 5e-4) };
    train::finetune_vocoder(&adversarial, &voc, &m2m).unwrap();
    assert!(adv.join(nets::discriminator::FILE).is_file(), "the discriminators are saved with the checkpoint");
    let (plain, with) = (first_and_last(&ft).0, first_and_last(&adv).0);
    assert!(with > plain, "adversarial and feature-matching terms add to the same crops' loss: {plain} → {with}");
    let resumed = Options { steps: 20, ..adversarial };
    let state = train::finetune_vocoder(&resumed, &voc, &m2m).unwrap();
    assert_eq!(state.step, 20);
    assert!(state.history.iter().all(|p| p.train.is_finite() && p.validation.is_some_and(f64::is_finite)), "{:?}", state.history);
    let (a, b) = first_and_last(&m2m);
    assert!(b < a, "Mel2Mel loss falls: {a} → {b}");
    let (a, b) = first_and_last(&voc);
    assert!(b < a, "vocoder loss falls: {a} → {b}");
    assert!(m2m.join("loss.png").is_file() && voc.join("loss.png").is_file());

    let (mvs, mel2mel, mstate) = train::load_mel2mel(&m2m, tch::Device::Cpu).unwrap();
    let (vvs, vocoder, vstate) = train::load_vocoder(&ft, tch::Device::Cpu).unwrap();
    let instruments = export::instruments(&m.presets, &nets::points(&mvs));
    let manifest = melwave::contract::Manifest::new(
        serde_json::from_value(mstate.config).unwrap(),
        serde_json::from_value(vstate.config).unwrap(),
        instruments,
        serde_json::json!({ "trained": true }),
    );
    let events = dataset::store::read(&data.join(&m.items[0].file)).unwrap().events;
    let out = tmp.path().join("model");
    let parity = export::export(manifest, &mvs, &mel2mel, &vvs, &vocoder, Some(&events), &out).unwrap();
    assert!(parity.worst() <= 1e-4, "{parity:?}");
    assert!(parity.mel2mel_real.is_some() && parity.vocoder_real.is_some());

    let model = ModelBytes::from_dir(&out).unwrap();
    assert_eq!(model.manifest.instruments.len(), 10);
    let notes: Vec<TimedEvent> = [48u8, 60, 64, 67].iter().map(|&k| TimedEvent { time: 4800, event: Event::NoteOn { key: k, velocity: 100 } }).collect();
    let r = render(&model, &EngineConfig::new(48_000, 256), (0.5, 0.5), &notes, 48_000, 256, |_, _| {}).unwrap();
    let rms = (r.audio.iter().map(|v| v * v).sum::<f32>() / r.audio.len() as f32).sqrt();
    assert!(rms > 1e-4 && r.audio.iter().all(|v| v.is_finite()), "the trained model plays: rms {rms}");
}
