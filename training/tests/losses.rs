//! Mel2Mel's loss: what it counts and what it leaves out.

use melwave::contract::{LOG_FLOOR, N_MELS};
use melwave_train::losses::{band_l1, loud_band_l1, mel2mel_loss, BAND_FLOOR, MEL2MEL_BAND_WEIGHT, MEL2MEL_LEVEL_WEIGHT};
use tch::{Kind, Tensor};

/// One frame `[1, 1, 80]` with every band at `log_magnitude`.
fn frame(log_magnitude: f64) -> Tensor {
    Tensor::full([1, 1, N_MELS as i64], log_magnitude, (Kind::Float, tch::Device::Cpu))
}

fn loss(pred: &Tensor, target: &Tensor, level: f64) -> f64 {
    let every = Tensor::ones([pred.size()[0], pred.size()[1], 1], (Kind::Float, tch::Device::Cpu));
    mel2mel_loss(pred, target, &every, level).double_value(&[])
}

/// 10 dB of power, in nats of magnitude.
const TEN_DB: f64 = 1.151_292_5;

#[test]
fn a_match_costs_nothing() {
    let t = Tensor::cat(&[frame(-1.0), frame(-6.0), frame(LOG_FLOOR as f64)], 1);
    assert!(loss(&t, &t, MEL2MEL_LEVEL_WEIGHT).abs() < 1e-9);
}

/// tanh-log-abs alone charges a soft frame played 10 dB too loud a seventh of what it
/// charges a loud one; the level term charges both the same, which is most of what
/// the soft frame's error costs.
#[test]
fn the_level_term_charges_a_soft_frames_error_like_a_loud_ones() {
    let (loud, soft) = (frame(0.0), frame(-5.0));
    let tanh_only = |t: &Tensor| loss(&(t + TEN_DB), t, 0.0);
    let with_level = |t: &Tensor| loss(&(t + TEN_DB), t, MEL2MEL_LEVEL_WEIGHT);
    assert!(tanh_only(&soft) < 0.2 * tanh_only(&loud), "tanh alone: soft {} loud {}", tanh_only(&soft), tanh_only(&loud));
    // The level part is the level error (in nats of power) times the weight, for both.
    for t in [&loud, &soft] {
        let level_part = with_level(t) - tanh_only(t);
        assert!((level_part - MEL2MEL_LEVEL_WEIGHT * 2.0 * TEN_DB).abs() < 1e-5, "{level_part}");
    }
    assert!(with_level(&soft) > 4.0 * tanh_only(&soft));
}

#[test]
fn frames_of_weight_zero_count_nothing() {
    let target = Tensor::cat(&[frame(-2.0), frame(-3.0)], 1);
    let near = Tensor::cat(&[frame(-2.0), frame(-3.1)], 1);
    let far = Tensor::cat(&[frame(4.0), frame(-3.1)], 1);
    let second_only = Tensor::from_slice(&[0.0f32, 1.0]).reshape([1, 2, 1]);
    let l = |p: &Tensor| mel2mel_loss(p, &target, &second_only, MEL2MEL_LEVEL_WEIGHT).double_value(&[]);
    assert!(l(&near) > 0.0);
    assert!((l(&near) - l(&far)).abs() < 1e-9, "the burned-in frame changed the loss: {} vs {}", l(&near), l(&far));
}

/// Far below any note, levels are floored: the net is not asked to match the depth
/// of near-silence, only its own tanh-log-abs error there remains.
#[test]
fn near_silent_frames_are_one_level() {
    let silent = frame(LOG_FLOOR as f64);
    let hiss = frame(LOG_FLOOR as f64 + 2.0);
    let tanh_only = loss(&hiss, &silent, 0.0);
    assert!((loss(&hiss, &silent, MEL2MEL_LEVEL_WEIGHT) - tanh_only).abs() < 1e-9);
}

/// The gradient of the whole Mel2Mel loss (at the shipped weights) on a frame
/// predicted at `pred` where the truth is `truth`, with or without the band term.
fn pull(pred: f64, truth: f64, band: f64) -> f64 {
    let p = frame(pred).set_requires_grad(true);
    let t = frame(truth);
    let every = Tensor::ones([1, 1, 1], (Kind::Float, tch::Device::Cpu));
    let l = mel2mel_loss(&p, &t, &every, 0.0) + band_l1(&p, &t, &every) * band;
    l.backward();
    p.grad().abs().mean(Kind::Float).double_value(&[])
}

/// Where tanh-log-abs has all but stopped pulling (a band predicted near silence under
/// a loud truth), the band term still pulls as hard as anywhere.
#[test]
fn the_band_term_pulls_a_silent_prediction_up() {
    let (silent, loud, near) = (-9.0, -2.2, -2.0);
    let tanh_far = pull(silent, loud, 0.0);
    let tanh_near = pull(near, loud, 0.0);
    assert!(tanh_far < tanh_near * 2.0, "tanh-log-abs alone: far {tanh_far}, near {tanh_near}");
    let with_band = pull(silent, loud, MEL2MEL_BAND_WEIGHT);
    assert!(with_band > 2.0 * tanh_far, "with the band term {with_band}, without {tanh_far}");
    // Its share is the same for a band 0.2 or 6.8 nats off: an L1's.
    let band_far = with_band - tanh_far;
    let band_near = pull(near, loud, MEL2MEL_BAND_WEIGHT) - tanh_near;
    assert!((band_far - band_near).abs() < 1e-7 && band_far > 0.0, "band pulls {band_far} far, {band_near} near");
}

/// Both sides are floored, so differences below anything audible cost nothing.
#[test]
fn the_band_term_ignores_what_lies_below_its_floor() {
    let floor = BAND_FLOOR;
    let every = Tensor::ones([1, 1, 1], (Kind::Float, tch::Device::Cpu));
    let l = |p: f64, t: f64| band_l1(&frame(p), &frame(t), &every).double_value(&[]);
    assert_eq!(l(floor - 0.5, LOG_FLOOR as f64), 0.0);
    assert!((l(floor + 1.0, LOG_FLOOR as f64) - 1.0).abs() < 1e-5);
    assert!((l(-1.0, -3.0) - 2.0).abs() < 1e-5);
}

/// One frame `[1, 1, 80]` at `rest`, with the bands in `peaks` at their own levels.
fn frame_with(rest: f64, peaks: &[(usize, f64)]) -> Tensor {
    let mut v = vec![rest as f32; N_MELS];
    for &(band, level) in peaks {
        v[band] = level as f32;
    }
    Tensor::from_slice(&v).reshape([1, 1, N_MELS as i64])
}

fn both(pred: &Tensor, target: &Tensor) -> (f64, f64) {
    let every = Tensor::ones([1, 1, 1], (Kind::Float, tch::Device::Cpu));
    (band_l1(pred, target, &every).double_value(&[]), loud_band_l1(pred, target, &every).double_value(&[]))
}

/// A high note's energy in two bands, predicted in a low band instead (the frame's level
/// about right): the band L1 charges the two missed bands a fortieth of their error,
/// the power-weighted term charges nearly all of it.
#[test]
fn the_loud_band_term_charges_a_missed_peak_in_full() {
    let floor = BAND_FLOOR;
    let truth = frame_with(floor, &[(50, -2.5), (51, -2.5)]);
    let pred = frame_with(floor, &[(5, -2.2)]);
    let (band, loud) = both(&pred, &truth);
    let miss = -2.5 - floor;
    assert!((band - (2.0 * miss + (-2.2 - floor)) / N_MELS as f64).abs() < 1e-4, "band L1 {band}");
    assert!(loud > 0.95 * miss && loud < 1.05 * miss, "power-weighted {loud} for a {miss} nat miss");
    let (_, none) = both(&truth, &truth);
    assert!(none.abs() < 1e-7, "a match costs {none}");
}

/// The same error in a quiet band costs a small part of what it costs in the frame's
/// loudest, where the band L1 charges both alike; and a soft frame's miss costs what the
/// same miss costs 40 dB louder, so soft notes are not left to drift.
#[test]
fn the_loud_band_term_weighs_bands_by_power_and_frames_alike() {
    let truth = frame_with(-3.5, &[(30, 0.0), (60, -2.5)]);
    let loud_missed = frame_with(-3.5, &[(30, -2.0), (60, -2.5)]);
    let quiet_missed = frame_with(-3.5, &[(30, 0.0), (60, -4.5)]);
    let (band_a, loud_a) = both(&loud_missed, &truth);
    let (band_b, loud_b) = both(&quiet_missed, &truth);
    assert!((band_a - band_b).abs() < 1e-6, "band L1 {band_a} vs {band_b}");
    assert!(loud_b < 0.01 * loud_a, "quiet band missed {loud_b}, loud band missed {loud_a}");
    let db40 = 4.0 * TEN_DB;
    let (_, soft) = both(&(&loud_missed - db40), &(&truth - db40));
    assert!((soft - loud_a).abs() < 1e-4 * loud_a, "soft frame {soft}, loud frame {loud_a}");
}
