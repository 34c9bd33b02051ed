//! Estimating what a call cost when the CLI does not say: a price table per model.
//!
//! Claude Code reports `total_cost_usd`; Codex, Gemini CLI and Cursor report tokens only. For
//! those, orx multiplies the tokens by a price per million tokens and marks the cost
//! `cost_estimated`, so budgets work for every executor and nobody mistakes an estimate for an
//! invoice. Prices come from `pricing:` in `orx.yaml` first (exact model name, then the
//! longest configured name the model contains), then from [`BUILTIN`], a short list of
//! **approximate** list prices at the time of writing, matched the same way (so
//! `claude-sonnet-4-5-20250929` and `sonnet` both find `sonnet`). Providers change prices;
//! write the ones you pay in `pricing:`. A model found nowhere gets no estimate (cost 0, not
//! estimated), and its tokens still count against `run.max_tokens`.

use std::collections::BTreeMap;

use super::Usage;
use crate::config::ModelPrice;

/// (model-name fragment, input, output, cache read, cache write) in USD per million tokens.
/// Approximate list prices; override them in `pricing:`.
pub const BUILTIN: &[(&str, f64, f64, f64, f64)] = &[
    ("opus", 15.0, 75.0, 1.5, 18.75),
    ("sonnet", 3.0, 15.0, 0.3, 3.75),
    ("haiku", 1.0, 5.0, 0.1, 1.25),
    ("gpt-5-nano", 0.05, 0.4, 0.005, 0.05),
    ("gpt-5-mini", 0.25, 2.0, 0.025, 0.25),
    ("gpt-5", 1.25, 10.0, 0.125, 1.25),
    ("o4-mini", 1.1, 4.4, 0.275, 1.1),
    ("gemini-2.5-flash-lite", 0.1, 0.4, 0.025, 0.1),
    ("gemini-2.5-flash", 0.3, 2.5, 0.075, 0.3),
    ("gemini-2.5-pro", 1.25, 10.0, 0.31, 1.25),
    ("gemini-3-pro", 2.0, 12.0, 0.2, 2.0),
];

/// Where a price came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceSource {
    Config,
    Builtin,
}

/// The config's prices over the built-in ones.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    config: BTreeMap<String, ModelPrice>,
}

impl PriceTable {
    pub fn new(config: &BTreeMap<String, ModelPrice>) -> Self {
        PriceTable {
            config: config.clone(),
        }
    }

    /// The price of `model`, and where it came from.
    pub fn price(&self, model: &str) -> Option<(ModelPrice, PriceSource)> {
        let m = model.to_ascii_lowercase();
        if let Some(p) = self.config.get(model) {
            return Some((p.clone(), PriceSource::Config));
        }
        if let Some((_, p)) = self
            .config
            .iter()
            .filter(|(k, _)| !k.is_empty() && m.contains(&k.to_ascii_lowercase()))
            .max_by_key(|(k, _)| k.len())
        {
            return Some((p.clone(), PriceSource::Config));
        }
        BUILTIN
            .iter()
            .filter(|(k, ..)| m.contains(k))
            .max_by_key(|(k, ..)| k.len())
            .map(|&(_, i, o, cr, cw)| {
                (
                    ModelPrice {
                        input_per_mtok: i,
                        output_per_mtok: o,
                        cache_read_per_mtok: Some(cr),
                        cache_write_per_mtok: Some(cw),
                    },
                    PriceSource::Builtin,
                )
            })
    }

    /// The estimated cost of `usage` on `model`, if the model has a price.
    pub fn estimate(&self, usage: &Usage, model: &str) -> Option<f64> {
        let (p, _) = self.price(model)?;
        let per = |tokens: u64, price: f64| tokens as f64 * price / 1_000_000.0;
        Some(
            per(usage.input_tokens, p.input_per_mtok)
                + per(usage.output_tokens, p.output_per_mtok)
                + per(
                    usage.cache_read_tokens,
                    p.cache_read_per_mtok.unwrap_or(p.input_per_mtok),
                )
                + per(
                    usage.cache_write_tokens,
                    p.cache_write_per_mtok.unwrap_or(p.input_per_mtok),
                ),
        )
    }

    /// Give `usage` an estimated cost when the CLI reported tokens but no cost.
    pub fn fill_cost(&self, usage: &mut Usage, model: Option<&str>) {
        if usage.cost_usd > 0.0 || usage.all_tokens() == 0 {
            return;
        }
        if let Some(cost) = model.and_then(|m| self.estimate(usage, m)) {
            usage.cost_usd = cost;
            usage.cost_estimated = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_prices_win_and_names_match_by_fragment() {
        let mut cfg = BTreeMap::new();
        cfg.insert(
            "gpt-5".to_string(),
            ModelPrice {
                input_per_mtok: 2.0,
                output_per_mtok: 20.0,
                cache_read_per_mtok: None,
                cache_write_per_mtok: None,
            },
        );
        let t = PriceTable::new(&cfg);
        let u = Usage {
            input_tokens: 1_000_000,
            output_tokens: 500_000,
            cache_read_tokens: 1_000_000,
            ..Usage::default()
        };
        // Config: 2 + 10 + 2 (cache reads at the input price).
        assert!((t.estimate(&u, "gpt-5").unwrap() - 14.0).abs() < 1e-9);
        assert_eq!(t.price("gpt-5-codex").unwrap().1, PriceSource::Config);
        // Built in, longest fragment: gpt-5-mini, not gpt-5.
        let t = PriceTable::default();
        let (p, src) = t.price("gpt-5-mini-2025").unwrap();
        assert_eq!((p.input_per_mtok, src), (0.25, PriceSource::Builtin));
        assert_eq!(
            t.price("claude-sonnet-4-5-20250929")
                .unwrap()
                .0
                .output_per_mtok,
            15.0
        );
        assert!(t.price("fake").is_none());
    }

    #[test]
    fn only_unpriced_usage_is_filled_and_marked_estimated() {
        let t = PriceTable::default();
        let mut u = Usage {
            input_tokens: 1_000_000,
            ..Usage::default()
        };
        t.fill_cost(&mut u, Some("gemini-2.5-pro"));
        assert!((u.cost_usd - 1.25).abs() < 1e-9);
        assert!(u.cost_estimated);
        let mut reported = Usage {
            input_tokens: 10,
            cost_usd: 0.5,
            ..Usage::default()
        };
        t.fill_cost(&mut reported, Some("sonnet"));
        assert!(!reported.cost_estimated);
        let mut unknown = Usage {
            input_tokens: 10,
            ..Usage::default()
        };
        t.fill_cost(&mut unknown, Some("fake"));
        assert_eq!((unknown.cost_usd, unknown.cost_estimated), (0.0, false));
    }
}
