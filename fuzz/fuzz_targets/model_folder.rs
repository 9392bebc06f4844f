//! Loading a model folder whose graph is damaged: the embedded default model's
//! mel2mel.onnx or vocoder.onnx truncated, overwritten in places or grown, read
//! through `ModelBytes::from_dir` and handed to ONNX Runtime as the plugin would.
//! It may be refused, never panic; what loads must run a step.
//!
//! Needs ONNX Runtime: `ORT_DYLIB_PATH` (`cargo xtask fuzz` sets it).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use melwave::contract::{ModelBytes, HOP, ROLL_DIM, SOURCE_CHANNELS};
use melwave::runtime::{ModelRunner, Provider};

fn folder() -> &'static (tempfile::TempDir, ModelBytes) {
    static DIR: OnceLock<(tempfile::TempDir, ModelBytes)> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let model = ModelBytes::embedded().expect("the embedded model");
        model.write_dir(dir.path()).expect("written");
        (dir, model)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&op, rest)) = data.split_first() else { return };
    let (dir, model) = folder();
    let vocoder = op & 1 == 1;
    let good: &[u8] = if vocoder { &model.vocoder } else { &model.mel2mel };
    let file = dir.path().join(if vocoder { &model.manifest.vocoder.file } else { &model.manifest.mel2mel.file });
    let position = |b: &[u8]| u32::from_le_bytes([b.first().copied().unwrap_or(0), b.get(1).copied().unwrap_or(0), b.get(2).copied().unwrap_or(0), 0]) as usize % (good.len() + 1);
    let damaged: Vec<u8> = match (op >> 1) % 3 {
        // Truncated at a position.
        0 => good[..position(rest)].to_vec(),
        // Overwritten from a position with the rest of the input.
        1 => {
            let mut g = good.to_vec();
            let at = position(rest);
            for (i, b) in rest.iter().skip(3).enumerate() {
                if let Some(slot) = g.get_mut(at + i) {
                    *slot = *b;
                }
            }
            g
        }
        // Grown: the input appended.
        _ => [good, rest].concat(),
    };
    std::fs::write(&file, &damaged).expect("the temporary folder is writable");
    let loaded = ModelBytes::from_dir(dir.path()).and_then(|m| ModelRunner::new(&m, Provider::Cpu));
    std::fs::write(&file, good).expect("the temporary folder is writable");
    if let Ok(mut runner) = loaded {
        let mut audio = Vec::new();
        // A graph that loads may still fail to run; it must not panic.
        let _ = runner.step(&vec![0.0; ROLL_DIM], &vec![0.0; SOURCE_CHANNELS * HOP], [0.0, 0.0], &mut audio);
    }
});
