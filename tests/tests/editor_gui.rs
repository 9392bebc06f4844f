//! The editor, for real: the standalone app under Xvfb, a chord on the computer
//! keyboard held for a screenshot, and a drag on the XY pad through xdotool that
//! moves the timbre parameters
//! (see tests/hosts/editor_gui.sh).

use melwave_tests::repo_root;

#[test]
fn editor_opens_and_the_pad_drags_the_timbre() {
    let bin = std::env::var("MELWAVE_STANDALONE_BIN").expect("MELWAVE_STANDALONE_BIN names `melwave` built with the standalone feature; `cargo xtask test` builds it");
    let shot = repo_root().join("target/editor.png");
    let out = std::process::Command::new("bash").arg(repo_root().join("tests/hosts/editor_gui.sh")).arg(&bin).arg(&shot).output().expect("bash runs");
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "editor test failed:\n{log}");
    assert!(log.contains("editor drag: ok"), "{log}");
    assert!(log.contains("computer keyboard: ok"), "{log}");
    let png = std::fs::read(&shot).expect("a screenshot was written");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "the screenshot is a real picture ({} bytes)", png.len());
}
