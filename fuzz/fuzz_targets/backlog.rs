//! Decompose output → backlog: fenced-block search, YAML, validation, ordering, and the
//! round trip through `to_yaml` for a valid backlog. Never a panic, never a cycle in the order.
#![no_main]
use libfuzzer_sys::fuzz_target;
use orx::backlog::{parse_backlog, to_yaml, topo_order, validate};

fuzz_target!(|text: &str| {
    let Ok(b) = parse_backlog(text) else { return };
    if validate(&b).is_err() {
        return;
    }
    let order = topo_order(&b);
    assert_eq!(
        order.len(),
        b.items.len(),
        "topo_order must place every item once"
    );
    let again = parse_backlog(&to_yaml(&b)).expect("orx's own backlog YAML parses");
    assert_eq!(again.items.len(), b.items.len());
});
