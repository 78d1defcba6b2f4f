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
    for sub in ["davidson", "sms-spam", "youtube-spam", "convabuse", "hatexplain", "edos"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    // The three newer toxicity sets, each in its own format: ConvAbuse's
    // typed chat, HateXplain's lower-cased tokens with <user>, EDOS's [USER].
    let mut conv = String::from(
        "example_id,bot,prev_agent,prev_user,agent,user,annotators,votes_abusive,votes_ambiguous,abusive,worst_severity\n",
    );
    let mut hx = String::from("label,text\n");
    let mut edos = String::from("rewire_id,text,label_sexist,label_category,label_vector,split\n");
    let rude = ["dumb", "ugly", "pathetic", "worthless"];
    let kind = ["lunch", "movie", "trip", "book"];
    for i in 0..40 {
        let (bad, good) = (rude[i % 4], kind[i % 4]);
        conv.push_str(&format!("{i},E,\"hi, you\",b,c,\"You {bad} bot, {i}!\",3,3,0,1,-2\n"));
        conv.push_str(&format!("{i},E,a,b,c,how was your {good} {i}?,3,0,0,0,0\n"));
        hx.push_str(&format!("hatespeech,<user> you {bad} trash {i}\nnormal,<user> the {good} was fun {i}\n"));
        edos.push_str(&format!("a{i},[USER] women are {bad} {i},sexist,x,x,train\n"));
        edos.push_str(&format!("b{i},[USER] enjoyed the {good} {i} [URL],not sexist,none,none,dev\n"));
    }
    std::fs::write(dir.join("convabuse/convabuse.train.csv"), conv).unwrap();
    std::fs::write(dir.join("hatexplain/hatexplain.train.csv"), hx).unwrap();
    std::fs::write(dir.join("edos/edos.train.csv"), edos).unwrap();
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
                "--toxicity-bits",
                "13",
                "--epochs",
                "4",
                "--toxicity-epochs",
                "4",
            ],
            Vec::new(),
        );
        assert!(out.status.success(), "train failed: {}", String::from_utf8_lossy(&out.stderr));
        (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
    };
    let (summary, progress) = train("a");
    assert!(progress.contains("cross-validation fold 5/5") && progress.contains("epoch 4/4"), "{progress}");
    assert!(progress.contains("leave-one-data-set-out 4/4"), "{progress}");
    assert!(summary.contains("davidson") && summary.contains("ROC-AUC"), "{summary}");
    assert!(summary.contains("leave-one-data-set-out") && summary.contains("functional suite"), "{summary}");
    train("b");
    let a = std::fs::read(tmp.path().join("a.fcm")).unwrap();
    assert_eq!(a, std::fs::read(tmp.path().join("b.fcm")).unwrap(), "training is reproducible");
    assert_eq!(a.len(), 8 + 4 + 8 + 16 + 2 * (1 << 13) + 2 * (1 << 14) + 8);

    let report: Value = serde_json::from_slice(&std::fs::read(tmp.path().join("a.json")).unwrap()).unwrap();
    assert_eq!(
        std::fs::read(tmp.path().join("a.json")).unwrap(),
        std::fs::read(tmp.path().join("b.json")).unwrap(),
        "so is the report"
    );
    // Leave-one-data-set-out: each toxicity set scored whole by a fit on
    // the other three.
    let lodo = report["leave_one_data_set_out"].as_array().unwrap();
    let held: Vec<&str> = lodo.iter().map(|d| d["held_out"].as_str().unwrap()).collect();
    assert_eq!(held, ["davidson", "convabuse", "hatexplain", "edos"]);
    for d in lodo {
        let name = d["held_out"].as_str().unwrap();
        assert_eq!(d["n"].as_u64().unwrap(), if name == "davidson" { 120 } else { 80 }, "{d}");
        let trained: Vec<&str> = d["trained_on"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(trained.len(), 3);
        assert!(!trained.contains(&name));
        for field in ["roc_auc", "pr_auc"] {
            let v = d[field].as_f64().unwrap_or_else(|| panic!("{field} in {d}"));
            assert!((0.0..=1.0).contains(&v), "{field} = {v}");
        }
    }
    assert!(report["functional"]["categories"].as_array().unwrap().len() >= 10);
    assert_eq!(report["toxicity_thresholds"].as_array().unwrap().len(), 4);
    let test = report["test"].as_array().unwrap();
    let names: Vec<&str> = test.iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["davidson", "convabuse", "hatexplain", "edos", "sms", "youtube"]);
    for d in test {
        for field in ["roc_auc", "pr_auc", "precision", "recall", "f1"] {
            let v = d[field].as_f64().unwrap_or_else(|| panic!("{field} in {d}"));
            assert!((0.0..=1.0).contains(&v), "{field} = {v}");
        }
        let c = &d["confusion"];
        let total: u64 = ["tp", "fp", "tn", "fn"].iter().map(|k| c[k].as_u64().unwrap()).sum();
        assert_eq!(total, d["test"].as_u64().unwrap());
        let rows = if matches!(d["name"].as_str(), Some("convabuse" | "hatexplain" | "edos")) { 80 } else { 120 };
        assert_eq!(d["test"].as_u64().unwrap(), rows / 5, "20% of the rows, stratified");
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

/// Every toxicity source writes names and links its own way; the model
/// must see them alike, or it learns which set a text came from instead
/// of what it says.
#[test]
fn placeholder_styles_of_every_source_score_alike() {
    let styles = [
        "[USER] you are a pathetic loser [URL]",                        // EDOS
        "<user> you are a pathetic loser <url>",                        // HateXplain
        "@someone You are a pathetic loser! http://t.co/abc",           // Davidson's tweets
        "<@80351110224678912> you are a pathetic loser https://x.gg/a", // Discord
    ];
    let input: Vec<u8> = styles.iter().flat_map(|t| format!("{t}\n").into_bytes()).collect();
    let s = score(&[], input);
    for (i, x) in s.iter().enumerate() {
        assert_eq!(x.0, s[0].0, "{:?} scores {} but {:?} scores {}", styles[i], x.0, styles[0], s[0].0);
    }
    // Obfuscation is undone: the spelled-out, masked and leetspeak forms of
    // an insult score as the insult.
    let forms = ["fuck you", "f u c k you", "f*ck you", "fuuuuck you", "F.U.C.K you"];
    let input: Vec<u8> = forms.iter().flat_map(|t| format!("{t}\n").into_bytes()).collect();
    let s = score(&[], input);
    for (i, x) in s.iter().enumerate() {
        assert_eq!(x.0, s[0].0, "{:?}", forms[i]);
    }
}

/// Per-category accuracy floors: what the shipped model reaches, rounded
/// down (docs/MODERATION.md has the exact figures). Low floors are honest
/// ones: threats and insults without swear words are what the training
/// data lack. Friendly profanity and negation were 0.90 before EDOS's
/// negatives were weighed by the other sets (docs/MODERATION.md: the
/// trade that change made, 11/12 -> 9/12 and 20/22 -> 19/22, for insults
/// without profanity 3/30 -> 10/30 and with it 18/24 -> 22/24).
const FLOORS: [(&str, f64); 14] = [
    ("insult with profanity", 0.90),
    ("insult without profanity", 0.30),
    ("threat", 0.15),
    ("identity attack", 0.34),
    ("dehumanising comparison", 0.40),
    ("slur", 0.90),
    ("obfuscated insult", 0.80),
    ("friendly profanity", 0.70),
    ("negation", 0.85),
    ("counter-speech and quotes", 0.90),
    ("neutral identity statement", 0.90),
    ("reclaimed term about oneself", 0.85),
    ("harmless leetspeak and typos", 0.95),
    ("ordinary chat", 0.95),
];

/// The functional suite (`moderation::functional`), scored through the
/// binary: each category's accuracy at the default threshold must reach
/// the floor the shipped model reaches (docs/MODERATION.md discusses the
/// weak ones). A retrained model that regresses a category fails here.
#[test]
fn functional_suite_per_category_floors() {
    let floors: &[(&str, f64)] = &FLOORS;
    let cases = moderation::functional::cases();
    let input: Vec<u8> = cases.iter().flat_map(|c| format!("{}\n", c.text).into_bytes()).collect();
    let scores = score(&[], input);
    assert_eq!(scores.len(), cases.len());
    let mut report = String::new();
    let mut failed = Vec::new();
    for &(category, floor) in floors {
        let (mut n, mut ok) = (0, 0);
        for (case, s) in cases.iter().zip(&scores).filter(|(c, _)| c.category == category) {
            n += 1;
            ok += usize::from((s.0 >= 0.5) == case.toxic);
        }
        assert!(n > 0, "no cases in {category}");
        let acc = ok as f64 / n as f64;
        report.push_str(&format!("{category}: {ok}/{n} = {acc:.3} (floor {floor})\n"));
        if acc < floor {
            failed.push(category);
        }
    }
    let known: std::collections::HashSet<&str> = floors.iter().map(|f| f.0).collect();
    assert!(cases.iter().all(|c| known.contains(c.category)), "every category has a floor");
    eprint!("{report}");
    assert!(failed.is_empty(), "below the floor: {failed:?}\n{report}");
}
