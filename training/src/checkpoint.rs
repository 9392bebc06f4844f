//! Resumable checkpoints: weights and optimizer moments in one safetensors file, the
//! step count and loss history in `state.json`.
//!
//! Every file is written under a temporary name and renamed into place, so a crash or
//! a full disk never leaves a half-written checkpoint where a resume would read it; the
//! previous checkpoint is kept as `checkpoint.prev.safetensors`. The step is stored in
//! both files, and a resume refuses a pair that disagree.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use crate::optim::Adam;

pub const WEIGHTS: &str = "checkpoint.safetensors";
pub const PREVIOUS: &str = "checkpoint.prev.safetensors";
pub const STATE: &str = "state.json";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LossPoint {
    pub step: u64,
    pub train: f64,
    pub validation: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// "mel2mel", "vocoder" or "finetune".
    pub kind: String,
    pub step: u64,
    pub cpu_seconds: f64,
    /// The model's config (Mel2MelConfig or VocoderConfig) as JSON.
    pub config: serde_json::Value,
    pub instruments: usize,
    pub history: Vec<LossPoint>,
}

pub fn save(dir: &Path, vs: &nn::VarStore, adam: &Adam, state: &TrainState) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create checkpoint folder {}", dir.display()))?;
    let mut tensors: Vec<(String, Tensor)> = vs.variables().into_iter().map(|(n, t)| (format!("w.{n}"), t)).collect();
    tensors.extend(adam.state());
    tensors.push(("meta.step".into(), Tensor::from(state.step as i64)));
    // The file holds host tensors whatever device trained them, so a GPU run resumes on a CPU.
    let mut tensors: Vec<(String, Tensor)> = tensors.into_iter().map(|(n, t)| (n, t.to_device(tch::Device::Cpu))).collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let current = dir.join(WEIGHTS);
    if current.exists() {
        // A hard link keeps the old weights as the previous checkpoint while the new
        // ones replace the current name, so there is no moment without either.
        let previous = dir.join(PREVIOUS);
        let _ = std::fs::remove_file(&previous);
        std::fs::hard_link(&current, &previous)
            .or_else(|_| std::fs::copy(&current, &previous).map(|_| ()))
            .with_context(|| format!("cannot keep the previous checkpoint in {}", dir.display()))?;
    }
    melwave::files::replace_with(&current, |tmp| Tensor::write_safetensors(&tensors, tmp).map_err(std::io::Error::other))
        .with_context(|| format!("cannot write checkpoint {}", current.display()))?;
    let json = serde_json::to_string_pretty(state)?;
    melwave::files::replace(&dir.join(STATE), json.as_bytes()).with_context(|| format!("cannot write checkpoint {}", dir.join(STATE).display()))
}

pub fn read_state(dir: &Path) -> Result<Option<TrainState>> {
    let path = dir.join(STATE);
    if !path.exists() {
        return Ok(None);
    }
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Some(serde_json::from_slice(&bytes).with_context(|| format!("{} is corrupt", path.display()))?))
}

/// The weights file of a run, for export and for initialising another run.
pub fn weights_path(dir: &Path) -> PathBuf {
    dir.join(WEIGHTS)
}

/// Reads a checkpoint's tensors, checking them against the state's step.
pub fn read_tensors(dir: &Path, state: &TrainState) -> Result<HashMap<String, Tensor>> {
    let path = weights_path(dir);
    let tensors: HashMap<String, Tensor> = Tensor::read_safetensors(&path)
        .with_context(|| format!("checkpoint {} is unreadable or corrupt; {} holds the one before it", path.display(), PREVIOUS))?
        .into_iter()
        .collect();
    let step = tensors.get("meta.step").map(|t| t.int64_value(&[])).context("checkpoint has no step")?;
    if step as u64 != state.step {
        bail!(
            "checkpoint {} is at step {step} but {STATE} says {}: the run was interrupted between the two writes; delete the folder or restore {PREVIOUS}",
            path.display(),
            state.step
        );
    }
    Ok(tensors)
}

/// Copies `w.*` tensors into the variables of `vs` (all of them must be present).
pub fn load_weights(vs: &mut nn::VarStore, tensors: &HashMap<String, Tensor>, skip: &[&str]) -> Result<()> {
    tch::no_grad(|| -> Result<()> {
        for (name, mut var) in vs.variables() {
            if skip.contains(&name.as_str()) {
                continue;
            }
            let t = tensors.get(&format!("w.{name}")).with_context(|| format!("checkpoint lacks weight {name}"))?;
            if t.size() != var.size() {
                bail!("checkpoint weight {name} has shape {:?}, the model {:?}", t.size(), var.size());
            }
            var.copy_(t);
        }
        Ok(())
    })
}

/// Variables a checkpoint may lack because they were added after it was written: a
/// Mel2Mel checkpoint written without the partials path loads with the path at zero,
/// where it changes nothing.
pub fn added_since(tensors: &HashMap<String, Tensor>) -> &'static [&'static str] {
    const PARTIALS: &[&str] = &[crate::nets::mel2mel::PARTIALS];
    if tensors.contains_key(&format!("w.{}", PARTIALS[0])) {
        &[]
    } else {
        PARTIALS
    }
}

/// Resumes `vs` and `adam` from `dir` if it holds a checkpoint of the same kind.
pub fn resume(dir: &Path, kind: &str, vs: &mut nn::VarStore, adam: &mut Adam) -> Result<Option<TrainState>> {
    let Some(state) = read_state(dir)? else {
        if dir.join(WEIGHTS).exists() {
            bail!("{} has a checkpoint but no {STATE}: it was interrupted while writing its first checkpoint; delete it", dir.display());
        }
        return Ok(None);
    };
    if state.kind != kind {
        bail!("{} holds a {} run, not {kind}", dir.display(), state.kind);
    }
    let tensors = read_tensors(dir, &state)?;
    let fresh = added_since(&tensors);
    load_weights(vs, &tensors, fresh)?;
    adam.load_state(&tensors, state.step as i64, fresh)?;
    Ok(Some(state))
}
