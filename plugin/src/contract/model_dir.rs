//! A model as bytes: read from a folder or from the copy embedded in the binary,
//! or made from weights and written to a folder.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use super::default_model;
use super::manifest::{Manifest, ManifestError};
#[cfg(feature = "graph-writer")]
use super::{
    manifest::{Instrument, TRAINING_INSTRUMENTS},
    mel2mel::Mel2MelConfig,
    vocoder::VocoderConfig,
    weights::Weights,
};

pub const MANIFEST_FILE: &str = "manifest.json";

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model folder {0} does not exist")]
    MissingFolder(PathBuf),
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{origin}: {source}")]
    Manifest { origin: String, source: ManifestError },
    #[error("{origin}: {file} does not match the contract: {message}")]
    Graph { origin: String, file: String, message: String },
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
}

/// The three parts of a model, checked only as far as the manifest goes; the graphs
/// are checked when a runtime session loads them.
#[derive(Clone, Debug)]
pub struct ModelBytes {
    pub manifest: Manifest,
    pub mel2mel: Cow<'static, [u8]>,
    pub vocoder: Cow<'static, [u8]>,
    /// Where it came from, for messages: "embedded default model" or a path.
    pub origin: String,
}

/// The largest manifest a model folder may hold: a real one is a few kB.
pub const MAX_MANIFEST_BYTES: u64 = 1 << 20;
/// The largest graph a model folder may hold: the shipped ones are a few MB, and a
/// graph this size would already take seconds to load and more memory than a plugin
/// instance should.
pub const MAX_GRAPH_BYTES: u64 = 256 << 20;

/// Reads a regular file of at most `limit` bytes. A link is followed, but what it
/// points to must be a regular file: a FIFO would block the reader for good and a
/// device (`/dev/zero`) never ends, so neither is opened.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ModelError> {
    use std::io::Read;
    let refuse = |why: String| ModelError::Read { path: path.to_path_buf(), source: std::io::Error::new(std::io::ErrorKind::InvalidData, why) };
    let meta = std::fs::metadata(path).map_err(|source| ModelError::Read { path: path.to_path_buf(), source })?;
    if !meta.is_file() {
        return Err(refuse("not a regular file".into()));
    }
    if meta.len() > limit {
        return Err(refuse(format!("{} bytes, more than the {limit} a model file may have", meta.len())));
    }
    // Opened without blocking, in case the file was swapped for a FIFO since the check.
    #[cfg(unix)]
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)
    };
    #[cfg(not(unix))]
    let file = std::fs::File::open(path);
    let file = file.map_err(|source| ModelError::Read { path: path.to_path_buf(), source })?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut bytes).map_err(|source| ModelError::Read { path: path.to_path_buf(), source })?;
    if bytes.len() as u64 > limit {
        return Err(refuse(format!("grew past the {limit} bytes a model file may have while it was read")));
    }
    Ok(bytes)
}

impl ModelBytes {
    /// The default model compiled into this binary.
    pub fn embedded() -> Result<Self, ModelError> {
        let origin = "embedded default model".to_string();
        let manifest = Manifest::parse(default_model::MANIFEST).map_err(|source| ModelError::Manifest { origin: origin.clone(), source })?;
        Ok(Self { manifest, mel2mel: Cow::Borrowed(default_model::MEL2MEL), vocoder: Cow::Borrowed(default_model::VOCODER), origin })
    }

    pub fn from_dir(dir: &Path) -> Result<Self, ModelError> {
        if !dir.is_dir() {
            return Err(ModelError::MissingFolder(dir.to_path_buf()));
        }
        let origin = dir.display().to_string();
        let manifest = Manifest::parse(&read_bounded(&dir.join(MANIFEST_FILE), MAX_MANIFEST_BYTES)?).map_err(|source| ModelError::Manifest { origin: origin.clone(), source })?;
        let mel2mel = read_bounded(&dir.join(&manifest.mel2mel.file), MAX_GRAPH_BYTES)?;
        let vocoder = read_bounded(&dir.join(&manifest.vocoder.file), MAX_GRAPH_BYTES)?;
        Ok(Self { manifest, mel2mel: Cow::Owned(mel2mel), vocoder: Cow::Owned(vocoder), origin })
    }

    /// Builds both graphs from weights.
    #[cfg(feature = "graph-writer")]
    pub fn from_weights(manifest: Manifest, mel2mel: &Weights, vocoder: &Weights) -> Result<Self, String> {
        let m = manifest.mel2mel.config.build(mel2mel).map_err(|e| format!("mel2mel: {e}"))?;
        let v = manifest.vocoder.config.build(vocoder).map_err(|e| format!("vocoder: {e}"))?;
        Ok(Self { manifest, mel2mel: Cow::Owned(m), vocoder: Cow::Owned(v), origin: "weights".into() })
    }

    /// A contract-conforming model with deterministic random weights: what tests use,
    /// and what `melwave-train export --init random` writes.
    #[cfg(feature = "graph-writer")]
    pub fn random(seed: u64, mel2mel: Mel2MelConfig, vocoder: VocoderConfig) -> Self {
        let points = super::timbre::initial_points(TRAINING_INSTRUMENTS.len());
        let instruments = TRAINING_INSTRUMENTS.iter().zip(points).map(|(&(program, name), p)| Instrument::trained(name, program, p.to_vec())).collect();
        let provenance = serde_json::json!({ "init": "random", "seed": seed, "trained": false });
        let manifest = Manifest::new(mel2mel, vocoder, instruments, provenance);
        let wm = Weights::random(&manifest.mel2mel.config.weight_specs(), seed, |_| 1.0);
        // A quiet output layer keeps an untrained vocoder from blasting noise.
        let wv = Weights::random(&manifest.vocoder.config.weight_specs(), seed.wrapping_add(1), |n| match n {
            _ if n.starts_with("post2") || n.starts_with("filter.output") => 0.05,
            // No mel skip: the filters start near unity gain instead of wherever the
            // mel's level would put them.
            _ if n.starts_with("filter.skip") => 0.0,
            _ => 1.0,
        });
        let mut m = Self::from_weights(manifest, &wm, &wv).expect("random weights follow the specs they were made from");
        m.origin = format!("random model (seed {seed})");
        m
    }

    /// Writes the folder, each file through [`crate::files::replace`], so that a failed
    /// write never leaves a half-written file behind.
    pub fn write_dir(&self, dir: &Path) -> Result<(), ModelError> {
        std::fs::create_dir_all(dir).map_err(|source| ModelError::Write { path: dir.to_path_buf(), source })?;
        let json = self.manifest.to_json();
        let files: [(&str, &[u8]); 3] = [(&self.manifest.mel2mel.file, &self.mel2mel), (&self.manifest.vocoder.file, &self.vocoder), (MANIFEST_FILE, json.as_bytes())];
        for (name, bytes) in files {
            let path = dir.join(name);
            crate::files::replace(&path, bytes).map_err(|source| ModelError::Write { path: path.clone(), source })?;
        }
        Ok(())
    }
}
