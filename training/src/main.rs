//! `melwave-train`: turns General MIDI SoundFont renders into a Melwave model.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use melwave::contract::{Mel2MelConfig, ModelBytes, VocoderConfig};

#[derive(Parser)]
#[command(name = "melwave-train", version, about = "Train and export Melwave models")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Init {
    /// Deterministic random weights: a contract-conforming model for tests.
    Random,
}

#[derive(Subcommand)]
enum Command {
    /// Write a model folder (manifest.json, mel2mel.onnx, vocoder.onnx).
    Export {
        /// Where the weights come from.
        #[arg(long, value_enum)]
        init: Init,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output model folder.
        #[arg(long, short)]
        out: PathBuf,
        /// Mel2Mel LSTM width.
        #[arg(long, default_value_t = Mel2MelConfig::default().hidden)]
        hidden: usize,
        /// Mel2Mel LSTM layers.
        #[arg(long, default_value_t = Mel2MelConfig::default().layers)]
        lstm_layers: usize,
        /// Vocoder residual layers.
        #[arg(long, default_value_t = VocoderConfig::default().layers)]
        vocoder_layers: usize,
        /// Vocoder residual channels.
        #[arg(long, default_value_t = VocoderConfig::default().channels)]
        channels: usize,
    },
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Export { init: Init::Random, seed, out, hidden, lstm_layers, vocoder_layers, channels } => {
            if hidden == 0 || lstm_layers == 0 || vocoder_layers == 0 || channels == 0 {
                bail!("model sizes must be positive");
            }
            let mel = Mel2MelConfig { hidden, layers: lstm_layers };
            let voc = VocoderConfig { layers: vocoder_layers, channels, skip_channels: channels, ..VocoderConfig::default() };
            let model = ModelBytes::random(seed, mel, voc);
            model.write_dir(&out).with_context(|| format!("exporting to {}", out.display()))?;
            eprintln!("wrote a random-weight model (seed {seed}) to {}", out.display());
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
