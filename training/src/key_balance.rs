//! Key-balanced crops for Mel2Mel.
//!
//! Uniform crops see each key as often as the music plays it, and the keyboard's ends
//! are rare: keys above 96 are 7.9 % of the training notes (3.9 % before the dataset's
//! extremes pieces went from 30 to 90). Each key has its own input
//! columns, so those stay under-trained, and a held-out run up to key 104 came out
//! 26–53 dB too soft on the struck instruments. A share of each batch is therefore
//! drawn key first: a key uniformly among those the training data plays, then one of
//! its onsets, then a crop whose counted frames hold it.

use melwave::contract::HOP;
use melwave::features::Event;
use rand::rngs::Xoshiro256PlusPlus;
use rand::RngExt;

use crate::dataset::Item;
use crate::train::BURN_IN;

/// The share of crops drawn key first unless the run says otherwise: v4.3's last stage
/// (docs/training.md §2; 0.5 paid more than 0.25 on the rare keys, and cost the softest
/// notes a little).
pub const KEY_BALANCE: f64 = 0.5;

/// Every onset of the training items, by key: (item, frame).
pub struct KeyOnsets {
    by_key: Vec<Vec<(usize, usize)>>,
}

impl KeyOnsets {
    /// The onsets of `items` that a crop of `frames` can hold.
    pub fn new(items: &[Item], frames: usize) -> Self {
        let mut by_key = vec![Vec::new(); 128];
        for (i, item) in items.iter().enumerate().filter(|(_, item)| item.frames() >= frames) {
            for e in &item.events {
                let frame = e.time as usize / HOP;
                if let Event::NoteOn { key, .. } = e.event {
                    if frame < item.frames() {
                        by_key[key as usize].push((i, frame));
                    }
                }
            }
        }
        by_key.retain(|onsets| !onsets.is_empty());
        Self { by_key }
    }

    /// How many keys the crops are balanced over.
    pub fn keys(&self) -> usize {
        self.by_key.len()
    }

    /// A mid-item crop of `frames` (`(item, first frame, false)`, as
    /// [`crate::train::mel2mel_crops`] gives) with the drawn onset after the burn-in,
    /// unless the onset is so near the item's start that no crop can put it there.
    pub fn crop(&self, rng: &mut Xoshiro256PlusPlus, items: &[Item], frames: usize) -> (usize, usize, bool) {
        let onsets = &self.by_key[rng.random_range(0..self.by_key.len())];
        let (i, frame) = onsets[rng.random_range(0..onsets.len())];
        let before = rng.random_range(BURN_IN.min(frames - 1)..frames);
        (i, frame.saturating_sub(before).min(items[i].frames() - frames), false)
    }

    /// Replaces each of `crops` by a key-balanced one with probability `share`.
    pub fn mix_into(&self, crops: &mut [(usize, usize, bool)], share: f64, rng: &mut Xoshiro256PlusPlus, items: &[Item], frames: usize) {
        if share <= 0.0 || self.by_key.is_empty() {
            return;
        }
        for c in crops {
            if rng.random_bool(share.min(1.0)) {
                *c = self.crop(rng, items, frames);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use melwave::features::TimedEvent;
    use rand::SeedableRng;

    use super::*;

    fn item(frames: usize, onsets: &[(u8, usize)]) -> Item {
        let events = onsets.iter().map(|&(key, f)| TimedEvent { time: (f * HOP) as u64, event: Event::NoteOn { key, velocity: 100 } }).collect();
        Item { piece: 0, instrument: 0, audio: vec![0.0; frames * HOP], mel: Vec::new(), events }
    }

    #[test]
    fn a_rare_key_is_drawn_as_often_as_a_common_one_and_its_onset_is_counted() {
        // Key 60 is struck 200 times, key 100 once, late in a long item.
        let common: Vec<(u8, usize)> = (0..200).map(|n| (60, 10 + n * 4)).collect();
        let items = [item(1000, &common), item(2000, &[(100, 1500)])];
        let frames = 384;
        let k = KeyOnsets::new(&items, frames);
        assert_eq!(k.keys(), 2);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let crops: Vec<_> = (0..4000).map(|_| k.crop(&mut rng, &items, frames)).collect();
        let rare = crops.iter().filter(|c| c.0 == 1).count() as f64 / crops.len() as f64;
        assert!((0.45..0.55).contains(&rare), "share of crops on the rare key: {rare}");
        for &(i, s, fresh) in &crops {
            assert!(!fresh && s + frames <= items[i].frames());
            if i == 1 {
                assert!((s + BURN_IN..s + frames).contains(&1500), "crop at {s} misses the onset or leaves it in the burn-in");
            }
        }
    }

    #[test]
    fn mixing_replaces_about_the_share_asked_for_and_none_at_zero() {
        let items = [item(1000, &[(60, 100)]), item(1000, &[(100, 500)])];
        let k = KeyOnsets::new(&items, 384);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let uniform = vec![(0, 1, true); 2000];
        let mut crops = uniform.clone();
        k.mix_into(&mut crops, 0.0, &mut rng, &items, 384);
        assert_eq!(crops, uniform);
        k.mix_into(&mut crops, 0.25, &mut rng, &items, 384);
        let replaced = crops.iter().filter(|c| **c != (0, 1, true)).count() as f64 / 2000.0;
        assert!((0.2..0.3).contains(&replaced), "replaced {replaced}");
    }
}
