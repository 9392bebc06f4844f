//! `cargo xtask <command>`: every setup step of the project lives here, so that a
//! fresh clone needs nothing installed by hand.
//!
//! - `ort [--gpu]`  fetch libonnxruntime from the PyPI wheel (through pip), cache it, print its path
//! - `demo`         render assets/demo.mid with the embedded default model
//! - `test`         set up everything the tests need, then run them all
//! - `bundle melwave [--release] [--gpu]`  CLAP + VST3 bundles in target/bundled, with
//!   ONNX Runtime beside the plugin binary
//! - `lint`         rustfmt's check, then clippy on the whole workspace and on fuzz/,
//!   warnings as errors (CI runs it)
//! - `bench`        print the engine's speed figures
//! - `train [--quick] [--until STEP]` the whole training chain: setup, dataset,
//!   Mel2Mel, vocoder (full size: continuing the committed checkpoints, up to STEP),
//!   fine-tune, export, evaluation

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The engine's own pins (the ONNX Runtime release, the cache folder), compiled here
/// from the same file so that the two cannot disagree.
#[path = "../../plugin/src/runtime/pins.rs"]
mod pins;
use pins::ORT_VERSION;

/// The download cache; xtask cannot work without one.
fn cache_dir() -> PathBuf {
    pins::cache_dir().expect("set HOME or MELWAVE_CACHE to an absolute folder for Melwave's download cache")
}

/// The engine's durable temp-file-then-rename write, compiled here from the same file.
#[path = "../../plugin/src/files.rs"]
#[allow(dead_code)]
mod files;

/// The name hash the training crate's dataset split uses, from the same file.
#[path = "../../plugin/src/stable_hash.rs"]
mod stable_hash;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd.status().with_context(|| format!("cannot start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Downloads the onnxruntime wheel with pip and extracts the shared library(ies).
fn ensure_ort(gpu: bool) -> Result<PathBuf> {
    let flavour = if gpu { "gpu" } else { "cpu" };
    let dir = cache_dir().join("ort").join(format!("{ORT_VERSION}-{flavour}"));
    let lib = dir.join(format!("libonnxruntime.so.{ORT_VERSION}"));
    if lib.is_file() {
        return Ok(lib);
    }
    let package = if gpu { "onnxruntime-gpu" } else { "onnxruntime" };
    let wheels = cache_dir().join("wheels");
    std::fs::create_dir_all(&wheels)?;
    run(Command::new(python()).args(["-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "-d"]).arg(&wheels).arg(format!("{package}=={ORT_VERSION}")))?;
    let prefix = format!("{}-{ORT_VERSION}-", package.replace('-', "_"));
    let wheel = std::fs::read_dir(&wheels)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&prefix)))
        .with_context(|| format!("pip downloaded no {package} wheel into {}", wheels.display()))?;
    let unpack = cache_dir().join("ort").join(format!("{ORT_VERSION}-{flavour}.unpack"));
    let _ = std::fs::remove_dir_all(&unpack);
    run(Command::new(python()).args(["-m", "zipfile", "-e"]).arg(&wheel).arg(&unpack))?;
    std::fs::create_dir_all(&dir)?;
    let capi = unpack.join("onnxruntime").join("capi");
    for entry in std::fs::read_dir(&capi).with_context(|| format!("{} has no onnxruntime/capi", wheel.display()))? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy().to_string();
        if name.starts_with("libonnxruntime") && name.contains(".so") {
            // An interrupted fetch never leaves a truncated library in the cache.
            files::replace_with(&dir.join(&name), |tmp| std::fs::copy(&path, tmp).map(|_| ()))?;
        }
    }
    let _ = std::fs::remove_dir_all(&unpack);
    if !lib.is_file() {
        bail!("the {package} wheel held no libonnxruntime.so.{ORT_VERSION}");
    }
    Ok(lib)
}

/// torch 2.13.0 exactly: the version `tch` 0.26 is built for.
const TORCH_VERSION: &str = "2.13.0";

/// The venv holding torch for the training crate, created on first use. It lives in
/// the cache, outside the clone, because it is about 5 GB.
fn ensure_torch() -> Result<PathBuf> {
    let venv = cache_dir().join("torch-venv");
    let py = venv.join("bin").join("python");
    let check = format!("import torch, sys; sys.exit(0 if torch.__version__.split('+')[0] == '{TORCH_VERSION}' else 1)");
    if py.is_file() && Command::new(&py).args(["-c", &check]).status().is_ok_and(|s| s.success()) {
        return Ok(venv);
    }
    if !py.is_file() {
        run(Command::new(python()).args(["-m", "venv"]).arg(&venv))?;
    }
    run(Command::new(&py).args(["-m", "pip", "install", "--quiet", &format!("torch=={TORCH_VERSION}")]))?;
    Ok(venv)
}

/// A venv with pedalboard (a JUCE VST3 host) for the host tests.
fn ensure_host_python() -> Result<PathBuf> {
    let venv = cache_dir().join("host-venv");
    let py = venv.join("bin").join("python");
    if py.is_file() && Command::new(&py).args(["-c", "import pedalboard, mido, numpy"]).status().is_ok_and(|s| s.success()) {
        return Ok(py);
    }
    if !py.is_file() {
        run(Command::new(python()).args(["-m", "venv"]).arg(&venv))?;
    }
    run(Command::new(&py).args(["-m", "pip", "install", "--quiet", "pedalboard", "mido", "numpy"]))?;
    Ok(py)
}

/// Cargo with the environment torch-sys needs: build against the venv's torch.
fn cargo_with_torch(venv: &Path) -> Command {
    let mut c = cargo();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![venv.join("bin")];
    paths.extend(std::env::split_paths(&path));
    c.env("PATH", std::env::join_paths(paths).expect("valid PATH"));
    c.env("LIBTORCH_USE_PYTORCH", "1");
    c
}

/// Debian packages for the standalone build (ALSA, JACK) and the headless editor test.
/// Debian packages the standalone app builds against (ALSA and JACK).
const STANDALONE_PACKAGES: [&str; 3] = ["libasound2-dev", "pkg-config", "libjack-jackd2-dev"];

const GUI_PACKAGES: [&str; 9] = ["libasound2-dev", "pkg-config", "libjack-jackd2-dev", "xvfb", "x11-utils", "xdotool", "imagemagick", "libgl1-mesa-dri", "jackd2"];

/// Debian packages for the Ardour host test: Ardour 7 (with `ardour7-lua`) and jackd,
/// whose dummy driver stands in for a sound card.
const ARDOUR_PACKAGES: [&str; 2] = ["ardour", "jackd2"];

/// Debian packages the training data comes from: the SoundFont and the MIDI corpora,
/// and a second font (TimGM6mb) whose renders stand in for recordings in the
/// add-instrument tests.
const DATA_PACKAGES: [&str; 7] = ["fluid-soundfont-gm", "simutrans-data", "openttd-openmsx", "planetblupi-music-midi", "mma", "freedink-data", "timgm6mb-soundfont"];

fn installed(pkg: &str) -> bool {
    Command::new("dpkg-query").args(["-W", "-f=${Status}", pkg]).output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

/// Installs the Debian packages that are missing (the machines run as root; elsewhere
/// the command to run is printed).
fn ensure_debian(packages: &[&str]) -> Result<()> {
    let missing: Vec<&str> = packages.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        bail!("missing Debian packages; install them with: sudo apt-get install {}", missing.join(" "));
    }
    let install = |missing: &[&str]| Command::new("apt-get").env("DEBIAN_FRONTEND", "noninteractive").args(["install", "-y", "-q"]).args(missing).status();
    if !install(&missing).is_ok_and(|s| s.success()) {
        // A fresh machine has no package lists yet.
        run(Command::new("apt-get").args(["update", "-q"]))?;
        run(Command::new("apt-get").env("DEBIAN_FRONTEND", "noninteractive").args(["install", "-y", "-q"]).args(&missing))?;
    }
    Ok(())
}

/// `cargo xtask bundle melwave [--release] [--gpu]`'s plugins: nice-plug's bundler,
/// then the bundles get their product names and the ONNX Runtime library beside the
/// plugin binary, where the plugin looks for it (relative to its own file, never the
/// host's).
fn bundle_plugins(args: &[String]) -> Result<PathBuf> {
    let gpu = args.iter().any(|a| a == "--gpu");
    let lib = ensure_ort(gpu)?;
    let mut pass: Vec<String> = args.iter().filter(|a| *a != "--gpu").cloned().collect();
    if gpu {
        pass.extend(["--features".into(), "cuda,tensorrt".into()]);
    }
    nice_plug_xtask::chdir_workspace_root()?;
    nice_plug_xtask::main_with_args("cargo xtask", pass)?;
    let bundled = workspace_root().join("target").join("bundled");
    let clap = bundled.join("Melwave.clap");
    let vst3 = bundled.join("Melwave.vst3");
    if bundled.join("melwave.clap").exists() {
        let _ = std::fs::remove_file(&clap);
        std::fs::rename(bundled.join("melwave.clap"), &clap)?;
    }
    if bundled.join("melwave.vst3").exists() {
        let _ = std::fs::remove_dir_all(&vst3);
        std::fs::rename(bundled.join("melwave.vst3"), &vst3)?;
    }
    let vst3_bin = vst3.join("Contents").join("x86_64-linux");
    if vst3_bin.join("melwave.so").exists() {
        std::fs::rename(vst3_bin.join("melwave.so"), vst3_bin.join("Melwave.so"))?;
    }
    let libs: Vec<PathBuf> = std::fs::read_dir(lib.parent().expect("library in a folder"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("libonnxruntime")))
        .collect();
    for dir in [&bundled, &vst3_bin] {
        // A CPU bundle made after a GPU one must not keep its provider libraries.
        for old in std::fs::read_dir(dir)?.filter_map(|e| e.ok().map(|e| e.path())) {
            if old.file_name().is_some_and(|n| n.to_string_lossy().starts_with("libonnxruntime")) {
                std::fs::remove_file(&old)?;
            }
        }
        for l in &libs {
            std::fs::copy(l, dir.join(l.file_name().expect("file")))?;
        }
    }
    println!("{}\n{}", clap.display(), vst3.display());
    Ok(bundled)
}

/// `cargo xtask bundle`: the plugins, then the standalone app beside them (the same
/// instrument with its editor, on JACK or ALSA audio and MIDI), where it finds the
/// same ONNX Runtime. The tests, the bench and the soak need only the plugins.
fn bundle(args: &[String]) -> Result<PathBuf> {
    let bundled = bundle_plugins(args)?;
    let gpu = args.iter().any(|a| a == "--gpu");
    ensure_debian(&STANDALONE_PACKAGES)?;
    let release = args.iter().any(|a| a == "--release");
    let mut app = cargo();
    app.args(["build", "-p", "melwave", "--features", if gpu { "standalone,cuda,tensorrt" } else { "standalone" }, "--bin", "melwave"]);
    if release {
        app.arg("--release");
    }
    run(&mut app)?;
    let built = workspace_root().join("target").join(if release { "release" } else { "debug" }).join("melwave");
    let standalone = bundled.join("melwave");
    std::fs::copy(&built, &standalone)?;
    println!("{}", standalone.display());
    Ok(bundled)
}

/// `cargo xtask train [--quick]`.
/// The full-size schedule of the shipped model: Mel2Mel and the vocoder continue
/// the committed checkpoints; the vocoder's cosine schedule spans this many steps and
/// can be trained in slices (`--until`) across sessions.
const FULL_VOCODER_STEPS: &str = "5000";
/// The filter vocoder's batch (crops × frames) and learning rate: the net is small
/// enough that a larger batch costs little, and 2e-3 diverged after 200 steps.
const FULL_VOCODER_BATCH: &str = "8";
const FULL_VOCODER_FRAMES: &str = "64";
const FULL_VOCODER_LR: &str = "5e-4";
/// Mel2Mel: 14 000 steps on a cosine schedule at lr 5e-4 (about 2 CPU h on 2 threads):
/// every evaluation figure keeps improving that far (docs/training.md). A model of
/// other instruments (`--font`) runs this from the shipped weights.
const FULL_MEL2MEL_STEPS: &str = "14000";
const FULL_MEL2MEL_LR: &str = "5e-4";
/// The shipped Mel2Mel's last stage: 6 000 steps warm-started from the one before at
/// lr 2e-4, with the level term at 0.1, three quarters of each batch drawn key first,
/// the power-weighted band L1 at 0.05 and half of each batch drawn velocity group
/// first. The committed checkpoint is that stage's, and `cargo xtask train` continues
/// it with these settings. The stages before it: models/default/MODEL_CARD.md.
const CONTINUED_MEL2MEL_STEPS: &str = "6000";
const CONTINUED_MEL2MEL_LR: &str = "2e-4";
const CONTINUED_MEL2MEL_LEVEL_WEIGHT: &str = "0.1";
const CONTINUED_KEY_BALANCE: &str = "0.75";
const CONTINUED_MEL2MEL_LOUD_BAND_WEIGHT: &str = "0.05";
const CONTINUED_VELOCITY_BALANCE: &str = "0.5";
const FULL_FINETUNE_STEPS: &str = "800";
/// The shipped model's version: the name of its run folder in the cache.
const SHIPPED_MODEL: &str = "v4.7";
/// The vocoder's frame-level loudness term: without it the MR-STFT and log-mel terms,
/// which count every quiet bin, leave onsets several dB soft (docs/training.md §3).
const FULL_LEVEL_WEIGHT: &str = "1";

/// Copies a committed checkpoint folder into a run folder that has none, so a fresh
/// machine continues the shipped model instead of starting over.
fn seed_run(from: &Path, to: &Path) -> Result<()> {
    if to.join("state.json").is_file() || !from.join("state.json").is_file() {
        return Ok(());
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let path = entry?.path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().expect("a file")))?;
        }
    }
    eprintln!("xtask: {} continues from {}", to.display(), from.display());
    Ok(())
}

/// Instruments of the user's choosing: `cargo xtask train --font F --programs 0,40,73
/// [--bank N] [--names a,b,c] [--out DIR]`.
struct CustomSet {
    font: String,
    programs: String,
    bank: Option<String>,
    names: Option<String>,
    out: Option<PathBuf>,
}

impl CustomSet {
    fn from_args(args: &[String]) -> Result<Option<Self>> {
        let font = value_of(args, "--font");
        let programs = value_of(args, "--programs");
        let (font, programs) = match (font, programs) {
            (None, None) => return Ok(None),
            (f, Some(p)) => (f.unwrap_or("/usr/share/sounds/sf2/FluidR3_GM.sf2").to_string(), p.to_string()),
            (Some(_), None) => bail!("--font needs --programs: which of the font's presets to train (e.g. --programs 0,40,73)"),
        };
        let s = |f: &str| value_of(args, f).map(str::to_string);
        Ok(Some(Self { font, programs, bank: s("--bank"), names: s("--names"), out: s("--out").map(PathBuf::from) }))
    }

    /// A folder name that is the same for the same choice, so a rerun resumes.
    fn key(&self) -> String {
        let all = format!("{}|{}|{:?}|{:?}", self.font, self.programs, self.bank, self.names);
        format!("custom-{:016x}", stable_hash::fnv1a(&all))
    }
}

fn train(quick: bool, until: Option<&str>, custom: Option<CustomSet>) -> Result<()> {
    let lib = ensure_ort(false)?;
    let venv = ensure_torch()?;
    ensure_debian(&DATA_PACKAGES)?;
    run(cargo_with_torch(&venv).args(["build", "-p", "melwave-train"]))?;
    let bin = workspace_root().join("target").join("debug").join("melwave-train");
    let (data, runs, out) = if quick {
        let base = workspace_root().join("target").join("train-quick");
        // The quick run starts from scratch every time, so CI always tests the whole chain.
        let _ = std::fs::remove_dir_all(&base);
        (base.join("data"), base.join("runs"), base.join("model"))
    } else if let Some(c) = &custom {
        let key = c.key();
        let out = c.out.clone().unwrap_or_else(|| workspace_root().join("target").join("models").join(&key));
        (cache_dir().join("datasets").join(&key), cache_dir().join("runs").join(&key), out)
    } else {
        // A run folder holds one model's run: a run of another model (another contract's
        // nets, or older weights) would be resumed instead of the shipped checkpoints,
        // so the shipped model trains in a folder named after it.
        (cache_dir().join("datasets").join("full-v4"), cache_dir().join("runs").join(SHIPPED_MODEL), workspace_root().join("models").join("default"))
    };
    let tool = |args: &[&str]| -> Command {
        let mut c = Command::new(&bin);
        c.env("ORT_DYLIB_PATH", &lib).args(args);
        if quick {
            c.arg("--quick");
        }
        c
    };
    let p = |p: &Path| p.display().to_string();
    let (m2m, voc, ft) = (runs.join("mel2mel"), runs.join("vocoder"), runs.join("finetune"));
    if !data.join("dataset.json").is_file() {
        let mut dataset = tool(&["dataset", "--out", &p(&data)]);
        if let Some(c) = &custom {
            dataset.args(["--font", &c.font, "--programs", &c.programs]);
            if let Some(b) = &c.bank {
                dataset.args(["--bank", b]);
            }
            if let Some(n) = &c.names {
                dataset.args(["--names", n]);
            }
        }
        run(&mut dataset)?;
    }
    if quick {
        run(&mut tool(&["train", "mel2mel", "--data", &p(&data), "--run", &p(&m2m)]))?;
        run(&mut tool(&["train", "vocoder", "--data", &p(&data), "--run", &p(&voc)]))?;
    } else {
        let shipped = workspace_root().join("models").join("default").join("checkpoints");
        let (m2m_steps, m2m_lr) = if custom.is_some() { (FULL_MEL2MEL_STEPS, FULL_MEL2MEL_LR) } else { (CONTINUED_MEL2MEL_STEPS, CONTINUED_MEL2MEL_LR) };
        let mut mel2mel = tool(&["train", "mel2mel", "--data", &p(&data), "--run", &p(&m2m), "--threads", "1", "--steps", m2m_steps, "--lr", m2m_lr, "--checkpoint-every", "500"]);
        if custom.is_none() {
            mel2mel.args([
                "--mel2mel-level-weight",
                CONTINUED_MEL2MEL_LEVEL_WEIGHT,
                "--key-balance",
                CONTINUED_KEY_BALANCE,
                "--mel2mel-loud-band-weight",
                CONTINUED_MEL2MEL_LOUD_BAND_WEIGHT,
                "--velocity-balance",
                CONTINUED_VELOCITY_BALANCE,
            ]);
        }
        let mut vocoder = tool(&[
            "train",
            "vocoder",
            "--data",
            &p(&data),
            "--run",
            &p(&voc),
            "--threads",
            "1",
            "--steps",
            FULL_VOCODER_STEPS,
            "--batch",
            FULL_VOCODER_BATCH,
            "--frames",
            FULL_VOCODER_FRAMES,
            "--lr",
            FULL_VOCODER_LR,
            "--checkpoint-every",
            "100",
            "--level-weight",
            FULL_LEVEL_WEIGHT,
        ]);
        // A GPU where torch sees one; the quick run stays on the tested CPU path.
        mel2mel.args(["--device", "auto"]);
        vocoder.args(["--device", "auto"]);
        if custom.is_some() {
            // Other instruments: new runs that start from the shipped weights (all but
            // the embedding, whose size follows the number of instruments).
            mel2mel.args(["--warm-start", &p(&shipped.join("mel2mel"))]);
            vocoder.args(["--warm-start", &p(&shipped.join("vocoder"))]);
        } else {
            seed_run(&shipped.join("mel2mel"), &m2m)?;
            seed_run(&shipped.join("vocoder"), &voc)?;
        }
        // Two stages, one core each, at once.
        let mut a = mel2mel.spawn()?;
        if let Some(u) = until {
            vocoder.args(["--until", u]);
        }
        let mut b = vocoder.spawn()?;
        let (ra, rb) = (a.wait()?, b.wait()?);
        if !ra.success() || !rb.success() {
            bail!("training failed (mel2mel: {ra}, vocoder: {rb}); rerun to resume from the checkpoints");
        }
        // The fine-tune is short and always starts from the vocoder as it is now.
        let _ = std::fs::remove_dir_all(&ft);
    }
    let mut finetune = tool(&["train", "finetune", "--data", &p(&data), "--run", &p(&ft), "--vocoder", &p(&voc), "--mel2mel", &p(&m2m)]);
    if !quick {
        finetune.args(["--device", "auto", "--steps", FULL_FINETUNE_STEPS, "--batch", FULL_VOCODER_BATCH, "--frames", FULL_VOCODER_FRAMES, "--level-weight", FULL_LEVEL_WEIGHT]);
    }
    run(&mut finetune)?;
    run(Command::new(&bin).env("ORT_DYLIB_PATH", &lib).args(["export", "--mel2mel", &p(&m2m), "--vocoder", &p(&ft), "--data", &p(&data), "--out", &p(&out)]))?;
    let eval = runs.join("eval");
    run(&mut tool(&["eval", "--model", &p(&out), "--data", &p(&data), "--out", &p(&eval)]))?;
    check_eval_artefacts(&eval)?;
    println!("{}", out.display());
    Ok(())
}

/// The evaluation must have written every artefact its report promises.
fn check_eval_artefacts(dir: &Path) -> Result<()> {
    let names: Vec<String> = std::fs::read_dir(dir)?.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    for (what, ok) in [
        ("report.md", names.iter().any(|n| n == "report.md")),
        ("metrics.json", names.iter().any(|n| n == "metrics.json")),
        ("spectrogram PNGs", names.iter().any(|n| n.ends_with(".png"))),
        ("ground-truth WAVs", names.iter().any(|n| n.ends_with("_truth.wav"))),
        ("Melwave WAVs", names.iter().any(|n| n.ends_with("_melwave.wav"))),
        ("baseline WAVs", names.iter().any(|n| n.ends_with("_griffin-lim_true_mel.wav"))),
    ] {
        if !ok {
            bail!("the evaluation in {} wrote no {what}", dir.display());
        }
    }
    let report = std::fs::read_to_string(dir.join("report.md"))?;
    for section in ["RMSE-CQT", "Griffin-Lim", "Melwave whole", "Loudness error per velocity", "Morphs"] {
        if !report.contains(section) {
            bail!("the evaluation report lacks {section}");
        }
    }
    println!("evaluation artefacts: {} files in {}", names.len(), dir.display());
    Ok(())
}

fn value_of<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).map(String::as_str)
}

/// The fuzz targets in `fuzz/`, each run for `seconds` with libFuzzer through
/// cargo-fuzz (installed into the cache; built without a sanitizer, which needs no
/// nightly toolchain): MIDI files, the event stream, manifests and damaged model
/// folders. The corpus lives in the cache so it grows across runs; the MIDI target's
/// is seeded with the repository's MIDI files and the manifest target's with the
/// shipped manifest. A crash fails the command and leaves the
/// input in `fuzz/artifacts/`.
fn fuzz(seconds: u64) -> Result<()> {
    let tools = cache_dir().join("tools");
    let cargo_fuzz = tools.join("bin").join("cargo-fuzz");
    if !cargo_fuzz.is_file() {
        run(cargo().args(["install", "cargo-fuzz", "--version", "0.13.2", "--locked", "--root"]).arg(&tools))?;
    }
    let dir = workspace_root().join("fuzz");
    // The model-folder target hands damaged graphs to the real ONNX Runtime.
    let ort = ensure_ort(false)?;
    for target in ["midi_file", "event_stream", "manifest", "model_folder"] {
        let corpus = cache_dir().join("fuzz-corpus").join(target);
        std::fs::create_dir_all(&corpus)?;
        if target == "manifest" {
            std::fs::copy(workspace_root().join("models").join("default").join("manifest.json"), corpus.join("default.json"))?;
        }
        if target == "midi_file" {
            for entry in std::fs::read_dir(workspace_root().join("assets"))?.filter_map(|e| e.ok()) {
                if entry.path().extension().is_some_and(|e| e == "mid") {
                    std::fs::copy(entry.path(), corpus.join(entry.file_name()))?;
                }
            }
        }
        let out = Command::new(&cargo_fuzz)
            .current_dir(&dir)
            .env("ORT_DYLIB_PATH", &ort)
            .args(["fuzz", "run", "-s", "none", "-O", target])
            .arg(&corpus)
            .args(["--", &format!("-max_total_time={seconds}"), "-max_len=65536", "-rss_limit_mb=4096"])
            .output()
            .context("cannot run cargo-fuzz")?;
        let log = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            eprintln!("{log}");
            bail!("fuzz target {target} failed (the crashing input is in fuzz/artifacts/{target}/)");
        }
        let runs = log.lines().rev().find(|l| l.starts_with("Done ")).unwrap_or("(no summary)");
        println!("fuzz {target}: {runs}");
    }
    Ok(())
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(workspace_root());
    c
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    match args.first().map(String::as_str) {
        Some("ort") => {
            println!("{}", ensure_ort(has("--gpu"))?.display());
        }
        Some("demo") => {
            let lib = ensure_ort(false)?;
            let out = workspace_root().join("target").join("demo.wav");
            run(cargo()
                .env("ORT_DYLIB_PATH", &lib)
                .args(["run", "--release", "-p", "melwave", "--no-default-features", "--features", "cli", "--", "render", "assets/demo.mid", "-o"])
                .arg(&out)
                .args(["--instrument", "Grand Piano"]))?;
            println!("{}", out.display());
        }
        Some("train") => train(has("--quick"), value_of(&args, "--until"), CustomSet::from_args(&args)?)?,
        Some("bundle") => {
            bundle(&args)?;
        }
        Some("test") => {
            let lib = ensure_ort(false)?;
            let venv = ensure_torch()?;
            // The training tests render real FluidR3 audio and read Debian's MIDI files.
            ensure_debian(&DATA_PACKAGES)?;
            ensure_debian(&GUI_PACKAGES)?;
            let host_python = ensure_host_python()?;
            // The Ardour test is skipped, saying why, only when Ardour can't be installed.
            let ardour_skip = ensure_debian(&ARDOUR_PACKAGES).err().map(|e| format!("Ardour could not be installed: {e:#}"));
            if let Some(reason) = &ardour_skip {
                eprintln!("warning: {reason}; the Ardour host test will be skipped");
            }
            // The host tests load the real bundles.
            bundle_plugins(&["bundle".into(), "melwave".into(), "--release".into()])?;
            // The standalone app, for the editor test. Cargo keeps this feature set's
            // artifacts beside the test build's, but both link target/debug/melwave, so
            // the standalone binary is copied aside.
            run(cargo().args(["build", "-p", "melwave", "--features", "standalone", "--bin", "melwave"]))?;
            let standalone = workspace_root().join("target").join("melwave-standalone");
            std::fs::copy(workspace_root().join("target").join("debug").join("melwave"), &standalone)?;
            let extra: Vec<&String> = args.iter().skip(1).collect();
            // The debug plugin binary with nice-plug's allocation check, which the
            // real-time test hosts; `cargo test` alone builds no cdylib. Same features as
            // the test build, so the two share their artifacts.
            run(cargo().args(["build", "-p", "melwave", "--lib", "--features", "assert_process_allocs,cuda,tensorrt,fault-injection"]))?;
            let mut tests = cargo_with_torch(&venv);
            tests.env("ORT_DYLIB_PATH", &lib).env("MELWAVE_HOST_PYTHON", &host_python).env("MELWAVE_STANDALONE_BIN", &standalone);
            if let Some(reason) = &ardour_skip {
                tests.env("MELWAVE_ARDOUR_SKIP", reason);
            }
            run(tests.args(["test", "--workspace"]).args(&extra))?;
            // The engine, contract and renderer without nice-plug and egui.
            run(cargo().env("ORT_DYLIB_PATH", &lib).args(["test", "-p", "melwave", "--no-default-features", "--features", "cli"]).args(&extra))?;
        }
        Some("lint") => {
            // Layout first: it is the cheapest to fix and the quickest to check.
            run(cargo().args(["fmt", "--all", "--check"]))?;
            run(cargo().args(["fmt", "--check", "--manifest-path", "fuzz/Cargo.toml"]))?;
            // The training crate links libtorch, so clippy needs the venv too.
            let venv = ensure_torch()?;
            run(cargo_with_torch(&venv).args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
            // The fuzz targets live outside the workspace, with its lints repeated.
            run(cargo().args(["clippy", "--manifest-path", "fuzz/Cargo.toml", "--all-targets", "--", "-D", "warnings"]))?;
        }
        Some("bench") => {
            let lib = ensure_ort(false)?;
            run(cargo().env("ORT_DYLIB_PATH", &lib).args(["bench", "-p", "melwave", "--no-default-features", "--features", "graph-writer", "--bench", "engine"]))?;
            // The plugin's CPU load in a real CLAP host, as users run it: the bundle.
            bundle_plugins(&["bundle".into(), "melwave".into(), "--release".into()])?;
            run(cargo().env_remove("ORT_DYLIB_PATH").args(["bench", "-p", "melwave-tests", "--bench", "clap_load"]))?;
        }
        Some("soak") => {
            let minutes: f64 = value_of(&args, "--minutes").map_or(Ok(60.0), |v| v.parse()).context("--minutes takes a number")?;
            let latency = value_of(&args, "--latency").unwrap_or("safe");
            if latency != "safe" && latency != "low" {
                bail!("--latency takes safe or low, not {latency}");
            }
            let rate: u32 = value_of(&args, "--rate").map_or(Ok(48_000), |v| v.parse()).context("--rate takes a whole number of Hz")?;
            if !(8_000..=384_000).contains(&rate) {
                bail!("--rate takes 8000 to 384000 Hz, the rates the plugin plays at, not {rate}");
            }
            ensure_ort(false)?;
            bundle_plugins(&["bundle".into(), "melwave".into(), "--release".into()])?;
            run(cargo()
                .env_remove("ORT_DYLIB_PATH")
                .env("MELWAVE_SOAK_SECONDS", format!("{}", minutes * 60.0))
                .env("MELWAVE_SOAK_LATENCY", latency)
                .env("MELWAVE_SOAK_RATE", rate.to_string())
                .args(["bench", "-p", "melwave-tests", "--bench", "soak"]))?;
        }
        Some("fuzz") => {
            let seconds: u64 = value_of(&args, "--seconds").map_or(Ok(60), |v| v.parse()).context("--seconds takes a whole number")?;
            fuzz(seconds)?;
        }
        _ => {
            eprintln!("usage: cargo xtask <ort [--gpu] | demo | test [cargo test args] | lint | bench | soak [--minutes N] [--latency safe|low] [--rate HZ] | fuzz [--seconds N] | train [--quick] [--until STEP] [--font SF2 --programs P,P,.. [--bank N] [--names A,B,..] [--out DIR]] | bundle melwave [--release] [--gpu]>");
            std::process::exit(2);
        }
    }
    Ok(())
}
