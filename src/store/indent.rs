//! Compact JSON laid out as `serde_json::to_vec_pretty` lays it out, without parsing it.
//!
//! A run's state goes to its journal as one compact line, and `state.json`, the copy people
//! and other tools read, is that same state indented. Parsing the line back into a
//! `serde_json::Value` only to print it again cost as much as writing it in the first place,
//! so [`indented`] re-lays the bytes: outside strings it breaks the line after `{`, `[` and
//! `,`, before `}` and `]`, and puts a space after `:`; inside strings (escapes included)
//! nothing changes. The input must be what serde_json writes compactly (no whitespace
//! between tokens); the tests hold the output to serde_json's own pretty printer.

/// `compact` (one JSON value, optionally followed by its newline) indented by two spaces a
/// level, with a final newline.
pub fn indented(compact: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(compact.len() + compact.len() / 2);
    let mut depth = 0usize;
    let (mut in_string, mut escaped) = (false, false);
    let mut bytes = compact.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                out.push(b);
            }
            b'{' | b'[' => {
                out.push(b);
                let close = if b == b'{' { b'}' } else { b']' };
                if bytes.peek() == Some(&close) {
                    // Empty: serde_json writes `{}` and `[]` on one line.
                    out.push(close);
                    bytes.next();
                } else {
                    depth += 1;
                    line_break(&mut out, depth);
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                line_break(&mut out, depth);
                out.push(b);
            }
            b',' => {
                out.push(b);
                line_break(&mut out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            b'\n' | b'\r' | b' ' | b'\t' => {}
            _ => out.push(b),
        }
    }
    out.push(b'\n');
    out
}

fn line_break(out: &mut Vec<u8>, depth: usize) {
    out.push(b'\n');
    out.extend(std::iter::repeat_n(b' ', depth * 2));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pretty(v: &serde_json::Value) -> Vec<u8> {
        let mut p = serde_json::to_vec_pretty(v).unwrap();
        p.push(b'\n');
        p
    }

    #[test]
    fn the_layout_is_serde_json_s_pretty_printer_s() {
        let values = [
            json!({}),
            json!([]),
            json!(null),
            json!("a string"),
            json!(-1.5e-7),
            json!({"a": 1, "b": [1, 2, {}], "c": {"d": [], "e": {"f": null}}}),
            json!([[[]], [{}], [1, [2, [3]]]]),
            json!({"tricky": "{[,:]} \"quoted\" \\ back\\\\slash \\\" {\"k\": [1]}", "u": "\u{1}\u{7f}é𝄞"}),
            json!({"": "", "k:": ",", "[": "]"}),
        ];
        for v in values {
            let mut line = serde_json::to_vec(&v).unwrap();
            assert_eq!(
                String::from_utf8(indented(&line)).unwrap(),
                String::from_utf8(pretty(&v)).unwrap()
            );
            line.push(b'\n');
            assert_eq!(indented(&line), pretty(&v), "with the line's newline");
        }
    }

    #[test]
    fn a_run_state_reads_back_the_same() {
        let state = crate::store::state::tests::sample();
        let line = serde_json::to_vec(&state).unwrap();
        let back: crate::model::RunState = serde_json::from_slice(&indented(&line)).unwrap();
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(&state).unwrap()
        );
        // The same bytes as serde_json's pretty printer, fields in the struct's order.
        let mut ordered = Vec::new();
        serde_json::to_writer_pretty(&mut ordered, &state).unwrap();
        ordered.push(b'\n');
        assert_eq!(indented(&line), ordered);
    }
}
