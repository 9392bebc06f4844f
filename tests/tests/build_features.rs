//! What a plain release build of the workspace compiles into the plugin: the
//! test-only hooks (fault injection, the allocation check) must not be in it.

use melwave_tests::repo_root;

#[test]
fn a_plain_workspace_build_gives_the_plugin_no_test_hooks() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .current_dir(repo_root())
        .args(["tree", "-e", "normal", "-i", "melwave", "-f", "{p} {f}", "--prefix", "none"])
        .output()
        .expect("cargo runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let plugin = text.lines().find(|l| l.starts_with("melwave v")).unwrap_or_else(|| panic!("no melwave line in {text}"));
    for hook in ["fault-injection", "assert_process_allocs"] {
        assert!(!plugin.contains(hook), "a plain build turns on `{hook}`: {plugin}");
    }
    assert!(plugin.contains("plugin"), "the plugin feature is on: {plugin}");
}

/// The plugin's own build (what `cargo xtask bundle` compiles) leaves the ONNX graph
/// writers and protobuf out: the plugin only loads graphs.
#[test]
fn the_plugin_build_compiles_no_graph_writer() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .current_dir(repo_root())
        .args(["tree", "-p", "melwave", "-e", "normal", "-f", "{p} {f}", "--prefix", "none"])
        .output()
        .expect("cargo runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains("protobuf"), "the plugin's build pulls in protobuf:\n{text}");
    let plugin = text.lines().find(|l| l.starts_with("melwave v")).unwrap_or_default();
    assert!(!plugin.contains("graph-writer"), "{plugin}");
}
