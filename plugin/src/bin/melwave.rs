//! `melwave`: the offline renderer, audio transfer (and, with the `standalone`
//! feature, the standalone app).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use melwave::contract::ModelBytes;
use melwave::engine::EngineConfig;
use melwave::midi_file;
use melwave::render::{self, Timbre};
use melwave::runtime::Provider;

#[derive(Parser)]
#[command(name = "melwave", version, about = "Melwave: a real-time neural instrument")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where a render goes and which instrument of the pad plays it.
#[derive(clap::Args)]
struct Target {
    /// Output WAV file (mono, 32-bit float).
    #[arg(short, long)]
    output: PathBuf,
    /// Instrument by name or GM program number (see the model's manifest).
    #[arg(long, conflicts_with = "timbre")]
    instrument: Option<String>,
    /// Pad position X,Y, each within 0..1.
    #[arg(long, value_parser = parse_xy)]
    timbre: Option<(f32, f32)>,
}

#[derive(Subcommand)]
enum Command {
    /// Render a MIDI file to WAV through the streaming engine.
    Render {
        /// Input MIDI file (type 0 or 1).
        input: PathBuf,
        #[command(flatten)]
        out: Target,
        /// Output sample rate in Hz.
        #[arg(long, default_value_t = 48_000)]
        sample_rate: u32,
        /// Model folder; the embedded default model if omitted.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Host block size in samples.
        #[arg(long, default_value_t = 512)]
        block: usize,
        /// Execution provider: cpu, cuda or tensorrt (falls back to cpu).
        #[arg(long, default_value = "cpu")]
        provider: Provider,
        /// Seconds rendered after the last event, for release tails.
        #[arg(long, default_value_t = 1.0)]
        tail: f64,
        /// Seed of the excitation noise.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Play a recording (a voice, a whistle, a monophonic instrument) as an instrument
    /// of the pad: its pitch, onsets and loudness become notes, through the streaming
    /// engine; the output has the input's rate and lines up with it.
    Transfer {
        /// Input WAV file (any channels, mixed to mono).
        input: PathBuf,
        #[command(flatten)]
        out: Target,
        /// Semitones added to every note.
        #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
        transpose: i32,
        /// How much the input's own loudness follows through, 0..1.
        #[arg(long, default_value_t = 1.0)]
        follow: f32,
        /// Model folder; the embedded default model if omitted.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Seconds rendered after the input ends, for release tails.
        #[arg(long, default_value_t = 1.0)]
        tail: f64,
    },
    /// Run the instrument as a standalone app (JACK or ALSA audio, MIDI input), with
    /// its editor. Options after `--` go to nice-plug's standalone (try `-- --help`).
    #[cfg(feature = "standalone")]
    Standalone {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn parse_xy(s: &str) -> Result<(f32, f32), String> {
    let (x, y) = s.split_once(',').ok_or("expected X,Y")?;
    let p = |v: &str| v.trim().parse::<f32>().map_err(|e| format!("`{v}`: {e}"));
    Ok((p(x)?, p(y)?))
}

fn load_model(dir: Option<&PathBuf>) -> Result<ModelBytes, String> {
    match dir {
        Some(dir) => ModelBytes::from_dir(dir).map_err(|e| e.to_string()),
        None => ModelBytes::embedded().map_err(|e| e.to_string()),
    }
}

fn choose_timbre(instrument: Option<String>, timbre: Option<(f32, f32)>) -> Timbre {
    match (instrument, timbre) {
        (Some(name), _) => Timbre::Instrument(name),
        (None, Some((x, y))) => Timbre::Pad(x, y),
        (None, None) => Timbre::Default,
    }
}

/// How a command that did its work ended.
enum Outcome {
    /// Everything as asked.
    Clean,
    /// The output was written, but something in it is not what the user asked for:
    /// the input was damaged or the render dropped audio. Exit code 3.
    Flawed,
}

/// Exit code of a render that wrote its file but whose input was damaged or whose
/// engine dropped audio.
const EXIT_FLAWED: u8 = 3;

fn run(cli: Cli) -> Result<Outcome, String> {
    match cli.command {
        #[cfg(feature = "standalone")]
        Command::Standalone { args } => {
            let argv = std::iter::once("melwave standalone".to_string()).chain(args);
            if nice_plug::wrapper::standalone::nice_export_standalone_with_args::<melwave::plugin::Melwave, _>(argv) {
                Ok(Outcome::Clean)
            } else {
                Err("the standalone app could not start (see the messages above)".into())
            }
        }
        Command::Transfer { input, out: Target { output, instrument, timbre }, transpose, follow, model, tail } => {
            let (audio, rate) = render::read_wav(&input)?;
            let model = load_model(model.as_ref())?;
            let pad = choose_timbre(instrument, timbre).resolve(&model)?;
            if !(-48..=48).contains(&transpose) || !(0.0..=1.0).contains(&follow) || !tail.is_finite() || !(0.0..=60.0).contains(&tail) {
                return Err("--transpose must be within -48..48, --follow within 0..1 and --tail within 0..60".into());
            }
            let settings = melwave::features::audio_in::AudioInSettings { transpose, follow };
            let (rendered, notes) = render::transfer(&model, &EngineConfig::offline(rate, 512), pad, &audio, settings, tail, 512).map_err(|e| e.to_string())?;
            render::write_wav(&output, &rendered.audio, rate)?;
            eprintln!(
                "heard {notes} notes in {}; rendered {:.2} s to {} at {rate} Hz in {:.2} s (real-time factor {:.3})",
                input.display(),
                rendered.duration_seconds(),
                output.display(),
                rendered.wall_seconds,
                rendered.real_time_factor()
            );
            if notes == 0 {
                eprintln!("warning: no pitched note was found in {}: the output is silence", input.display());
            }
            Ok(if rendered.stats.troubled() { Outcome::Flawed } else { Outcome::Clean })
        }
        Command::Render { input, out: Target { output, instrument, timbre }, sample_rate, model, block, provider, tail, seed } => {
            let song = midi_file::load(&input).map_err(|e| format!("{}: {e}", input.display()))?;
            for d in &song.damage {
                eprintln!("warning: {}: {d}", input.display());
            }
            let model = load_model(model.as_ref())?;
            let pad = choose_timbre(instrument, timbre).resolve(&model)?;
            if !tail.is_finite() || !(0.0..=60.0).contains(&tail) {
                return Err(format!("--tail {tail} must be within 0..60 seconds"));
            }
            let mut config = EngineConfig::offline(sample_rate, block);
            config.provider = provider;
            config.seed = seed;
            let events = song.timed_events(sample_rate);
            let length = render::output_length(song.duration + tail, sample_rate)?;

            let bar = ProgressBar::new(length as u64);
            bar.set_style(ProgressStyle::with_template("{spinner} rendering [{bar:40}] {percent}% ({eta} left)").expect("static template").progress_chars("=> "));
            let rendered = render::render(&model, &config, pad, &events, length, block, |done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            })
            .map_err(|e| e.to_string())?;
            bar.finish_and_clear();
            render::write_wav(&output, &rendered.audio, sample_rate)?;
            let s = &rendered.stats;
            // The file is aligned with the MIDI (the engine's delay is trimmed), so no
            // latency is printed: there is none left in what the user hears.
            eprintln!(
                "rendered {:.2} s of audio to {} in {:.2} s: real-time factor {:.3}, provider {}, model {}",
                rendered.duration_seconds(),
                output.display(),
                rendered.wall_seconds,
                rendered.real_time_factor(),
                rendered.provider,
                model.origin,
            );
            if s.troubled() {
                eprintln!("warning: the render dropped audio or hit a model fault: {s}");
            }
            Ok(if s.troubled() || !song.damage.is_empty() { Outcome::Flawed } else { Outcome::Clean })
        }
    }
}

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal error: {info}");
    }));
    match run(Cli::parse()) {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Flawed) => ExitCode::from(EXIT_FLAWED),
        Err(e) => {
            eprintln!("error: {}", e.replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
