//! A hash that is the same on every machine and Rust version (FNV-1a, 64-bit), for
//! names that must never move: the dataset's split of its sources, and the cache
//! folder of a custom instrument's run. `std`'s hashers are seeded per process.

/// FNV-1a of `s`'s bytes.
pub fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

#[cfg(test)]
mod tests {
    /// The published FNV-1a 64-bit test vectors.
    #[test]
    fn it_is_fnv_1a() {
        assert_eq!(super::fnv1a(""), 0xcbf29ce484222325);
        assert_eq!(super::fnv1a("a"), 0xaf63dc4c8601ec8c);
        assert_eq!(super::fnv1a("foobar"), 0x85944171f73967e8);
    }
}
