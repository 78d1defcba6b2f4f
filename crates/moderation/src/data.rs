//! Readers for the labelled data sets in `../shared/datasets` (see its
//! README). They parse the file formats only; the text is passed on as it
//! is in the file, because the feature extractor cleans markup and entities
//! at scoring time too.

use std::path::{Path, PathBuf};

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    Toxicity,
    Spam,
}

#[derive(Debug)]
pub struct Dataset {
    pub name: &'static str,
    pub task: Task,
    /// (text, positive) in file order.
    pub examples: Vec<(String, bool)>,
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("reading {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}:{record}: {message}")]
    Format { path: PathBuf, record: usize, message: String },
}

fn read(path: &Path) -> Result<String, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io { path: path.to_owned(), source })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn format_err(path: &Path, record: usize, message: impl Into<String>) -> DataError {
    DataError::Format { path: path.to_owned(), record, message: message.into() }
}

/// Davidson et al.: toxic = hate speech (class 0) or offensive language
/// (class 1); not toxic = neither (class 2).
pub fn davidson(dir: &Path, limit: Option<usize>) -> Result<Dataset, DataError> {
    let path = dir.join("davidson/labeled_data.csv");
    let rows = parse_csv(&read(&path)?);
    let [class, tweet] = columns(&path, &rows, ["class", "tweet"])?;
    let mut examples = Vec::new();
    for (n, row) in rows.iter().enumerate().skip(1).take(limit.unwrap_or(usize::MAX)) {
        let label = match row.get(class).map(String::as_str) {
            Some("0") | Some("1") => true,
            Some("2") => false,
            other => return Err(format_err(&path, n + 1, format!("class {other:?} is not 0, 1 or 2"))),
        };
        examples.push((row.get(tweet).cloned().unwrap_or_default(), label));
    }
    Ok(Dataset { name: "davidson", task: Task::Toxicity, examples })
}

/// SMS Spam Collection: `label<TAB>text` per line, split on the first TAB,
/// no quoting.
pub fn sms(dir: &Path, limit: Option<usize>) -> Result<Dataset, DataError> {
    let path = dir.join("sms-spam/SMSSpamCollection.train.tsv");
    let text = read(&path)?;
    let mut examples = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.is_empty()).take(limit.unwrap_or(usize::MAX)) {
        let (label, body) =
            line.split_once('\t').ok_or_else(|| format_err(&path, n + 1, "line has no TAB after the label"))?;
        let label = match label {
            "spam" => true,
            "ham" => false,
            other => return Err(format_err(&path, n + 1, format!("label {other:?} is not ham or spam"))),
        };
        examples.push((body.to_owned(), label));
    }
    Ok(Dataset { name: "sms", task: Task::Spam, examples })
}

/// YouTube Spam Collection: CSV with `CONTENT` and `CLASS` (1 = spam).
pub fn youtube(dir: &Path, limit: Option<usize>) -> Result<Dataset, DataError> {
    let path = dir.join("youtube-spam/youtube_spam.train.csv");
    let rows = parse_csv(&read(&path)?);
    let [content, class] = columns(&path, &rows, ["CONTENT", "CLASS"])?;
    let mut examples = Vec::new();
    for (n, row) in rows.iter().enumerate().skip(1).take(limit.unwrap_or(usize::MAX)) {
        let label = match row.get(class).map(String::as_str) {
            Some("1") => true,
            Some("0") => false,
            other => return Err(format_err(&path, n + 1, format!("CLASS {other:?} is not 0 or 1"))),
        };
        examples.push((row.get(content).cloned().unwrap_or_default(), label));
    }
    Ok(Dataset { name: "youtube", task: Task::Spam, examples })
}

/// ConvAbuse: the `user` message; abusive = `abusive` 1 (more than half of
/// the annotators' votes abusive). The agent's turns are context we do not
/// score (a chat server scores each message alone).
pub fn convabuse(dir: &Path, limit: Option<usize>) -> Result<Dataset, DataError> {
    let path = dir.join("convabuse/convabuse.train.csv");
    let rows = parse_csv(&read(&path)?);
    let [user, abusive] = columns(&path, &rows, ["user", "abusive"])?;
    let mut examples = Vec::new();
    for (n, row) in rows.iter().enumerate().skip(1).take(limit.unwrap_or(usize::MAX)) {
        let label = match row.get(abusive).map(String::as_str) {
            Some("1") => true,
            Some("0") => false,
            other => return Err(format_err(&path, n + 1, format!("abusive {other:?} is not 0 or 1"))),
        };
        examples.push((row.get(user).cloned().unwrap_or_default(), label));
    }
    Ok(Dataset { name: "convabuse", task: Task::Toxicity, examples })
}

/// HateXplain: toxic = `hatespeech` or `offensive`; not toxic = `normal`.
/// Its text is lower-cased and tokenised with `<user>`-style placeholders;
/// `features::canonical` brings every other source to the same form.
pub fn hatexplain(dir: &Path, limit: Option<usize>) -> Result<Dataset, DataError> {
    let path = dir.join("hatexplain/hatexplain.train.csv");
    let rows = parse_csv(&read(&path)?);
    let [label, text] = columns(&path, &rows, ["label", "text"])?;
    let mut examples = Vec::new();
    for (n, row) in rows.iter().enumerate().skip(1).take(limit.unwrap_or(usize::MAX)) {
        let toxic = match row.get(label).map(String::as_str) {
            Some("hatespeech") | Some("offensive") => true,
            Some("normal") => false,
            other => {
                return Err(format_err(&path, n + 1, format!("label {other:?} is not hatespeech, offensive or normal")))
            }
        };
        examples.push((row.get(text).cloned().unwrap_or_default(), toxic));
    }
    Ok(Dataset { name: "hatexplain", task: Task::Toxicity, examples })
}

/// EDOS: positive = `sexist`. Its negatives are "not sexist", which is not
/// "clean" (they include insults of other kinds), so training gives them a
/// reduced weight (`train::EDOS_NEGATIVE_WEIGHT`).
pub fn edos(dir: &Path, limit: Option<usize>) -> Result<Dataset, DataError> {
    let path = dir.join("edos/edos.train.csv");
    let rows = parse_csv(&read(&path)?);
    let [text, label] = columns(&path, &rows, ["text", "label_sexist"])?;
    let mut examples = Vec::new();
    for (n, row) in rows.iter().enumerate().skip(1).take(limit.unwrap_or(usize::MAX)) {
        let sexist = match row.get(label).map(String::as_str) {
            Some("sexist") => true,
            Some("not sexist") => false,
            other => {
                return Err(format_err(&path, n + 1, format!("label_sexist {other:?} is not sexist or not sexist")))
            }
        };
        examples.push((row.get(text).cloned().unwrap_or_default(), sexist));
    }
    Ok(Dataset { name: "edos", task: Task::Toxicity, examples })
}

/// Every toxicity set, in a fixed order.
pub fn toxicity_sets(dir: &Path, limit: Option<usize>) -> Result<Vec<Dataset>, DataError> {
    Ok(vec![davidson(dir, limit)?, convabuse(dir, limit)?, hatexplain(dir, limit)?, edos(dir, limit)?])
}

fn columns<const N: usize>(path: &Path, rows: &[Vec<String>], names: [&str; N]) -> Result<[usize; N], DataError> {
    let header = rows.first().ok_or_else(|| format_err(path, 1, "empty file"))?;
    let mut out = [0; N];
    for (slot, name) in out.iter_mut().zip(names) {
        *slot = header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format_err(path, 1, format!("no column {name:?} in the header")))?;
    }
    Ok(out)
}

/// RFC 4180 CSV: comma-separated, fields optionally in double quotes with
/// `""` for a quote, newlines allowed inside quotes, `\n` or `\r\n` between
/// records. Empty lines are skipped.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut in_quotes = false;
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !quoted => {
                in_quotes = true;
                quoted = true;
            }
            ',' => {
                row.push(std::mem::take(&mut field));
                quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                quoted = false;
                if !(row.len() == 1 && row[0].is_empty()) {
                    rows.push(std::mem::take(&mut row));
                }
                row.clear();
            }
            c => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_newlines_and_crlf() {
        let rows = parse_csv("a,b,c\r\n1,\"x, \"\"y\"\"\nz\",3\n\n4,,\"\"\n5,6,7");
        assert_eq!(
            rows,
            vec![vec!["a", "b", "c"], vec!["1", "x, \"y\"\nz", "3"], vec!["4", "", ""], vec!["5", "6", "7"],]
        );
    }

    #[test]
    fn readers_follow_the_readme_formats() {
        let dir = tempdir();
        std::fs::create_dir_all(dir.join("davidson")).unwrap();
        std::fs::create_dir_all(dir.join("sms-spam")).unwrap();
        std::fs::create_dir_all(dir.join("youtube-spam")).unwrap();
        std::fs::write(
            dir.join("davidson/labeled_data.csv"),
            ",count,hate_speech,offensive_language,neither,class,tweet\n0,3,0,0,3,2,\"hi \"\"you\"\"\"\n1,3,0,3,0,1,bad &amp; worse\n",
        )
        .unwrap();
        std::fs::write(dir.join("sms-spam/SMSSpamCollection.train.tsv"), "ham\tok \"then\tgo\nspam\tWIN now\n")
            .unwrap();
        std::fs::write(
            dir.join("youtube-spam/youtube_spam.train.csv"),
            "COMMENT_ID,AUTHOR,DATE,CONTENT,CLASS,VIDEO\nx,a,,\"check my channel\",1,v\ny,b,,nice song\u{feff},0,v\n",
        )
        .unwrap();
        let d = davidson(&dir, None).unwrap();
        assert_eq!(d.examples, vec![("hi \"you\"".into(), false), ("bad &amp; worse".into(), true)]);
        let s = sms(&dir, None).unwrap();
        assert_eq!(s.examples, vec![("ok \"then\tgo".into(), false), ("WIN now".into(), true)]);
        let y = youtube(&dir, Some(1)).unwrap();
        assert_eq!(y.examples, vec![("check my channel".into(), true)]);
        std::fs::write(dir.join("sms-spam/SMSSpamCollection.train.tsv"), "maybe\ttext\n").unwrap();
        assert!(matches!(sms(&dir, None), Err(DataError::Format { record: 1, .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn new_toxicity_readers_map_labels() {
        let dir = std::env::temp_dir().join(format!("moderation-tox-data-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["convabuse", "hatexplain", "edos"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::write(
            dir.join("convabuse/convabuse.train.csv"),
            "example_id,bot,prev_agent,prev_user,agent,user,annotators,votes_abusive,votes_ambiguous,abusive,worst_severity\n\
             1,E,\"hi, there\",x,y,you suck,3,2,0,1,-2\n2,E,a,b,c,hello,3,0,0,0,0\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("hatexplain/hatexplain.train.csv"),
            "label,text\nhatespeech,a <user>\noffensive,b\nnormal,c\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("edos/edos.train.csv"),
            "rewire_id,text,label_sexist,label_category,label_vector,split\n\
             x1,\"[USER] women, ugh\",sexist,2. derogation,2.1 x,train\nx2,nice day,not sexist,none,none,dev\n",
        )
        .unwrap();
        let c = convabuse(&dir, None).unwrap();
        assert_eq!(c.examples, vec![("you suck".into(), true), ("hello".into(), false)]);
        let h = hatexplain(&dir, None).unwrap();
        assert_eq!(h.examples.iter().map(|e| e.1).collect::<Vec<_>>(), [true, true, false]);
        let e = edos(&dir, None).unwrap();
        assert_eq!(e.examples, vec![("[USER] women, ugh".into(), true), ("nice day".into(), false)]);
        std::fs::write(dir.join("hatexplain/hatexplain.train.csv"), "label,text\nrude,x\n").unwrap();
        assert!(matches!(hatexplain(&dir, None), Err(DataError::Format { record: 2, .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("moderation-data-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
