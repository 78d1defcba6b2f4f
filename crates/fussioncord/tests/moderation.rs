//! `fussioncord moderation`: scoring lines through the binary (whatever the
//! bytes), the built-in model on the right side of its thresholds, and
//! training on a small data directory.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_fussioncord");

/// Runs the binary with `input` on stdin (written from another thread so a
/// full stdout pipe cannot deadlock us).
fn run(args: &[&str], input: Vec<u8>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// Scores `input`; returns one (toxicity, spam) per output line, checking
/// that every line is exactly a JSON object with those two numbers in [0, 1].
fn score(args: &[&str], input: Vec<u8>) -> Vec<(f64, f64)> {
    let mut all = vec!["moderation", "score"];
    all.extend_from_slice(args);
    let out = run(&all, input);
    assert!(out.status.success(), "score failed: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).expect("output is UTF-8");
    stdout
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            let obj = v.as_object().unwrap();
            assert_eq!(obj.len(), 2, "{line}");
            let t = obj["toxicity"].as_f64().unwrap();
            let s = obj["spam"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&t) && (0.0..=1.0).contains(&s), "{line}");
            (t, s)
        })
        .collect()
}

#[test]
fn score_reads_any_bytes_one_line_one_object() {
    let huge = "free prize call now ".repeat(52_429); // just over 1 MB
    let mut input = Vec::new();
    input.extend_from_slice(b"hello there\r\n"); // 0: CRLF
    input.extend_from_slice(b"\n"); // 1: empty
    input.extend_from_slice(b"hello there\n"); // 2: same text, LF
    input.extend_from_slice(b"caf\xe9 \xff\xfe broken\n"); // 3: invalid UTF-8
    input.extend_from_slice("caf\u{FFFD} \u{FFFD}\u{FFFD} broken\n".as_bytes()); // 4: its lossy decoding
    input.extend_from_slice(huge.as_bytes()); // 5: a 1 MB line
    input.push(b'\n');
    input.extend_from_slice(b"\r\n"); // 6: empty with CRLF
    input.extend_from_slice(b"\0\x01\x1b[31m <<<>>> &#99999999; &amp"); // 7: no final newline
    let scores = score(&[], input);
    assert_eq!(scores.len(), 8);
    assert_eq!(scores[0], scores[2], "CR before LF is not part of the message");
    assert_eq!(scores[3], scores[4], "invalid UTF-8 is decoded lossily");
    assert_eq!(scores[1], scores[6], "empty lines score alike");
    assert!(scores[5].1 > 0.5, "a megabyte of spam is still spam: {:?}", scores[5]);

    // No input, no output.
    assert!(score(&[], Vec::new()).is_empty());
}

#[test]
fn score_keeps_order_over_100k_lines() {
    let pool = [
        "you are a worthless piece of shit",
        "see you at lunch tomorrow",
        "WINNER!! Claim your £1000 prize, text WIN to 80085 now",
        "thanks, that fixed it",
        "check out my channel and subscribe http://example.com",
        "",
        "lol",
    ];
    let mut one = Vec::new();
    for text in pool {
        one.extend_from_slice(text.as_bytes());
        one.push(b'\n');
    }
    let expected = score(&[], one);
    let n = 100_000;
    let pick = |i: usize| (i * 7 + i / 3) % pool.len();
    let mut big = Vec::new();
    for i in 0..n {
        big.extend_from_slice(pool[pick(i)].as_bytes());
        big.push(b'\n');
    }
    let got = score(&[], big);
    assert_eq!(got.len(), n);
    for (i, s) in got.iter().enumerate() {
        assert_eq!(*s, expected[pick(i)], "line {i}");
    }
}

#[test]
fn built_in_model_separates_obvious_cases() {
    let toxic = [
        "you stupid bitch",
        "shut up you fucking idiot",
        "fuck you and your ugly face, you worthless retard",
        "what a dumb ass hoe",
    ];
    let benign = [
        "thank you so much for the help yesterday",
        "the meeting is moved to 3pm on thursday",
        "happy birthday! hope you have a wonderful day",
        "I'll bring the snacks for the game tonight",
    ];
    let spam = [
        "WINNER!! You have been selected to receive a £900 prize reward! To claim call 09061701461. Valid 12 hours only.",
        "FREE entry in 2 a wkly comp to win FA Cup final tkts. Text FA to 87121 to receive entry question",
        "URGENT! Your mobile number has won a 2000 cash bonus. Call 09058094597 from a landline to claim",
        "Check out my channel http://www.youtube.com/user/mychannel please subscribe!!",
    ];
    let ham = [
        "Are you coming to dinner tonight? Mum is cooking",
        "ok see you at the station in ten minutes",
        "I loved this song when I was a kid",
        "can you send me the notes from class",
    ];
    let input: Vec<u8> =
        toxic.iter().chain(&benign).chain(&spam).chain(&ham).flat_map(|t| format!("{t}\n").into_bytes()).collect();
    let s = score(&[], input);
    let (t, b, sp, h) = (&s[0..4], &s[4..8], &s[8..12], &s[12..16]);
    for (i, x) in t.iter().enumerate() {
        assert!(x.0 > 0.5, "toxic {:?} scored {x:?}", toxic[i]);
    }
    for (i, x) in b.iter().enumerate() {
        assert!(x.0 < 0.5, "benign {:?} scored {x:?}", benign[i]);
        assert!(x.1 < 0.5, "benign {:?} scored {x:?}", benign[i]);
    }
    for (i, x) in sp.iter().enumerate() {
        assert!(x.1 > 0.5, "spam {:?} scored {x:?}", spam[i]);
    }
    for (i, x) in h.iter().enumerate() {
        assert!(x.1 < 0.5, "ham {:?} scored {x:?}", ham[i]);
    }
}

/// A small data directory in the layout of `../shared/datasets`.
fn fixture(dir: &Path) {
    for sub in ["davidson", "sms-spam", "youtube-spam"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let mut dav = String::from(",count,hate_speech,offensive_language,neither,class,tweet\n");
    let mut sms = String::new();
    let mut yt = String::from("COMMENT_ID,AUTHOR,DATE,CONTENT,CLASS,VIDEO\n");
    let insults = ["stupid", "idiot", "moron", "trash"];
    let nice = ["weather", "coffee", "garden", "music"];
    for i in 0..60 {
        let (bad, good) = (insults[i % 4], nice[i % 4]);
        dav.push_str(&format!("{i},3,0,3,0,1,\"you {bad} {bad} #{i}, &amp; shut up\"\n"));
        dav.push_str(&format!("{i},3,0,0,3,2,lovely {good} today friend {i}\n"));
        sms.push_str(&format!("spam\tWIN a FREE prize {i}! call 0800{i:04} now \"quick\n"));
        sms.push_str(&format!("ham\tsee you at {good} {i} tonight\n"));
        yt.push_str(&format!("a{i},x,,\"check out my channel {i}<br />subscribe\",1,v\n"));
        yt.push_str(&format!("b{i},y,2014-01-01,this {good} song {i} is great\u{feff},0,v\n"));
    }
    std::fs::write(dir.join("davidson/labeled_data.csv"), dav).unwrap();
    std::fs::write(dir.join("sms-spam/SMSSpamCollection.train.tsv"), sms).unwrap();
    std::fs::write(dir.join("youtube-spam/youtube_spam.train.csv"), yt).unwrap();
}

#[test]
fn train_writes_a_loadable_model_and_a_report_reproducibly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    fixture(&data);
    let train = |name: &str| {
        let out = run(
            &[
                "moderation",
                "train",
                "--data",
                data.to_str().unwrap(),
                "--out",
                tmp.path().join(format!("{name}.fcm")).to_str().unwrap(),
                "--report",
                tmp.path().join(format!("{name}.json")).to_str().unwrap(),
                "--bits",
                "14",
                "--epochs",
                "4",
            ],
            Vec::new(),
        );
        assert!(out.status.success(), "train failed: {}", String::from_utf8_lossy(&out.stderr));
        (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
    };
    let (summary, progress) = train("a");
    assert!(progress.contains("cross-validation fold 5/5") && progress.contains("epoch 4/4"), "{progress}");
    assert!(summary.contains("davidson") && summary.contains("ROC-AUC"), "{summary}");
    train("b");
    let a = std::fs::read(tmp.path().join("a.fcm")).unwrap();
    assert_eq!(a, std::fs::read(tmp.path().join("b.fcm")).unwrap(), "training is reproducible");
    assert_eq!(a.len(), 8 + 4 + 4 + 16 + 4 * (1 << 14) + 8);

    let report: Value = serde_json::from_slice(&std::fs::read(tmp.path().join("a.json")).unwrap()).unwrap();
    let test = report["test"].as_array().unwrap();
    let names: Vec<&str> = test.iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["davidson", "sms", "youtube"]);
    for d in test {
        for field in ["roc_auc", "pr_auc", "precision", "recall", "f1"] {
            let v = d[field].as_f64().unwrap_or_else(|| panic!("{field} in {d}"));
            assert!((0.0..=1.0).contains(&v), "{field} = {v}");
        }
        let c = &d["confusion"];
        let total: u64 = ["tp", "fp", "tn", "fn"].iter().map(|k| c[k].as_u64().unwrap()).sum();
        assert_eq!(total, d["test"].as_u64().unwrap());
        assert_eq!(d["test"].as_u64().unwrap(), 24, "20% of 120 rows, stratified");
    }
    assert_eq!(report["model"]["bytes"].as_u64().unwrap(), a.len() as u64);

    // The trained file scores through --model, and learnt its data.
    let model = tmp.path().join("a.fcm");
    let s = score(&["--model", model.to_str().unwrap()], b"you stupid idiot\nlovely weather today\n".to_vec());
    assert!(s[0].0 > s[1].0, "{s:?}");
}

#[test]
fn bad_model_files_and_data_dirs_are_errors_not_crashes() {
    let tmp = tempfile::tempdir().unwrap();
    let junk = tmp.path().join("junk.fcm");
    std::fs::write(&junk, b"FCMODEL\0 but nothing sensible after it").unwrap();
    for path in [junk.clone(), tmp.path().join("missing.fcm")] {
        let out = run(&["moderation", "score", "--model", path.to_str().unwrap()], b"hi\n".to_vec());
        assert!(!out.status.success());
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("model") && !err.contains("panicked"), "{err}");
    }
    let out = run(
        &["moderation", "train", "--data", tmp.path().to_str().unwrap(), "--out", junk.to_str().unwrap()],
        Vec::new(),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("labeled_data.csv") && !err.contains("panicked"), "{err}");
    assert!(std::fs::read(&junk).unwrap().starts_with(b"FCMODEL\0 but"), "a failed run leaves the old file");
}
