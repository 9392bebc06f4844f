//! Checkpoints: an interrupted run resumes to exactly where an uninterrupted one
//! gets; unwritable folders and half-written checkpoints give clear errors.

use std::path::Path;

use melwave::sync::LockExt;
use melwave_train::checkpoint;
use melwave_train::dataset::{self, synth, DatasetConfig};
use melwave_train::train::{self, Options};

/// libtorch's random generator and thread count are process-wide, and the tests of
/// one file share a process: they take turns so that each run is reproducible.
static TORCH: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn data(dir: &Path) {
    let cfg = DatasetConfig { procedural: 3, procedural_seconds: 4.0, real_files: 0, programs: vec![0, 24], names: vec![], ..DatasetConfig::quick(synth::DEFAULT_FONT.into()) };
    dataset::build(&cfg, dir).unwrap();
}

fn opts(data: &Path, run: &Path, steps: u64) -> Options {
    Options { batch: 2, frames: 64, lr: 3e-3, checkpoint_every: 5, validate_every: 5, seed: 3, threads: 1, ..Options::new(data, run, steps) }
}

fn weights(run: &Path) -> Vec<(String, Vec<f32>)> {
    let (vs, _, _) = train::load_mel2mel(run, tch::Device::Cpu).unwrap();
    let mut w: Vec<_> = vs.variables().into_iter().map(|(n, t)| (n, Vec::<f32>::try_from(t.contiguous().view(-1)).unwrap())).collect();
    w.sort_by(|a, b| a.0.cmp(&b.0));
    w
}

#[test]
fn resumed_run_matches_an_uninterrupted_one() {
    let _turn = TORCH.locked();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("data");
    data(&d);
    let (straight, resumed) = (tmp.path().join("a"), tmp.path().join("b"));
    train::train_mel2mel(&opts(&d, &straight, 20), &Default::default()).unwrap();
    train::train_mel2mel(&Options { until: Some(10), ..opts(&d, &resumed, 20) }, &Default::default()).unwrap();
    assert_eq!(checkpoint::read_state(&resumed).unwrap().unwrap().step, 10);
    train::train_mel2mel(&opts(&d, &resumed, 20), &Default::default()).unwrap();
    let (a, b) = (weights(&straight), weights(&resumed));
    for ((na, wa), (_, wb)) in a.iter().zip(&b) {
        let diff = wa.iter().zip(wb).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
        assert!(diff < 1e-5, "{na} differs by {diff} after resuming");
    }
    assert!(resumed.join(checkpoint::PREVIOUS).is_file(), "the previous checkpoint is kept");
}

#[test]
fn unwritable_checkpoint_folder_is_a_clear_error() {
    let _turn = TORCH.locked();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("data");
    data(&d);
    // A run folder under a regular file cannot be created, even by root (a read-only
    // folder would not stop root).
    let blocker = tmp.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let err = train::train_mel2mel(&opts(&d, &blocker.join("run"), 5), &Default::default()).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("cannot create checkpoint folder") || msg.contains("cannot write checkpoint"), "{msg}");
}

#[test]
fn half_written_checkpoints_are_refused_clearly() {
    let _turn = TORCH.locked();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("data");
    data(&d);
    let run = tmp.path().join("run");
    train::train_mel2mel(&opts(&d, &run, 5), &Default::default()).unwrap();

    // Truncated weights file.
    let w = run.join(checkpoint::WEIGHTS);
    let bytes = std::fs::read(&w).unwrap();
    std::fs::write(&w, &bytes[..bytes.len() / 2]).unwrap();
    let msg = format!("{:#}", train::train_mel2mel(&opts(&d, &run, 10), &Default::default()).unwrap_err());
    assert!(msg.contains("corrupt"), "{msg}");
    std::fs::write(&w, &bytes).unwrap();

    // state.json from another step: the two writes were interrupted in between.
    let mut state = checkpoint::read_state(&run).unwrap().unwrap();
    state.step = 999;
    std::fs::write(run.join(checkpoint::STATE), serde_json::to_string(&state).unwrap()).unwrap();
    let msg = format!("{:#}", train::train_mel2mel(&opts(&d, &run, 1000), &Default::default()).unwrap_err());
    assert!(msg.contains("interrupted between the two writes"), "{msg}");

    // Weights without a state file.
    std::fs::remove_file(run.join(checkpoint::STATE)).unwrap();
    let msg = format!("{:#}", train::train_mel2mel(&opts(&d, &run, 10), &Default::default()).unwrap_err());
    assert!(msg.contains("interrupted while writing its first checkpoint"), "{msg}");

    // A temporary file from an interrupted write is ignored by a fresh run.
    let fresh = tmp.path().join("fresh");
    std::fs::create_dir_all(&fresh).unwrap();
    std::fs::write(melwave::files::temporary_name(&fresh.join(checkpoint::WEIGHTS)), b"half").unwrap();
    train::train_mel2mel(&opts(&d, &fresh, 5), &Default::default()).unwrap();
}
