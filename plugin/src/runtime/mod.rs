//! ONNX Runtime glue: finding and loading the shared library, choosing an execution
//! provider, and running the two streaming models with their state.

pub mod library;
pub mod provider;
pub mod session;

pub use library::{cache_dir, environment, ORT_VERSION};
pub use provider::{Provider, ProviderReport};
pub use session::ModelRunner;
