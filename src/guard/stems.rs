//! The literals every credential shape starts with, and the order they are given to the
//! literal searcher in.
//!
//! Every shape `secrets::shape_at` knows starts with one of [`STEMS`]: a whole prefix where it
//! is short, else a stem that several prefixes share (`xox`, `shp`, `sk_`), which `shape_at`
//! then tells apart. The AWS key prefixes are stems as they are. Twilio's `SK` is given with
//! each hex digit after it, so that every stem is at least 3 bytes long: the searcher's
//! fingerprint is as long as the shortest stem, and a 2-byte one matches so often in prose
//! that the scan ran slower than testing every byte. A test in `secrets.rs` checks that every
//! prefix `shape_at` knows starts with a stem.
//!
//! The shape scan asks aho-corasick's Teddy searcher for the leftmost stem. With more than 32
//! stems it runs as Fat Teddy: 16 buckets, and a fingerprint of each stem's first three bytes,
//! kept per bucket as the set of low and the set of high nibbles seen at each of the three
//! places. A position of the text whose three bytes fit a bucket's sets is a candidate, and
//! the searcher compares every stem of that bucket there. So a bucket that holds `glp` and
//! `SK3` also takes `cks` (`c` has the low nibble of `S` and the high nibble of `g`), and
//! English is full of those. In a profile of the ingestion benchmark, the comparisons took
//! about five times as long as the scan, over a stream that holds no stem at all.
//!
//! Which bucket a stem gets depends only on its place in the list: the stem at place `i` goes
//! to bucket `15 - i % 16`, unless an earlier stem has the same low nibbles in its first three
//! bytes (`SK1` and `SKa`), whose bucket it joins (aho-corasick 1.1; a release that buckets
//! otherwise would lose the speed-up, not a finding). So [`STEMS`] is in the order that puts
//! together stems whose bytes share nibbles, and few positions of ordinary text fit any
//! bucket. It was chosen by a local search (the ignored test `search_order` prints it again)
//! over this repository's code, documents and recorded agent streams: 0.049 candidates per
//! byte for the stems in alphabetical order, 0.003 for this one. A new stem can go anywhere;
//! the order changes only the speed, never what is found, since the scan takes the leftmost
//! stem whichever it is.

/// The literals every credential shape starts with, in the searcher's order (see the module
/// note).
pub(super) const STEMS: &[&str] = &[
    "AROA",
    "eyJ",
    "AGPA",
    "AIza",
    "AIPA",
    "dor_",
    "npm_",
    "ghu_",
    "PMAK-",
    "SK3",
    "SK5",
    "SK8",
    "sk_",
    "ATATT3",
    "glp",
    "hf_",
    "AKIA",
    "pul-",
    "ACCA",
    "xapp-",
    "SK9",
    "gho_",
    "glr",
    "ghr_",
    "shp",
    "SK2",
    "SG.",
    "SK6",
    "-----BEGIN ",
    "NRAK-",
    "gld",
    "hvb.",
    "ASIA",
    "EAA",
    "GOCSPX-",
    "xox",
    "ANPA",
    "doo_",
    "ghs_",
    "ANVA",
    "SK0",
    "pscale_tkn_",
    "AGE-SECRET-KEY-1",
    "lin_api_",
    "SK7",
    "LTAI",
    "github_pat_",
    "hvs.",
    "key-",
    "pypi-",
    "rk_",
    "ya29.",
    "sq0",
    "dop_",
    "glc_",
    "APKA",
    "sntrys_",
    "SK4",
    "AIDA",
    "SK1",
    "sk-",
    "fo1_",
    "ghp_",
    "dp.pt.",
    "ABIA",
    "SKf",
    "SKa",
    "SKe",
    "SKc",
    "SKb",
    "SKd",
];

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::STEMS;

    /// How often each run of three bytes occurs in `texts`.
    fn triples<'a>(texts: impl IntoIterator<Item = &'a [u8]>) -> Vec<([u8; 3], u64)> {
        let mut counts: HashMap<[u8; 3], u64> = HashMap::new();
        for t in texts {
            for w in t.windows(3) {
                *counts.entry([w[0], w[1], w[2]]).or_default() += 1;
            }
        }
        counts.into_iter().collect()
    }

    /// The low nibbles of a stem's first three bytes: stems that share them share a bucket.
    fn low_nibbles(stem: &str) -> [u8; 3] {
        let b = stem.as_bytes();
        [b[0] & 15, b[1] & 15, b[2] & 15]
    }

    /// The buckets Fat Teddy makes of `order` (as the module note says).
    fn buckets<'a>(order: &[&'a str]) -> Vec<Vec<&'a str>> {
        let mut out = vec![Vec::new(); 16];
        let mut first: Vec<([u8; 3], usize)> = Vec::new();
        for (i, stem) in order.iter().enumerate() {
            let bucket = match first.iter().find(|(k, _)| *k == low_nibbles(stem)) {
                Some(&(_, b)) => b,
                None => {
                    first.push((low_nibbles(stem), 15 - i % 16));
                    15 - i % 16
                }
            };
            out[bucket].push(*stem);
        }
        out
    }

    /// How many positions of the counted text fit the fingerprint of a bucket holding `stems`.
    fn candidates(stems: &[&str], counted: &[([u8; 3], u64)]) -> u64 {
        let (mut lo, mut hi) = ([[false; 16]; 3], [[false; 16]; 3]);
        for s in stems {
            for (j, &b) in s.as_bytes()[..3].iter().enumerate() {
                lo[j][usize::from(b & 15)] = true;
                hi[j][usize::from(b >> 4)] = true;
            }
        }
        counted
            .iter()
            .filter(|(t, _)| {
                (0..3).all(|j| lo[j][usize::from(t[j] & 15)] && hi[j][usize::from(t[j] >> 4)])
            })
            .map(|(_, n)| n)
            .sum()
    }

    fn all_candidates(order: &[&str], counted: &[([u8; 3], u64)]) -> u64 {
        buckets(order).iter().map(|b| candidates(b, counted)).sum()
    }

    /// The stems in alphabetical order: the order the searcher's buckets are judged against.
    fn sorted() -> Vec<&'static str> {
        let mut sorted = STEMS.to_vec();
        sorted.sort_unstable();
        sorted
    }

    #[test]
    fn no_stem_is_given_twice() {
        let mut unique = sorted();
        unique.dedup();
        assert_eq!(unique.len(), STEMS.len());
    }

    #[test]
    fn the_order_lets_few_positions_of_ordinary_text_through() {
        // Prose, code and an agent's stream from this repository.
        let texts: [&[u8]; 4] = [
            include_bytes!("../../README.md"),
            include_bytes!("../../CONTRIBUTING.md"),
            include_bytes!("secrets.rs"),
            include_bytes!("../../tests/recordings/claude/tool_call.jsonl"),
        ];
        let counted = triples(texts);
        let (before, after) = (
            all_candidates(&sorted(), &counted),
            all_candidates(STEMS, &counted),
        );
        assert!(
            after * 5 < before,
            "{after} candidates in this order against {before} in alphabetical order"
        );
    }

    /// Every file under `dir` (recursively) whose name ends with one of `ends`.
    fn files(dir: &std::path::Path, ends: &[&str], out: &mut Vec<Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                files(&path, ends, out);
            } else if ends.iter().any(|end| path.to_string_lossy().ends_with(end)) {
                out.extend(std::fs::read(&path).ok());
            }
        }
    }

    /// Prints an order chosen afresh: `cargo test --lib guard::stems -- --ignored --nocapture`.
    /// The stems are grouped (those with the same low nibbles as one), dealt to the buckets in
    /// order, then swapped between buckets while a swap lowers the candidates over the
    /// repository's code, documents and recorded streams.
    #[test]
    #[ignore = "a tool: prints the order that STEMS holds"]
    fn search_order() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut texts = Vec::new();
        files(&root.join("src"), &[".rs"], &mut texts);
        files(&root.join("docs"), &[".md"], &mut texts);
        files(&root.join("tests/recordings"), &[".jsonl"], &mut texts);
        for doc in ["README.md", "CONTRIBUTING.md", "ARCHITECTURE.md"] {
            texts.extend(std::fs::read(root.join(doc)).ok());
        }
        let counted = triples(texts.iter().map(Vec::as_slice));
        let mut units: Vec<Vec<&str>> = Vec::new();
        for &stem in STEMS {
            match units
                .iter_mut()
                .find(|u| low_nibbles(u[0]) == low_nibbles(stem))
            {
                Some(u) => u.push(stem),
                None => units.push(vec![stem]),
            }
        }
        let mut dealt: Vec<Vec<usize>> = vec![Vec::new(); 16];
        for u in 0..units.len() {
            dealt[15 - u % 16].push(u);
        }
        let stems_of = |b: &[usize]| -> Vec<&str> {
            b.iter().flat_map(|&u| units[u].iter().copied()).collect()
        };
        let mut cost: Vec<u64> = dealt
            .iter()
            .map(|b| candidates(&stems_of(b), &counted))
            .collect();
        let mut better = true;
        while better {
            better = false;
            for a in 0..16 {
                for b in a + 1..16 {
                    for i in 0..dealt[a].len() {
                        for k in 0..dealt[b].len() {
                            let (x, y) = (dealt[a][i], dealt[b][k]);
                            dealt[a][i] = y;
                            dealt[b][k] = x;
                            let ca = candidates(&stems_of(&dealt[a]), &counted);
                            let cb = candidates(&stems_of(&dealt[b]), &counted);
                            if ca + cb < cost[a] + cost[b] {
                                (cost[a], cost[b], better) = (ca, cb, true);
                            } else {
                                dealt[a][i] = x;
                                dealt[b][k] = y;
                            }
                        }
                    }
                }
            }
        }
        // Each group's first stem at a place of its bucket; the rest after every first stem.
        let mut order = vec![""; units.len()];
        let mut rest: Vec<&str> = Vec::new();
        for (bucket, us) in dealt.iter().enumerate() {
            let places = (0..units.len()).filter(|p| 15 - p % 16 == bucket);
            for (p, &u) in places.zip(us) {
                order[p] = units[u][0];
                rest.extend(&units[u][1..]);
            }
        }
        order.extend(rest);
        let total: u64 = counted.iter().map(|(_, n)| n).sum();
        println!(
            "candidates per byte: {:.4} in alphabetical order, {:.4} in this one\n{order:?}",
            all_candidates(&sorted(), &counted) as f64 / total as f64,
            all_candidates(&order, &counted) as f64 / total as f64,
        );
    }
}
