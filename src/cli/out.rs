//! What the commands print on stdout. A reader that goes away (`portico
//! audit | head`) ends the command quietly with success, as it does for
//! other Unix tools, instead of `println!`'s panic: every write returns the
//! error, and [`super::main`] turns a broken pipe into exit status 0.

use std::fmt::Display;
use std::io::{self, Write};

/// `text` and a newline.
pub fn line(text: impl Display) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()
}

/// Whether `e` (anywhere in its chain) is stdout's reader having gone.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// `s` as one shell word: as it is when it needs no quoting, else in
/// single quotes.
pub fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// `bytes` as they are.
pub fn raw(bytes: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}
