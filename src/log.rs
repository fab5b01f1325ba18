//! The server's own log: one line per event on stderr, in logfmt
//! (`portico: level=warn worker=0 msg="..."`), so a line is greppable and
//! parseable. Quiet by default: a few lifecycle lines at `info`, problems
//! at `warn`/`error`, nothing per request (that is the access log's job).
//! `[log] level` raises the bar; config errors on the command line stay
//! plain text for the person who made them.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error = 0,
    Warn = 1,
    #[default]
    Info = 2,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
        }
    }
}

static MAX: AtomicU8 = AtomicU8::new(Level::Info as u8);

/// Lines above `level` are not written.
pub fn set_level(level: Level) {
    MAX.store(level as u8, Ordering::Relaxed);
}

/// Writes one line; `worker` is `None` for the control plane's threads.
pub fn emit(level: Level, worker: Option<usize>, msg: fmt::Arguments<'_>) {
    if level as u8 > MAX.load(Ordering::Relaxed) {
        return;
    }
    let line = format_line(level, worker, &msg.to_string());
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

fn format_line(level: Level, worker: Option<usize>, msg: &str) -> String {
    let worker = worker.map_or("-".to_string(), |w| w.to_string());
    let msg = msg
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!(
        "portico: level={} worker={worker} msg=\"{msg}\"\n",
        level.name()
    )
}

/// `log!(info, "...")`, `log!(warn, worker = id, "...")`.
#[macro_export]
macro_rules! log {
    ($level:ident, worker = $w:expr, $($arg:tt)+) => {
        $crate::log::emit($crate::log::level!($level), Some($w), format_args!($($arg)+))
    };
    ($level:ident, $($arg:tt)+) => {
        $crate::log::emit($crate::log::level!($level), None, format_args!($($arg)+))
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __log_level {
    (info) => {
        $crate::log::Level::Info
    };
    (warn) => {
        $crate::log::Level::Warn
    };
    (error) => {
        $crate::log::Level::Error
    };
}

#[doc(hidden)]
pub use crate::__log_level as level;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_logfmt_line_with_the_message_quoted() {
        assert_eq!(
            format_line(Level::Warn, Some(3), "accept: \"too many\"\nfiles"),
            "portico: level=warn worker=3 msg=\"accept: \\\"too many\\\"\\nfiles\"\n"
        );
        assert_eq!(
            format_line(
                Level::Info,
                None,
                "listening on http://127.0.0.1:8080 (2 workers)"
            ),
            "portico: level=info worker=- msg=\"listening on http://127.0.0.1:8080 (2 workers)\"\n"
        );
    }
}
