//! `fussioncord moderation score`: one message per input line, one JSON
//! object per output line, in order.
//!
//! Input is bytes, not text: a line ends at `\n`, a `\r` before it is
//! dropped, and bytes that are not UTF-8 are replaced by U+FFFD (lossy
//! decoding) before scoring. An empty line is a message with no text and is
//! scored like any other. A final line without `\n` is still scored. A line
//! of any length is read whole (memory permitting).

use std::io::{self, BufRead, Write};

use crate::Classifier;

/// Scores every line of `input` onto `output`; returns the number of lines.
/// A closed output (e.g. `| head`) ends the run quietly.
pub fn score_lines(classifier: &dyn Classifier, input: impl BufRead, output: impl Write) -> io::Result<u64> {
    match run(classifier, input, output) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(0),
        other => other,
    }
}

fn run(classifier: &dyn Classifier, mut input: impl BufRead, output: impl Write) -> io::Result<u64> {
    let mut out = io::BufWriter::with_capacity(64 * 1024, output);
    let mut line = Vec::new();
    let mut n = 0;
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        let text = String::from_utf8_lossy(&line);
        let s = classifier.score(&text);
        writeln!(out, "{{\"toxicity\": {}, \"spam\": {}}}", fmt(s.toxicity), fmt(s.spam))?;
        n += 1;
    }
    out.flush()?;
    Ok(n)
}

/// Six decimals: enough to rank by, and always a valid JSON number.
fn fmt(x: f32) -> String {
    let x = if x.is_finite() { x.clamp(0.0, 1.0) } else { 0.5 };
    format!("{x:.6}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scores;

    struct Len;
    impl Classifier for Len {
        fn score(&self, text: &str) -> Scores {
            Scores { toxicity: text.chars().count() as f32 / 100.0, spam: f32::NAN }
        }
    }

    #[test]
    fn lines_crlf_invalid_utf8_and_last_line() {
        let input: &[u8] = b"ab\r\n\n\xff\xfe x\nlast";
        let mut out = Vec::new();
        assert_eq!(score_lines(&Len, input, &mut out).unwrap(), 4);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], r#"{"toxicity": 0.020000, "spam": 0.500000}"#);
        assert_eq!(lines[1], r#"{"toxicity": 0.000000, "spam": 0.500000}"#);
        assert_eq!(lines[2], r#"{"toxicity": 0.040000, "spam": 0.500000}"#);
        assert_eq!(lines[3], r#"{"toxicity": 0.040000, "spam": 0.500000}"#);
        let mut out = Vec::new();
        assert_eq!(score_lines(&Len, &b""[..], &mut out).unwrap(), 0);
        assert!(out.is_empty());
    }
}
