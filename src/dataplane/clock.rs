//! A worker's idea of the time, read once per tick instead of per request:
//! the `Date` header, the access log's timestamp and the millisecond clock
//! of cache ages all come from here, so a request reads a `Cell`, never the
//! system clock.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

pub struct Clock {
    date: Cell<[u8; 29]>,
    clf_date: Cell<[u8; 26]>,
    secs: Cell<u64>,
    now_ms: Cell<u64>,
}

impl Clock {
    pub fn new() -> Clock {
        let c = Clock {
            date: Cell::new([b' '; 29]),
            clf_date: Cell::new([b' '; 26]),
            secs: Cell::new(0),
            now_ms: Cell::new(0),
        };
        c.refresh();
        c
    }

    /// The `Date` header value.
    pub fn date(&self) -> [u8; 29] {
        self.date.get()
    }

    /// The time for access logs, `25/Nov/2026:12:03:21 +0000`.
    pub fn clf_date(&self) -> [u8; 26] {
        self.clf_date.get()
    }

    /// Unix milliseconds (cache ages and expiry).
    pub fn now_ms(&self) -> u64 {
        self.now_ms.get()
    }

    /// Unix seconds.
    pub fn now_secs(&self) -> i64 {
        self.secs.get() as i64
    }

    /// Called by the tick; the text forms are rebuilt once a second.
    pub fn refresh(&self) {
        let now = SystemTime::now();
        let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        self.now_ms.set(since.as_millis() as u64);
        let secs = since.as_secs();
        if secs != self.secs.get() {
            self.secs.set(secs);
            let text = httpdate::fmt_http_date(now);
            let mut d = [b' '; 29];
            let n = text.len().min(29);
            d[..n].copy_from_slice(&text.as_bytes()[..n]);
            self.date.set(d);
            let clf = chrono::DateTime::<chrono::Utc>::from(now)
                .format("%d/%b/%Y:%H:%M:%S +0000")
                .to_string();
            let mut c = [b' '; 26];
            let n = clf.len().min(26);
            c[..n].copy_from_slice(&clf.as_bytes()[..n]);
            self.clf_date.set(c);
        }
    }
}
