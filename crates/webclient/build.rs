//! Builds the web client (`web/`) with npm and embeds the result.
//!
//! `npm ci` (or `npm install --no-save` where `npm ci` refuses the lockfile)
//! runs only when `web/node_modules` is missing or older than
//! `package-lock.json`; `npm run build` writes into OUT_DIR, never into the
//! source tree. Every file is embedded as is and gzipped (when that saves
//! anything), through a generated table of `include_bytes!`.
//!
//! `FUSSIONCORD_WEB_DIST=/path/to/dist` embeds an existing build instead
//! (for packagers who build the client separately); npm is then not needed.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let web = manifest.join("../../web").canonicalize().expect("web/ next to crates/");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());

    println!("cargo:rerun-if-env-changed=FUSSIONCORD_WEB_DIST");
    let dist = match std::env::var_os("FUSSIONCORD_WEB_DIST") {
        Some(dir) => PathBuf::from(dir),
        None => {
            // Paths relative to this package, through the `web` link beside
            // Cargo.toml: cargo keeps relative paths in its fingerprint and
            // resolves them against wherever the checkout is now, so a target
            // directory shared by clones at other paths (as CI's is) still
            // sees a change. Absolute paths would keep watching the clone
            // that first built the client, and embed its stale build.
            for f in ["src", "index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json"] {
                println!("cargo:rerun-if-changed=web/{f}");
            }
            build_client(&web, &out.join("dist"))
        }
    };

    let mut files = Vec::new();
    collect(&dist, &dist, &mut files);
    files.sort();
    let gz_dir = out.join("gz");
    std::fs::create_dir_all(&gz_dir).unwrap();
    let mut table = String::from("pub static FILES: &[Asset] = &[\n");
    for (n, rel) in files.iter().enumerate() {
        let path = dist.join(rel);
        let bytes = std::fs::read(&path).unwrap();
        let gz = gzip(&bytes);
        let gz_expr = if gz.len() + 64 < bytes.len() {
            let gz_path = gz_dir.join(format!("{n}.gz"));
            std::fs::write(&gz_path, &gz).unwrap();
            format!("Some(include_bytes!({:?}))", gz_path.display().to_string())
        } else {
            "None".to_owned()
        };
        let url = format!("/{}", rel.replace('\\', "/"));
        writeln!(
            table,
            "    Asset {{ path: {url:?}, body: include_bytes!({:?}), gzip: {gz_expr} }},",
            path.display().to_string()
        )
        .unwrap();
    }
    table.push_str("];\n");
    std::fs::write(out.join("assets.rs"), table).unwrap();
}

fn build_client(web: &Path, dist: &Path) -> PathBuf {
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    if Command::new(npm).arg("--version").output().is_err() {
        panic!(
            "\n\nThe web client needs Node.js and npm to build (web/). Install them (e.g. `apt-get install nodejs npm`),\n\
             or set FUSSIONCORD_WEB_DIST to a directory holding a build of web/ (`npm run build`).\n\n"
        );
    }
    let lock = web.join("package-lock.json");
    let stamp = web.join("node_modules/.package-lock.json");
    let stale = match (mtime(&lock), mtime(&stamp)) {
        (Some(lock), Some(stamp)) => lock > stamp,
        _ => true,
    };
    if stale {
        // `npm ci` refuses a lockfile that lacks other platforms' optional
        // packages (rollup's native binaries), which is what npm writes when
        // the registry it reaches does not carry them; `npm install --no-save`
        // then installs the same locked versions without touching the lockfile.
        let ci = Command::new(npm).args(["ci", "--no-audit", "--no-fund"]).current_dir(web).output();
        if !ci.is_ok_and(|o| o.status.success()) {
            run(
                Command::new(npm).args(["install", "--no-save", "--no-audit", "--no-fund"]).current_dir(web),
                "npm install",
            );
        }
    }
    run(
        Command::new(npm).args(["run", "build", "--", "--outDir"]).arg(dist).arg("--emptyOutDir").current_dir(web),
        "npm run build",
    );
    dist.to_path_buf()
}

fn run(cmd: &mut Command, what: &str) {
    let output = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    if !output.status.success() {
        panic!(
            "\n\n`{what}` in web/ failed ({}):\n{}\n{}\n",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

fn mtime(p: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(root, &path, out);
        } else {
            out.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
        }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}
