//! The positions of two or three given bytes in a text, in increasing order: what
//! `memchr::memchr3_iter` yields, built for the texts the secret scan reads most; and
//! whether a window of 16 bytes holds any of a few ([`holds_none`]).
//!
//! The assignment scan jumps between the operators `=` and `:`, and in an agent's stream-json
//! they are dense: one every 22 bytes, in keys, times and paths. memchr restarts its vector
//! search for every hit, which at that density costs more than the search itself. Here the
//! text is classified 64 bytes at a time into a bit mask (SSE2, part of every x86_64 CPU; a
//! plain loop elsewhere), and the hits are read off the mask, so a dense text costs a fraction
//! of a cycle per byte plus a few instructions per hit, and a sparse one little more than one
//! pass.

/// The bytes of a 64-byte block.
const BLOCK: usize = 64;

/// An iterator over the positions of `needles` in a text.
pub struct Anchors<'t> {
    text: &'t [u8],
    needles: [u8; 3],
    /// Where the block `mask` describes starts.
    at: usize,
    /// The hits of the block at `at` not yet handed out, bit `i` for byte `at + i`.
    mask: u64,
}

/// The positions of any of `a`, `b`, `c` in `text`.
fn anchors3(a: u8, b: u8, c: u8, text: &[u8]) -> Anchors<'_> {
    let mut it = Anchors {
        text,
        needles: [a, b, c],
        at: 0,
        mask: 0,
    };
    it.mask = it.block_mask(0);
    it
}

/// The positions of either `a` or `b` in `text`.
pub fn anchors2(a: u8, b: u8, text: &[u8]) -> Anchors<'_> {
    anchors3(a, b, b, text)
}

impl Iterator for Anchors<'_> {
    type Item = usize;

    /// Inlined into the scan's loop: a hit costs a few instructions, a new block a call.
    #[inline]
    fn next(&mut self) -> Option<usize> {
        if self.mask == 0 && !self.next_block() {
            return None;
        }
        let bit = self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(self.at + bit)
    }
}

impl Anchors<'_> {
    /// Move on to the next block with a hit; `false` at the end of the text.
    #[inline(never)]
    fn next_block(&mut self) -> bool {
        loop {
            self.at += BLOCK;
            if self.at >= self.text.len() {
                return false;
            }
            self.mask = self.block_mask(self.at);
            if self.mask != 0 {
                return true;
            }
        }
    }

    /// The hits among the (up to) 64 bytes from `at`. The last, shorter block (all of a short
    /// text, such as one string of an event) is copied into a padded block first, so it costs
    /// what a full one does.
    fn block_mask(&self, at: usize) -> u64 {
        if let Some(block) = self.text.get(at..at + BLOCK) {
            return full_block_mask(block, self.needles);
        }
        // Shorter than a block, since a full one was not there: it fits the padded copy.
        let tail = self.text.get(at..).unwrap_or(&[]);
        let mut padded = [0u8; BLOCK];
        padded[..tail.len()].copy_from_slice(tail);
        // Only the tail's own bytes count (a needle could be the padding's 0).
        full_block_mask(&padded, self.needles) & ((1u64 << tail.len()) - 1)
    }
}

/// The hits of a block, one byte at a time (where SSE2 is not).
fn scalar_mask(bytes: &[u8], [a, b, c]: [u8; 3]) -> u64 {
    let mut mask = 0u64;
    for (i, &x) in bytes.iter().take(BLOCK).enumerate() {
        if x == a || x == b || x == c {
            mask |= 1 << i;
        }
    }
    mask
}

#[cfg(target_arch = "x86_64")]
fn full_block_mask(block: &[u8], needles: [u8; 3]) -> u64 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    if block.len() < BLOCK {
        return scalar_mask(block, needles);
    }
    let [a, b, c] = needles.map(|n| n as i8);
    let p = block.as_ptr();
    // SAFETY: SSE2 is part of the x86_64 baseline, so every target this compiles for has these
    // instructions; the four loads read bytes 0..64 of `block`, which holds at least 64 (checked
    // above), and `loadu` needs no alignment.
    unsafe {
        let (a, b, c) = (_mm_set1_epi8(a), _mm_set1_epi8(b), _mm_set1_epi8(c));
        let hits = |at: usize| -> u64 {
            let v = _mm_loadu_si128(p.add(at).cast::<__m128i>());
            let any = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, a), _mm_cmpeq_epi8(v, b)),
                _mm_cmpeq_epi8(v, c),
            );
            // movemask sets only the low 16 bits: one per byte.
            u64::from(_mm_movemask_epi8(any) as u16)
        };
        hits(0) | hits(16) << 16 | hits(32) << 32 | hits(48) << 48
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn full_block_mask(block: &[u8], needles: [u8; 3]) -> u64 {
    scalar_mask(block, needles)
}

/// Whether none of the bytes of `v` is one of `set`: all 16 at once when there are 16 (SSE2,
/// part of every x86_64 CPU), one by one otherwise.
#[inline]
pub fn holds_none(v: &[u8], set: &[u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if v.len() == 16 {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
            _mm_set1_epi8, _mm_setzero_si128,
        };
        // SAFETY: SSE2 is part of the x86_64 baseline, so every target this compiles for has
        // these instructions; the load reads bytes 0..16 of `v`, which holds exactly 16
        // (checked above), and `loadu` needs no alignment.
        unsafe {
            let x = _mm_loadu_si128(v.as_ptr().cast::<__m128i>());
            let mut hit = _mm_setzero_si128();
            for &c in set {
                hit = _mm_or_si128(hit, _mm_cmpeq_epi8(x, _mm_set1_epi8(c as i8)));
            }
            return _mm_movemask_epi8(hit) == 0;
        }
    }
    !v.iter().any(|c| set.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &[u8]) {
        assert_eq!(
            anchors3(b'A', b'-', b'_', text).collect::<Vec<_>>(),
            memchr::memchr3_iter(b'A', b'-', b'_', text).collect::<Vec<_>>(),
            "{:?}",
            String::from_utf8_lossy(text)
        );
        assert_eq!(
            anchors2(b'=', b':', text).collect::<Vec<_>>(),
            memchr::memchr2_iter(b'=', b':', text).collect::<Vec<_>>()
        );
    }

    #[test]
    fn holds_none_sees_a_set_byte_wherever_it_stands() {
        let set = b" \t\n,\"\xff";
        for len in [0, 1, 15, 16, 17] {
            let clean = vec![b'a'; len];
            assert!(holds_none(&clean, set), "{len}");
            for at in 0..len {
                for &c in set {
                    let mut v = clean.clone();
                    v[at] = c;
                    assert!(!holds_none(&v, set), "{len} {at} {c}");
                }
            }
        }
        assert!(
            holds_none(&[0u8; 16], b"x"),
            "no byte of the set, not even a padding 0"
        );
        assert!(!holds_none(&[0u8; 16], b"\0"));
    }

    #[test]
    fn the_same_positions_as_memchr_at_every_length_and_density() {
        check(b"");
        // Every length around the block edges, hits at the first and last byte of each.
        for len in 0..200 {
            let mut t: Vec<u8> = (0..len).map(|i| b"xyz"[i % 3]).collect();
            check(&t);
            for i in (0..len).step_by(7) {
                t[i] = b"A-_=:"[i % 5];
            }
            if let Some(last) = t.last_mut() {
                *last = b'_';
            }
            check(&t);
            t.iter_mut().for_each(|b| *b = b'-');
            check(&t);
        }
        // A pseudo-random text over a small alphabet with every needle in it.
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let t: Vec<u8> = (0..10_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b"A-_=:.KJab\xff\x80"[(x % 12) as usize]
            })
            .collect();
        for start in 0..70 {
            check(&t[start..]);
        }
    }
}
