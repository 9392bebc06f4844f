//! What a plain release build compiles into the plugin: neither the test-only hooks
//! (fault injection, the allocation check) nor the ONNX graph writers.

use melwave_tests::repo_root;

/// `cargo tree` at the workspace root with `args`, as `{package} {features}` lines.
fn cargo_tree(args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out =
        std::process::Command::new(cargo).current_dir(repo_root()).arg("tree").args(args).args(["-e", "normal", "-f", "{p} {f}", "--prefix", "none"]).output().expect("cargo runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn plugin_line(tree: &str) -> String {
    tree.lines().find(|l| l.starts_with("melwave v")).unwrap_or_else(|| panic!("no melwave line in {tree}")).to_string()
}

#[test]
fn a_plain_workspace_build_gives_the_plugin_no_test_hooks() {
    let plugin = plugin_line(&cargo_tree(&["-i", "melwave"]));
    for hook in ["fault-injection", "assert_process_allocs"] {
        assert!(!plugin.contains(hook), "a plain build turns on `{hook}`: {plugin}");
    }
    assert!(plugin.contains("plugin"), "the plugin feature is on: {plugin}");
}

/// The plugin's own build (what `cargo xtask bundle` compiles) leaves the ONNX graph
/// writers and protobuf out: the plugin only loads graphs.
#[test]
fn the_plugin_build_compiles_no_graph_writer() {
    let tree = cargo_tree(&["-p", "melwave"]);
    assert!(!tree.contains("protobuf"), "the plugin's build pulls in protobuf:\n{tree}");
    let plugin = plugin_line(&tree);
    assert!(!plugin.contains("graph-writer"), "{plugin}");
}
