//! The README cannot go stale: every shell block it marks runnable is run,
//! in order, against a portico started from this build on the embedded
//! default config (`tests/readme/run.sh`), and a failing command or an
//! output the README promises but portico does not give fails this test
//! with the README's line. The other tests check that the harness itself
//! fails for the right reasons, so a passing run means something.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(doc: &Path) -> Output {
    Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/readme/run.sh"))
        .arg(doc)
        .env("PORTICO_BIN", env!("CARGO_BIN_EXE_portico"))
        .output()
        .expect("run tests/readme/run.sh")
}

fn text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A Markdown file of the test's own, in a directory of its own.
fn fixture(name: &str, markdown: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("portico-readme-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.md"));
    std::fs::write(&path, markdown).unwrap();
    path
}

#[test]
fn every_runnable_readme_block_runs() {
    let out = run(&Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"));
    assert!(
        out.status.success(),
        "README.md's runnable blocks failed\n{}",
        text(&out)
    );
}

#[test]
fn a_failing_command_is_reported_at_its_readme_line() {
    let doc = fixture(
        "failing",
        "# t\n\n<!-- runnable -->\n```sh\ncurl -s http://127.0.0.1:8080/prod/hello\n#> hello from portico\n```\n\n<!-- runnable -->\n```sh\ntrue\ncurl -sf http://127.0.0.1:8080/prod/keyed\necho not reached\n```\n",
    );
    let out = run(&doc);
    let all = text(&out);
    assert!(!out.status.success(), "a failing block passed\n{all}");
    // Line 12 is the keyed call (403 without a key, so curl -f fails).
    assert!(
        all.contains(&format!("{}:12: failed", doc.display())),
        "{all}"
    );
    assert!(!all.contains("not reached"), "{all}");
    // The first block ran against the server and its promise held.
    assert!(all.contains("hello from portico"), "{all}");
}

#[test]
fn a_promised_output_that_does_not_come_fails() {
    let doc = fixture(
        "promise",
        "<!-- runnable -->\n```sh\ncurl -s -i http://127.0.0.1:8080/prod/keyed\n#> HTTP/1.1 200 OK\n```\n",
    );
    let out = run(&doc);
    let all = text(&out);
    assert!(!out.status.success(), "a broken promise passed\n{all}");
    assert!(
        all.contains(&format!(
            "{}:4: output lacks: HTTP/1.1 200 OK",
            doc.display()
        )),
        "{all}"
    );
    assert!(all.contains("403 Forbidden"), "{all}");
}

#[test]
fn an_unmarked_shell_block_is_refused() {
    let doc = fixture(
        "unmarked",
        "<!-- runnable -->\n```sh\ntrue\n```\n\n```sh\nportico --frobnicate\n```\n",
    );
    let out = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/readme/extract.py"))
        .arg(&doc)
        .output()
        .expect("run extract.py");
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert!(
        all.contains(&format!("{}:6: ```sh block is neither", doc.display())),
        "{all}"
    );
}
