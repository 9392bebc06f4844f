//! A small CLAP host on clack-host: loads a `.clap`, plays events, automates
//! parameters, reads latency, saves and restores state.

use std::cell::Cell;
use std::collections::HashMap;
use std::ffi::CStr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use clack_extensions::latency::{HostLatency, HostLatencyImpl, PluginLatency};
use clack_extensions::params::{ParamInfoBuffer, PluginParams};
use clack_extensions::render::{PluginRender, RenderMode};
use clack_extensions::state::PluginState;
pub use clack_host::events::event_types::NoteExpressionType;
use clack_host::events::event_types::{MidiEvent, NoteExpressionEvent, NoteOffEvent, NoteOnEvent, ParamValueEvent};
use clack_host::prelude::*;

pub const PLUGIN_ID: &str = "org.melwave.melwave";
/// Melwave Audio, the effect in the same bundle.
pub const AUDIO_PLUGIN_ID: &str = "org.melwave.melwave-audio";

/// What the plugin asked of the host, counted.
#[derive(Default)]
pub struct Shared {
    pub restarts_requested: AtomicUsize,
    pub callbacks_requested: AtomicUsize,
}
impl<'a> SharedHandler<'a> for Shared {
    fn request_restart(&self) {
        self.restarts_requested.fetch_add(1, Ordering::SeqCst);
    }
    fn request_process(&self) {}
    fn request_callback(&self) {
        self.callbacks_requested.fetch_add(1, Ordering::SeqCst);
    }
}

/// The main thread's side: how often the plugin said its latency changed.
#[derive(Default)]
pub struct MainThread {
    pub latency_changes: Cell<usize>,
}
impl MainThreadHandler<'_> for MainThread {}
impl HostLatencyImpl for MainThread {
    fn changed(&self) {
        self.latency_changes.set(self.latency_changes.get() + 1);
    }
}

pub struct Host;
impl HostHandlers for Host {
    type Shared<'a> = Shared;
    type MainThread<'a> = MainThread;
    type AudioProcessor<'a> = ();

    fn declare_extensions(builder: &mut HostExtensions<Self>, _shared: &Self::Shared<'_>) {
        builder.register::<HostLatency>();
    }
}

/// What the test plays: at `time` (host samples), a note, a raw MIDI message (pedal,
/// bend, the channel-mode CCs, MPE), a CLAP note expression on a key, or a parameter
/// change.
#[derive(Clone, Copy, Debug)]
pub enum Cue {
    NoteOn(u8, f64),
    NoteOff(u8),
    Midi([u8; 3]),
    Expression(u8, NoteExpressionType, f64),
    Param(&'static str, f64),
}

pub struct Loaded {
    pub entry: PluginEntry,
    pub instance: PluginInstance<Host>,
    pub params: HashMap<String, ClapId>,
    /// The largest block announced at activation, when it is not the block size
    /// played (a host that breaks its promise).
    pub announced_max: Option<usize>,
    /// The mono signal fed to both channels of the main input (Melwave Audio); none
    /// when empty.
    pub input: Vec<f32>,
}

/// The descriptor's (id, name, vendor, features).
pub fn descriptor(entry: &PluginEntry) -> (String, String, String, Vec<String>) {
    let factory = entry.get_plugin_factory().expect("a plugin factory");
    let d = factory.plugin_descriptors().next().expect("one plugin");
    let s = |c: Option<&CStr>| c.map(|c| c.to_string_lossy().into_owned()).unwrap_or_default();
    (s(d.id()), s(d.name()), s(d.vendor()), d.features().map(|f| f.to_string_lossy().into_owned()).collect())
}

pub fn load(path: &Path) -> Loaded {
    load_id(path, PLUGIN_ID)
}

/// Loads the plugin `id` of the bundle at `path`.
pub fn load_id(path: &Path, plugin_id: &str) -> Loaded {
    assert!(path.exists(), "{} is missing: `cargo xtask test` builds it (`cargo xtask bundle melwave --release`)", path.display());
    // SAFETY: loading a plugin runs its initialiser; Melwave's is ours and has no preconditions.
    let entry = unsafe { PluginEntry::load(path) }.expect("the plugin entry loads");
    let info = HostInfo::new("melwave-tests", "Melwave", "https://melwave.invalid", "1.0").unwrap();
    let id = std::ffi::CString::new(plugin_id).unwrap();
    let mut instance = PluginInstance::<Host>::new(|_| Shared::default(), |_| MainThread::default(), &entry, &id, &info).expect("the plugin instantiates");
    let mut params = HashMap::new();
    let handle = instance.plugin_handle();
    let ext: PluginParams = handle.get_extension().expect("params extension");
    let mut buf = ParamInfoBuffer::new();
    for i in 0..ext.count(&handle) {
        if let Some(p) = ext.get_info(&handle, i, &mut buf) {
            params.insert(String::from_utf8_lossy(p.name).into_owned(), p.id);
        }
    }
    Loaded { entry, instance, params, announced_max: None, input: Vec::new() }
}

impl Loaded {
    /// The latency the plugin reports now (the latency extension).
    pub fn reported_latency(&mut self) -> u32 {
        let handle = self.instance.plugin_handle();
        handle.get_extension::<PluginLatency>().map_or(0, |l| l.get(&handle))
    }

    /// Runs the plugin's main-thread tasks if it asked for that, as a host's main loop
    /// does; returns (restarts requested, latency changes announced) so far.
    pub fn host_requests(&mut self) -> (usize, usize) {
        if self.instance.access_shared_handler(|s| s.callbacks_requested.swap(0, Ordering::SeqCst)) > 0 {
            self.instance.call_on_main_thread_callback();
        }
        (self.instance.access_shared_handler(|s| s.restarts_requested.load(Ordering::SeqCst)), self.instance.access_handler(|m| m.latency_changes.get()))
    }

    pub fn param_value(&mut self, name: &str) -> f64 {
        let id = self.params[name];
        let handle = self.instance.plugin_handle();
        let ext: PluginParams = handle.get_extension().unwrap();
        ext.get_value(&handle, id).unwrap()
    }

    pub fn save_state(&mut self) -> Vec<u8> {
        let handle = self.instance.plugin_handle();
        let ext: PluginState = handle.get_extension().expect("state extension");
        let mut out = Vec::new();
        ext.save(&handle, &mut out).expect("state saves");
        out
    }

    /// nice-plug's CLAP state with its JSON edited by `edit`: a little-endian u64
    /// length, then the JSON.
    pub fn edited_state(&mut self, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let saved = self.save_state();
        let mut json: serde_json::Value = serde_json::from_slice(&saved[8..]).expect("nice-plug state is JSON");
        edit(&mut json);
        let body = serde_json::to_vec(&json).unwrap();
        [&(body.len() as u64).to_le_bytes()[..], &body].concat()
    }

    pub fn load_state(&mut self, bytes: &[u8]) -> Result<(), String> {
        let handle = self.instance.plugin_handle();
        let ext: PluginState = handle.get_extension().expect("state extension");
        ext.load(&handle, &mut std::io::Cursor::new(bytes)).map_err(|e| e.to_string())
    }

    /// Tells the plugin whether it renders offline (a bounce, where the host waits for
    /// it) or in real time.
    pub fn set_offline(&mut self, offline: bool) {
        let handle = self.instance.plugin_handle();
        let ext: PluginRender = handle.get_extension().expect("render extension");
        ext.set(&handle, if offline { RenderMode::Offline } else { RenderMode::Realtime }).expect("render mode accepted");
    }

    /// Activates at `rate` with blocks of `block`, plays `cues` (sorted by time) over
    /// `length` samples, deactivates. Returns (left channel, reported latency).
    pub fn render(&mut self, rate: f64, block: usize, cues: &[(u64, Cue)], length: usize) -> (Vec<f32>, u32) {
        let (out, latency, _) = self.render_timed(rate, block, cues, length, false);
        (out, latency)
    }

    /// [`Loaded::render`], also timing every `process()` call; with `realtime`, blocks
    /// are handed over no faster than a sound card would ask for them.
    pub fn render_timed(&mut self, rate: f64, block: usize, cues: &[(u64, Cue)], length: usize, realtime: bool) -> (Vec<f32>, u32, Vec<std::time::Duration>) {
        let mut out = Vec::with_capacity(length);
        let mut times = Vec::with_capacity(length / block + 1);
        let latency = self.stream(rate, block, cues, length, realtime, |left, t| {
            out.extend_from_slice(left);
            times.push(t);
        });
        (out, latency, times)
    }

    /// Activates, plays `cues` over `length` samples handing each block's left channel
    /// and `process()` time to `sink` (so hours of audio need no memory), deactivates.
    /// Returns the reported latency.
    pub fn stream(&mut self, rate: f64, block: usize, cues: &[(u64, Cue)], length: usize, realtime: bool, mut sink: impl FnMut(&[f32], std::time::Duration)) -> u32 {
        self.stream_while(rate, block, cues, length, realtime, |left, t| {
            sink(left, t);
            true
        })
    }

    /// [`Loaded::stream`], ending early once `sink` returns false.
    pub fn stream_while(&mut self, rate: f64, block: usize, cues: &[(u64, Cue)], length: usize, realtime: bool, mut sink: impl FnMut(&[f32], std::time::Duration) -> bool) -> u32 {
        let config = PluginAudioConfiguration { sample_rate: rate, min_frames_count: 1, max_frames_count: self.announced_max.unwrap_or(block) as u32 };
        let processor = self.instance.activate(|_, _| (), config).expect("activates");
        let latency = {
            let handle = self.instance.plugin_handle();
            handle.get_extension::<PluginLatency>().map_or(0, |l| l.get(&handle))
        };
        let mut processor = processor.start_processing().expect("starts processing");
        let (mut left, mut right) = (vec![0.0f32; block], vec![0.0f32; block]);
        let fed = !self.input.is_empty();
        let mut in_ports = if fed { AudioPorts::with_capacity(2, 1) } else { AudioPorts::with_capacity(0, 0) };
        let (mut in_left, mut in_right) = (vec![0.0f32; block], vec![0.0f32; block]);
        let mut out_ports = AudioPorts::with_capacity(2, 1);
        let mut events = EventBuffer::new();
        let mut out_events = EventBuffer::new();
        let mut next = 0;
        let mut pos = 0usize;
        let start = std::time::Instant::now();
        while pos < length {
            let n = block.min(length - pos);
            if realtime {
                let due = start + std::time::Duration::from_secs_f64(pos as f64 / rate);
                std::thread::sleep(due.saturating_duration_since(std::time::Instant::now()));
            }
            events.clear();
            while next < cues.len() && (cues[next].0 as usize) < pos + n {
                let at = (cues[next].0 as usize).saturating_sub(pos) as u32;
                match cues[next].1 {
                    Cue::NoteOn(k, v) => events.push(&NoteOnEvent::new(at, Pckn::new(0u16, 0u16, k as u16, k as u32), v)),
                    Cue::NoteOff(k) => events.push(&NoteOffEvent::new(at, Pckn::new(0u16, 0u16, k as u16, k as u32), 0.0)),
                    Cue::Midi(bytes) => events.push(&MidiEvent::new(at, 0, bytes)),
                    Cue::Expression(k, kind, v) => events.push(&NoteExpressionEvent::new(at, Pckn::new(0u16, 0u16, k as u16, k as u32), kind, v)),
                    Cue::Param(name, v) => events.push(&ParamValueEvent::new(at, self.params[name], Pckn::match_all(), v)),
                }
                next += 1;
            }
            for (i, (l, r)) in in_left[..n].iter_mut().zip(in_right[..n].iter_mut()).enumerate() {
                let v = self.input.get(pos + i).copied().unwrap_or(0.0);
                (*l, *r) = (v, v);
            }
            let input = if fed {
                in_ports.with_input_buffers([AudioPortBuffer {
                    latency: 0,
                    channels: AudioPortBufferType::f32_input_only([&mut in_left[..n], &mut in_right[..n]].into_iter().map(InputChannel::variable)),
                }])
            } else {
                in_ports.with_input_buffers(std::iter::empty::<AudioPortBuffer<std::iter::Empty<InputChannel<f32>>, std::iter::Empty<InputChannel<f64>>>>())
            };
            let mut output =
                out_ports.with_output_buffers([AudioPortBuffer { latency: 0, channels: AudioPortBufferType::f32_output_only([&mut left[..n], &mut right[..n]].into_iter()) }]);
            let t0 = std::time::Instant::now();
            processor.process(&input, &mut output, &InputEvents::from_buffer(&events), &mut OutputEvents::from_buffer(&mut out_events), Some(pos as u64), None).expect("processes");
            let more = sink(&left[..n], t0.elapsed());
            pos += n;
            if !more {
                break;
            }
        }
        let processor = processor.stop_processing();
        self.instance.deactivate(processor);
        latency
    }
}
