//! The editor: the XY pad over the learned timbre plane (which instruments the handle
//! is between, and how near), the instrument list, the output meter, an on-screen
//! keyboard that lights the keys sounding and plays when clicked, the computer
//! keyboard as a piano, model and provider selection, and a status line. Resizable.

use std::sync::Arc;
use std::time::Instant;

use egui::{Align2, Color32, CornerRadius, FontId, Pos2, Sense, Stroke, Vec2};
use nice_plug::context::gui::GuiContext;
use nice_plug_egui::{create_egui_editor, widgets, EguiEditor, EguiNiceSettings, NiceEguiApp, RepaintNotifier};

use super::editor_layout::{self, Area};
use super::front_panel::FrontPanel;
use super::params::MelwaveParams;
use super::status::{self, InstrumentMark, Status};
use crate::contract::ModelBytes;
use crate::engine::LatencyMode;
use crate::runtime::Provider;
use crate::sync::LockExt;

/// The editor's default size, and the smallest and largest it can be dragged to.
pub const DEFAULT_SIZE: (f32, f32) = (820.0, 580.0);
const MIN_SIZE: Vec2 = Vec2::new(700.0, 520.0);
const MAX_SIZE: Vec2 = Vec2::new(1400.0, 1000.0);
/// The pad's side at the smallest and the largest editor.
pub const MIN_PAD: f32 = 250.0;
pub const MAX_PAD: f32 = 720.0;
const KEYBOARD_HEIGHT: f32 = 56.0;
/// The on-screen keyboard: C2 to B6.
const KEYBOARD_KEYS: (u8, u8) = (36, 95);
/// The meter's range, in dBFS.
const METER_FLOOR_DB: f32 = -60.0;
const METER_TOP_DB: f32 = 6.0;
/// How fast the meter's peak hold falls, in dB per second.
const PEAK_FALL_DB_PER_S: f32 = 20.0;

pub fn create(params: Arc<MelwaveParams>, status: Arc<Status>, panel: Arc<FrontPanel>, audio_in: bool) -> Option<EguiEditor<MelwaveEditor>> {
    let settings = EguiNiceSettings::new().with_tile(if audio_in { "Melwave Audio" } else { "Melwave" });
    let app = MelwaveEditor {
        params: params.clone(),
        status,
        panel,
        gui: None,
        folder: String::new(),
        note: None,
        load: (Instant::now(), 0.0, 0.0),
        loading: None,
        peak_hold: (METER_FLOOR_DB, Instant::now()),
        mouse_key: None,
        typed_keys: Vec::new(),
        octave: 4,
        audio_in,
    };
    create_egui_editor(params.editor_state.clone(), RepaintNotifier::new(), settings, app)
}

pub struct MelwaveEditor {
    params: Arc<MelwaveParams>,
    status: Arc<Status>,
    gui: Option<GuiContext>,
    /// The folder typed into the model field.
    folder: String,
    /// The answer to the last model or provider change.
    note: Option<String>,
    /// (when, busy seconds then, load) for the inference-load readout.
    load: (Instant, f64, f64),
    /// A model folder being read, validated and loaded in the background while the
    /// current model keeps playing: (folder, its origin and instrument marks, or why not).
    loading: Option<(String, std::thread::JoinHandle<LoadResult>)>,
    /// The meter, the sounding keys and the notes the editor plays.
    panel: Arc<FrontPanel>,
    /// The meter's peak hold (dBFS) and when it was last set.
    peak_hold: (f32, Instant),
    /// The on-screen key the mouse holds down.
    mouse_key: Option<u8>,
    /// Computer keys held down, with the note each started (an octave change while
    /// one is held must still release the note it played).
    typed_keys: Vec<(egui::Key, u8)>,
    /// The computer keyboard's octave (its A key plays C of this octave).
    octave: i32,
    /// Melwave Audio's editor: its input controls too.
    audio_in: bool,
}

/// The model's origin and instruments, and whether the running engine swapped it in
/// (false: no engine, or it stopped first; the next engine starts with it).
type LoadResult = Result<(String, Vec<InstrumentMark>, bool), String>;

const PAD_BG: Color32 = Color32::from_rgb(24, 28, 38);
const ACCENT: Color32 = Color32::from_rgb(255, 176, 64);
/// Marks of instruments added to the trained model.
const ADDED: Color32 = Color32::from_rgb(120, 230, 160);
/// How close (in pad units) the handle must be to an instrument for the preset menu to
/// name it.
const SNAP: f32 = 0.02;

impl MelwaveEditor {
    /// Reads and validates the folder, and creates its ONNX Runtime sessions, on a
    /// background thread: a big or slow model never blocks the GUI or the host, and
    /// the current model plays until the engine swaps the new one in.
    fn start_loading(&mut self, folder: String) {
        let monitor = self.status.snapshot(|s| s.monitor.clone());
        let provider = *self.params.provider.locked();
        let dir = folder.clone();
        self.note = Some(format!("loading {folder}…"));
        self.loading = Some((
            folder,
            std::thread::spawn(move || {
                let model = ModelBytes::from_dir(std::path::Path::new(&dir)).map_err(|e| e.to_string())?;
                let marks = status::instrument_marks(&model);
                let origin = model.origin.clone();
                let swapped = match monitor {
                    Some(m) => match m.load_model(model, provider).join().map_err(|_| "the model loader crashed".to_string())? {
                        Ok(_) => true,
                        Err(crate::engine::LoadError::EngineStopped) => false,
                        Err(e) => return Err(e.to_string()),
                    },
                    None => false,
                };
                Ok((origin, marks, swapped))
            }),
        ));
    }

    fn poll_loading(&mut self, gui: &GuiContext) {
        if !self.loading.as_ref().is_some_and(|(_, h)| h.is_finished()) {
            return;
        }
        let (folder, handle) = self.loading.take().expect("checked above");
        match handle.join().unwrap_or_else(|_| Err("the model loader crashed".into())) {
            Ok((origin, marks, swapped)) => {
                *self.params.model_dir.locked() = Some(folder);
                self.note = Some(format!("playing {origin} ({} instruments)", marks.len()));
                self.status.update(|s| {
                    s.model = origin;
                    s.instruments = marks;
                    s.problem = None;
                });
                if !swapped {
                    // No engine took it (none was running, or the host restarted the
                    // plugin while it loaded): the next start reads the saved folder.
                    gui.request_restart();
                }
            }
            Err(e) => {
                nice_plug::nice_log!("Melwave: model {folder} not loaded: {e}");
                self.note = Some(format!("not loaded: {e}; the current model goes on playing"));
            }
        }
    }

    fn set_timbre(&self, x: f32, y: f32) {
        let Some(gui) = &self.gui else { return };
        let setter = gui.param_setter();
        setter.begin_set_parameter(&self.params.timbre_x);
        setter.begin_set_parameter(&self.params.timbre_y);
        setter.set_parameter(&self.params.timbre_x, x.clamp(0.0, 1.0));
        setter.set_parameter(&self.params.timbre_y, y.clamp(0.0, 1.0));
        setter.end_set_parameter(&self.params.timbre_x);
        setter.end_set_parameter(&self.params.timbre_y);
    }

    fn pad(&mut self, ui: &mut egui::Ui, side: f32) {
        let (rect, response) = ui.allocate_exact_size(Vec2::splat(side), Sense::click_and_drag());
        let to_screen = |x: f32, y: f32| Pos2::new(rect.left() + x * rect.width(), rect.bottom() - y * rect.height());
        let from_screen = |p: Pos2| ((p.x - rect.left()) / rect.width(), (rect.bottom() - p.y) / rect.height());
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, CornerRadius::same(6), PAD_BG);
        for i in 1..4 {
            let t = i as f32 / 4.0;
            let faint = Stroke::new(1.0, Color32::from_gray(50));
            painter.line_segment([to_screen(t, 0.0), to_screen(t, 1.0)], faint);
            painter.line_segment([to_screen(0.0, t), to_screen(1.0, t)], faint);
        }
        let marks = self.status.snapshot(|s| s.instruments.clone());
        // Where the controllers have put the pad, on the axes they have moved.
        let driven = |axis: usize, param: f32| {
            let v = self.params.controller_pad[axis].load(std::sync::atomic::Ordering::Relaxed);
            if v.is_finite() {
                v
            } else {
                param
            }
        };
        let (hx, hy) = (driven(0, self.params.timbre_x.value()), driven(1, self.params.timbre_y.value()));
        let handle = to_screen(hx, hy);
        // Which instruments the handle is between: a line to each, as strong as it is near.
        for (m, share) in status::between(&marks, hx, hy, 3) {
            let alpha = (40.0 + 215.0 * share) as u8;
            painter.line_segment([handle, to_screen(m.pad.0, m.pad.1)], Stroke::new(1.0 + 3.0 * share, Color32::from_rgba_unmultiplied(255, 176, 64, alpha)));
        }
        let galleys: Vec<_> = marks.iter().map(|m| painter.layout_no_wrap(m.name.clone(), FontId::proportional(12.0), Color32::from_gray(220))).collect();
        let points: Vec<(f32, f32)> = marks.iter().map(|m| to_screen(m.pad.0, m.pad.1)).map(|p| (p.x, p.y)).collect();
        let sizes: Vec<(f32, f32)> = galleys.iter().map(|g| (g.size().x, g.size().y)).collect();
        let places = editor_layout::place_labels(&points, &sizes, Area { x: rect.left(), y: rect.top(), w: rect.width(), h: rect.height() });
        for ((m, galley), place) in marks.iter().zip(galleys).zip(places) {
            let p = to_screen(m.pad.0, m.pad.1);
            if m.added {
                // Added instruments: a ring, so the trained ones stay recognisable.
                painter.circle_stroke(p, 5.0, Stroke::new(2.0, ADDED));
            } else {
                painter.circle_filled(p, 4.0, Color32::from_rgb(120, 170, 255));
            }
            if let Some(a) = place {
                painter.galley(Pos2::new(a.x, a.y), galley, Color32::from_gray(220));
            }
        }
        let gui = self.gui.clone();
        if let (Some(gui), Some(pos)) = (gui, response.interact_pointer_pos()) {
            let (x, y) = from_screen(pos);
            let setter = gui.param_setter();
            // Begin/set/end gestures, so that hosts record the drag as automation.
            if response.drag_started() {
                setter.begin_set_parameter(&self.params.timbre_x);
                setter.begin_set_parameter(&self.params.timbre_y);
            }
            if response.dragged() {
                setter.set_parameter(&self.params.timbre_x, x.clamp(0.0, 1.0));
                setter.set_parameter(&self.params.timbre_y, y.clamp(0.0, 1.0));
            }
            if response.drag_stopped() {
                setter.end_set_parameter(&self.params.timbre_x);
                setter.end_set_parameter(&self.params.timbre_y);
                nice_plug::nice_log!("timbre moved to x={:.3} y={:.3}", self.params.timbre_x.value(), self.params.timbre_y.value());
            }
            if response.double_clicked() {
                // Snap to the nearest instrument.
                if let Some((m, _)) = super::status::nearest(&marks, x, y) {
                    self.set_timbre(m.pad.0, m.pad.1);
                }
            } else if response.clicked() {
                self.set_timbre(x, y);
            }
        }
        painter.circle_stroke(handle, 9.0, Stroke::new(2.5, ACCENT));
        painter.circle_filled(handle, 3.0, ACCENT);
    }

    fn side_panel(&mut self, ui: &mut egui::Ui) {
        let Some(gui) = self.gui.clone() else { return };
        ui.label(egui::RichText::new("Instruments").strong());
        let marks = self.status.snapshot(|s| s.instruments.clone());
        // The preset menu: every instrument of the model, the one under the handle shown.
        let (x, y) = (self.params.timbre_x.value(), self.params.timbre_y.value());
        let here = super::status::nearest(&marks, x, y).filter(|(_, d)| *d < SNAP).map_or("(between instruments)".to_string(), |(m, _)| m.name.clone());
        let mut chosen = None;
        egui::ComboBox::from_id_salt("preset").selected_text(here).width(180.0).show_ui(ui, |ui| {
            for m in &marks {
                let label = if m.added { format!("{} (added)", m.name) } else { m.name.clone() };
                if ui.selectable_label(false, label).clicked() {
                    chosen = Some(m.pad);
                }
            }
        });
        if let Some(pad) = chosen {
            self.set_timbre(pad.0, pad.1);
        }
        let shares: Vec<String> = status::between(&marks, x, y, 3).iter().map(|(m, w)| format!("{} {:.0} %", m.name, w * 100.0)).collect();
        ui.label(egui::RichText::new(format!("between {}", shares.join(" · "))).small().color(Color32::from_gray(190)));
        egui::Grid::new("instruments").num_columns(2).spacing([6.0, 4.0]).show(ui, |ui| {
            for (i, m) in marks.iter().enumerate() {
                if ui.button(&m.name).clicked() {
                    self.set_timbre(m.pad.0, m.pad.1);
                }
                if i % 2 == 1 {
                    ui.end_row();
                }
            }
        });
        ui.separator();
        ui.horizontal(|ui| {
            ui.label("Gain");
            ui.add(widgets::ParamSlider::for_param(&self.params.gain, &gui.param_setter()));
        });
        self.controllers(ui, &gui);
        if self.audio_in {
            ui.separator();
            ui.label(egui::RichText::new("Audio in").strong());
            let setter = gui.param_setter();
            ui.horizontal(|ui| {
                ui.label("Transpose");
                ui.add(widgets::ParamSlider::for_param(&self.params.audio_transpose, &setter));
            });
            ui.horizontal(|ui| {
                ui.label("Loudness follow");
                ui.add(widgets::ParamSlider::for_param(&self.params.audio_follow, &setter));
            });
        }
        ui.separator();
        ui.label(egui::RichText::new("Model").strong());
        let current = self.params.model_dir.locked().clone();
        ui.label(current.as_deref().unwrap_or("default (embedded)"));
        ui.horizontal(|ui| {
            ui.add(egui::TextEdit::singleline(&mut self.folder).hint_text("model folder").desired_width(170.0));
            if ui.add_enabled(self.loading.is_none(), egui::Button::new("Load")).clicked() {
                self.start_loading(self.folder.trim().to_string());
            }
            if ui.button("Default").clicked() {
                *self.params.model_dir.locked() = None;
                self.note = None;
                gui.request_restart();
            }
        });
        let mut provider = *self.params.provider.locked();
        let before = provider;
        egui::ComboBox::from_label("Execution provider").selected_text(provider.to_string()).show_ui(ui, |ui| {
            for p in [Provider::Cpu, Provider::Cuda, Provider::TensorRt] {
                ui.selectable_value(&mut provider, p, p.to_string());
            }
        });
        if provider != before {
            *self.params.provider.locked() = provider;
            gui.request_restart();
        }
        let mut mode = *self.params.latency_mode.locked();
        let before = mode;
        egui::ComboBox::from_label("Latency").selected_text(mode.to_string()).show_ui(ui, |ui| {
            ui.selectable_value(&mut mode, LatencyMode::Safe, "safe: any host");
            ui.selectable_value(&mut mode, LatencyMode::Low, "low: a host with steady blocks");
        });
        if mode != before {
            *self.params.latency_mode.locked() = mode;
            gui.request_restart();
        }
        self.poll_loading(&gui);
        if let Some(note) = &self.note {
            ui.colored_label(Color32::from_rgb(255, 200, 120), note);
        }
    }

    /// The output meter: RMS as a bar, the peak as a line that falls back at
    /// `PEAK_FALL_DB_PER_S`, and a clip light that stays lit until clicked.
    fn meter(&mut self, ui: &mut egui::Ui) {
        let (peak, rms) = self.panel.take_levels();
        let db = |v: f32| if v > 0.0 { 20.0 * v.log10() } else { METER_FLOOR_DB };
        let (held, since) = self.peak_hold;
        let fallen = held - PEAK_FALL_DB_PER_S * since.elapsed().as_secs_f32();
        if db(peak) >= fallen {
            self.peak_hold = (db(peak), Instant::now());
        }
        let hold = db(peak).max(fallen).max(METER_FLOOR_DB);
        let frac = |d: f32| ((d - METER_FLOOR_DB) / (METER_TOP_DB - METER_FLOOR_DB)).clamp(0.0, 1.0);
        ui.horizontal(|ui| {
            ui.label("Output");
            let (rect, _) = ui.allocate_exact_size(Vec2::new(130.0, 12.0), Sense::hover());
            let painter = ui.painter_at(rect);
            painter.rect_filled(rect, CornerRadius::same(2), PAD_BG);
            let x = |d: f32| rect.left() + frac(d) * rect.width();
            let colour = if db(rms) > -6.0 { Color32::from_rgb(240, 200, 80) } else { Color32::from_rgb(90, 200, 120) };
            painter.rect_filled(egui::Rect::from_min_max(rect.min, Pos2::new(x(db(rms)), rect.bottom())), CornerRadius::same(2), colour);
            painter.line_segment([Pos2::new(x(hold), rect.top()), Pos2::new(x(hold), rect.bottom())], Stroke::new(2.0, Color32::WHITE));
            // 0 dBFS.
            painter.line_segment([Pos2::new(x(0.0), rect.top()), Pos2::new(x(0.0), rect.bottom())], Stroke::new(1.0, Color32::from_rgb(255, 90, 80)));
            let clipped = self.panel.clipped();
            let (light, response) = ui.allocate_exact_size(Vec2::splat(12.0), Sense::click());
            ui.painter().circle_filled(light.center(), 5.5, if clipped { Color32::from_rgb(255, 60, 50) } else { Color32::from_gray(60) });
            if response.on_hover_text("Clip: the output reached 0 dBFS. Click to clear.").clicked() {
                self.panel.clear_clip();
            }
            ui.label(egui::RichText::new(format!("peak {hold:.1} · RMS {:.1} dB", db(rms).max(METER_FLOOR_DB))).small());
        });
    }

    /// The on-screen keyboard: lights the keys sounding from any source, and plays the
    /// key the mouse holds down.
    fn keyboard(&mut self, ui: &mut egui::Ui) {
        let width = ui.available_width();
        let (rect, response) = ui.allocate_exact_size(Vec2::new(width, KEYBOARD_HEIGHT), Sense::click_and_drag());
        let keys = editor_layout::keyboard(KEYBOARD_KEYS.0, KEYBOARD_KEYS.1, Area { x: rect.left(), y: rect.top(), w: rect.width(), h: rect.height() });
        let painter = ui.painter_at(rect);
        for &(k, a) in &keys {
            let r = egui::Rect::from_min_size(Pos2::new(a.x, a.y), Vec2::new(a.w, a.h));
            let black = editor_layout::is_black(k);
            let fill = match (self.panel.sounding(k as usize), black) {
                (true, _) => ACCENT,
                (false, true) => Color32::from_gray(30),
                (false, false) => Color32::from_gray(235),
            };
            painter.rect_filled(r.shrink(0.5), CornerRadius::same(2), fill);
            if !black {
                painter.rect_stroke(r.shrink(0.5), CornerRadius::same(2), Stroke::new(1.0, Color32::from_gray(90)), egui::StrokeKind::Inside);
                if k % 12 == 0 {
                    painter.text(
                        Pos2::new(r.center().x, r.bottom() - 3.0),
                        Align2::CENTER_BOTTOM,
                        format!("C{}", k as i32 / 12 - 1),
                        FontId::proportional(10.0),
                        Color32::from_gray(90),
                    );
                }
            }
        }
        let under =
            response.interact_pointer_pos().filter(|_| response.is_pointer_button_down_on()).and_then(|p| keys.iter().rev().find(|(_, a)| a.contains(p.x, p.y)).map(|k| k.0));
        if under != self.mouse_key {
            if let Some(old) = self.mouse_key {
                self.panel.play(old, 0);
            }
            if let Some(k) = under {
                self.panel.play(k, 100);
            }
            self.mouse_key = under;
        }
        ui.label(
            egui::RichText::new(format!(
                "Computer keyboard: A S D F G H J K L ; play C{0}–E{1}, W E T Y U O P the black keys; Z and X shift the octave",
                self.octave,
                self.octave + 1
            ))
            .small()
            .color(Color32::from_gray(170)),
        );
    }

    /// The computer keyboard as a piano, while no text field wants the keys.
    fn computer_keyboard(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        let events = ctx.input(|i| i.events.clone());
        for e in events {
            let egui::Event::Key { key, pressed, repeat: false, .. } = e else { continue };
            match (key, pressed) {
                (egui::Key::Z, true) => self.octave = (self.octave - 1).max(*editor_layout::OCTAVES.start()),
                (egui::Key::X, true) => self.octave = (self.octave + 1).min(*editor_layout::OCTAVES.end()),
                (_, true) => {
                    if let Some(semitone) = editor_layout::computer_key(key.name()) {
                        let note = ((self.octave + 1) * 12 + semitone as i32).clamp(0, 127) as u8;
                        if !self.typed_keys.iter().any(|(k, _)| *k == key) && self.panel.play(note, 100) {
                            nice_plug::nice_log!("editor plays key {note}");
                            self.typed_keys.push((key, note));
                        }
                    }
                }
                (_, false) => {
                    if let Some(i) = self.typed_keys.iter().position(|(k, _)| *k == key) {
                        let (_, note) = self.typed_keys.remove(i);
                        self.panel.play(note, 0);
                    }
                }
            }
        }
    }

    /// The choice of controllers moving the pad: the mod wheel for X and a CC of the
    /// player's choosing for Y.
    fn controllers(&mut self, ui: &mut egui::Ui, gui: &GuiContext) {
        let setter = gui.param_setter();
        ui.horizontal(|ui| {
            let mut on = self.params.pad_from_controllers.value();
            if ui.checkbox(&mut on, "Pad from CC1 (X) and CC").changed() {
                setter.begin_set_parameter(&self.params.pad_from_controllers);
                setter.set_parameter(&self.params.pad_from_controllers, on);
                setter.end_set_parameter(&self.params.pad_from_controllers);
            }
            let mut cc = self.params.pad_cc_y.value();
            if ui.add(egui::DragValue::new(&mut cc).range(0..=127)).changed() {
                setter.begin_set_parameter(&self.params.pad_cc_y);
                setter.set_parameter(&self.params.pad_cc_y, cc);
                setter.end_set_parameter(&self.params.pad_cc_y);
            }
            ui.label("(Y)");
        });
    }

    fn status_line(&mut self, ui: &mut egui::Ui) {
        let (model, provider, latency, rate, timing, problem, monitor) =
            self.status.snapshot(|s| (s.model.clone(), s.provider.clone(), s.latency_ms, s.sample_rate, s.timing.clone(), s.problem.clone(), s.monitor.clone()));
        let (underruns, grown, failed, error, notice) = match &monitor {
            Some(m) => {
                let stats = m.stats();
                let (then, busy, load) = self.load;
                let dt = then.elapsed().as_secs_f64();
                if dt > 0.5 {
                    self.load = (Instant::now(), stats.busy_seconds, ((stats.busy_seconds - busy) / dt).clamp(0.0, 9.99));
                } else {
                    self.load.2 = load;
                }
                (stats.underruns, stats.latency_grown, stats.failed, m.last_error(), m.last_notice())
            }
            None => (0, 0, false, None, None),
        };
        let latency = if grown > 0 && rate > 0.0 {
            format!("latency {:.1} ms (grown {:.1} ms after underruns)", latency + grown as f32 * 1000.0 / rate, grown as f32 * 1000.0 / rate)
        } else {
            format!("latency {latency:.1} ms")
        };
        ui.label(format!("{model} · {provider} · {latency} · inference load {:.0} % · underruns {underruns}", self.load.2 * 100.0));
        ui.label(egui::RichText::new(&timing).color(Color32::from_gray(170)).small());
        if let Some(n) = notice {
            ui.label(egui::RichText::new(n).color(Color32::from_gray(170)));
        }
        if let Some(p) = problem.or(error) {
            ui.horizontal(|ui| {
                ui.colored_label(Color32::from_rgb(255, 120, 100), p);
                // A failed inference thread plays silence until restarted: here, or
                // by the host's reset.
                if let (true, Some(m)) = (failed, &monitor) {
                    if ui.button("Restart").clicked() {
                        m.request_restart();
                    }
                }
            });
        }
    }
}

impl NiceEguiApp for MelwaveEditor {
    fn build(&mut self, _egui_ctx: egui::Context, gui: GuiContext, _frame: &mut nice_plug_egui::Frame) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        self.gui = Some(gui);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        self.computer_keyboard(&ui.ctx().clone());
        nice_plug_egui::resizable_window::ResizableWindow::new("melwave-editor").min_size(MIN_SIZE).max_size(MAX_SIZE).show(ui, |ui| {
            egui::Frame::new().inner_margin(egui::Margin::same(10)).show(ui, |ui| {
                ui.heading(if self.audio_in { "Melwave Audio" } else { "Melwave" });
                let avail = ui.available_size();
                let side = (avail.y - KEYBOARD_HEIGHT - 95.0).min(avail.x * 0.55).clamp(MIN_PAD, MAX_PAD);
                ui.horizontal_top(|ui| {
                    self.pad(ui, side);
                    ui.vertical(|ui| {
                        self.meter(ui);
                        ui.separator();
                        self.side_panel(ui);
                    });
                });
                ui.add_space(4.0);
                self.keyboard(ui);
                ui.separator();
                self.status_line(ui);
            });
        });
        // The meter and the keys move with the sound.
        ui.ctx().request_repaint_after(std::time::Duration::from_millis(33));
    }

    fn editor_closed(&mut self) {
        // Notes the editor holds must not hang on after it closes.
        for (_, note) in self.typed_keys.drain(..) {
            self.panel.play(note, 0);
        }
        if let Some(k) = self.mouse_key.take() {
            self.panel.play(k, 0);
        }
        self.gui = None;
    }
}
