//! The binary itself: help, configuration layers, bot commands, and a
//! graceful shutdown on SIGTERM that keeps what was acknowledged.

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{fresh_database, TestApp, TestUser};

const BIN: &str = env!("CARGO_BIN_EXE_fussioncord");

use crate::common::binary as command;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("binary runs");
    assert!(out.status.success(), "{:?} failed: {}", cmd, String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn field<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} in {out}"))
        .trim()
}

/// Starts `serve` and returns the child and the address it printed.
fn serve(database_url: &Option<String>, data_dir: &Path) -> (Child, String) {
    let (child, addr) = crate::common::serve(command(database_url), data_dir);
    assert!(addr.starts_with("127.0.0.1:"), "unexpected address {addr:?}");
    (child, addr)
}

fn terminate(mut child: Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "server exited with {status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("server did not stop within 10 s of SIGTERM");
}

#[test]
fn help_explains_every_option() {
    let top = run(Command::new(BIN).arg("--help"));
    for word in ["serve", "bot", "--config"] {
        assert!(top.contains(word), "--help lacks {word}: {top}");
    }
    let serve = run(Command::new(BIN).args(["serve", "--help"]));
    for word in ["--listen", "--data-dir", "127.0.0.1:8080"] {
        assert!(serve.contains(word), "serve --help lacks {word}: {serve}");
    }
    let bot = run(Command::new(BIN).args(["bot", "create", "--help"]));
    assert!(bot.contains("--name"), "{bot}");
}

#[test]
fn a_bad_configuration_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fussioncord.toml");
    std::fs::write(&file, "listen = \"not an address\"\n").unwrap();
    let out = Command::new(BIN).arg("--config").arg(&file).arg("serve").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(BIN).args(["--config", "/nonexistent.toml", "serve"]).output().unwrap();
    assert!(!out.status.success());
}

#[tokio::test]
async fn bot_commands_and_graceful_sigterm() {
    let database_url = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    // A bot made from the command line before the server runs.
    let out = run(command(&database_url).args(["bot", "create", "--name", "CLI Bot", "--data-dir"]).arg(&data));
    let bot_id = field(&out, "application_id").to_owned();
    let bot =
        TestUser { id: bot_id.clone(), token: format!("Bot {}", field(&out, "token")), username: "cli_bot".into() };

    let (child, addr) = serve(&database_url, &data);
    let app = TestApp::attach(&addr);
    let owner = app.register("owner").await;
    let (guild, ch) = app.guild(&owner, "Shell").await;
    let gid = guild["id"].as_str().unwrap().to_owned();

    // Added from the command line while the server runs.
    let out =
        run(command(&database_url).args(["bot", "add", "--bot", &bot_id, "--guild", &gid, "--data-dir"]).arg(&data));
    assert!(out.contains("added"), "{out}");
    let (status, guilds) = app.get("/users/@me/guilds", &bot.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(guilds[0]["id"], json!(gid));
    let posted = app.send(&bot, &ch, "hello from the shell").await;

    terminate(child);
    let (child, addr) = serve(&database_url, &data);
    let app = TestApp::attach(&addr);
    let (status, msg) =
        app.get(&format!("/channels/{ch}/messages/{}", posted["id"].as_str().unwrap()), &owner.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(msg["content"], "hello from the shell");
    terminate(child);
}

/// The README's curl walkthrough, run as written against a fresh server.
#[tokio::test]
async fn readme_walkthrough_works_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let block = readme
        .split("<!-- walkthrough:start -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- walkthrough:end -->").next())
        .expect("README has a walkthrough block");
    let script: String = block.lines().filter(|l| !l.starts_with("```")).map(|l| format!("{l}\n")).collect();
    let app = TestApp::spawn().await;
    let out = tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .env("API", &app.base)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "walkthrough failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for expected in ["\"Rustaceans\"", "\"alice\"", "hello, world", "\"👍\"", "crabs are decapods", "psst"] {
        assert!(stdout.contains(expected), "walkthrough output lacks {expected}:\n{stdout}");
    }
}
