//! Execution providers. The CPU is the default. CUDA and TensorRT are compiled in
//! with the `cuda` / `tensorrt` features and registered explicitly: ONNX Runtime's
//! `is_available()` answers yes even when the CUDA libraries are missing, and the
//! convenience registration silently falls back, so Melwave registers by hand,
//! checks the result, falls back to the CPU itself and reports what it got.

use std::fmt;
use std::str::FromStr;

use ort::session::builder::SessionBuilder;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    #[default]
    Cpu,
    Cuda,
    #[serde(rename = "tensorrt")]
    TensorRt,
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provider::Cpu => "CPU",
            Provider::Cuda => "CUDA",
            Provider::TensorRt => "TensorRT",
        })
    }
}

impl FromStr for Provider {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Ok(Provider::Cpu),
            "cuda" => Ok(Provider::Cuda),
            "tensorrt" | "trt" => Ok(Provider::TensorRt),
            other => Err(format!("unknown execution provider `{other}` (choose cpu, cuda or tensorrt)")),
        }
    }
}

/// What was asked for, what runs, and why they differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderReport {
    pub requested: Provider,
    pub active: Provider,
    pub fallback_reason: Option<String>,
}

impl fmt::Display for ProviderReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.fallback_reason {
            None => write!(f, "{}", self.active),
            Some(why) => write!(f, "{} ({} requested but unavailable: {why})", self.active, self.requested),
        }
    }
}

/// Registers the requested provider on `builder`, or leaves it on the CPU and says why.
pub fn register(builder: &mut SessionBuilder, requested: Provider) -> ProviderReport {
    let result: Result<(), String> = match requested {
        Provider::Cpu => Ok(()),
        Provider::Cuda => register_cuda(builder),
        Provider::TensorRt => register_tensorrt(builder),
    };
    match result {
        Ok(()) => ProviderReport { requested, active: requested, fallback_reason: None },
        Err(why) => ProviderReport { requested, active: Provider::Cpu, fallback_reason: Some(why) },
    }
}

#[cfg(feature = "cuda")]
fn register_cuda(builder: &mut SessionBuilder) -> Result<(), String> {
    use ort::ep::ExecutionProvider;
    ort::ep::CUDA::default().register(builder).map_err(|e| e.to_string())
}

#[cfg(not(feature = "cuda"))]
fn register_cuda(_: &mut SessionBuilder) -> Result<(), String> {
    Err("this build has no CUDA support (build with `--features cuda`, bundle with `--gpu`)".into())
}

#[cfg(feature = "tensorrt")]
fn register_tensorrt(builder: &mut SessionBuilder) -> Result<(), String> {
    use ort::ep::ExecutionProvider;
    ort::ep::TensorRT::default().register(builder).map_err(|e| e.to_string())
}

#[cfg(not(feature = "tensorrt"))]
fn register_tensorrt(_: &mut SessionBuilder) -> Result<(), String> {
    Err("this build has no TensorRT support (build with `--features tensorrt`, bundle with `--gpu`)".into())
}
