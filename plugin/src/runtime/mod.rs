//! ONNX Runtime glue: finding and loading the shared library, choosing an execution
//! provider, and running the two streaming models with their state.

pub mod library;
pub mod pins;
pub mod provider;
pub mod session;

pub use library::environment;
pub use pins::{cache_dir, ORT_VERSION};
pub use provider::{Provider, ProviderReport};
pub use session::ModelRunner;
