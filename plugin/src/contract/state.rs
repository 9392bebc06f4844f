//! The streaming state: each model step takes its recurrent and convolutional history
//! as inputs and returns it as outputs. The graph builders declare it, the manifest
//! records it and the runtime carries it from one call to the next.

use serde::{Deserialize, Serialize};

/// A state tensor carried from one step call to the next.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateSpec {
    pub input: String,
    pub output: String,
    pub shape: Vec<usize>,
}
