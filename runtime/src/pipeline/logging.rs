//! Structured JSON logs (one object a line on stdout) with request ids and
//! W3C trace context, and redaction of `sensitive` fields.
//!
//! `SVCC_LOG` sets the filter (`info` by default, `tracing` env-filter
//! syntax); `SVCC_LOG_FORMAT=pretty` prints human-readable lines instead.
//! Request bodies are never logged unless `SVCC_LOG_BODIES=1`, and then
//! with every field the manifest marks `sensitive` replaced by `"[redacted]"`.
//!
//! The lines are tracing-subscriber's JSON format (flattened, no spans).
//! The request line, one a request, is the exception that makes it cheap:
//! when [`init`] installed that format on stdout, `RequestLine` writes
//! the same bytes straight to stdout instead of going through tracing's
//! field visitors and serde, which cost a sixth of a request's CPU in the
//! HTTP benchmark (`tests/benches/http.sh`). A test checks both write the
//! same line.

use serde_json::Value;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether [`init`] installed the JSON lines on stdout.
static JSON_ON_STDOUT: AtomicBool = AtomicBool::new(false);

/// Installs the global subscriber once (later calls do nothing).
pub fn init() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("SVCC_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let pretty = std::env::var("SVCC_LOG_FORMAT").is_ok_and(|v| v == "pretty");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    if pretty {
        let _ = builder.try_init();
    } else if builder
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .try_init()
        .is_ok()
    {
        JSON_ON_STDOUT.store(true, Ordering::Relaxed);
    }
}

/// The log line of one answered request (target `svcc_runtime::server`,
/// level INFO, message `request`).
pub(crate) struct RequestLine<'a> {
    pub request_id: &'a str,
    pub trace_id: &'a str,
    pub span_id: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub route: &'a str,
    pub operation: &'a str,
    pub status: u16,
    pub caller: &'a str,
    pub latency_ms: f64,
}

impl RequestLine<'_> {
    /// Logs the line: written directly when `init` installed the JSON
    /// lines on stdout and the filter lets it through, else through
    /// tracing (another subscriber, the pretty format, tests).
    pub(crate) fn log(&self) {
        if JSON_ON_STDOUT.load(Ordering::Relaxed) {
            if tracing::enabled!(target: "svcc_runtime::server", tracing::Level::INFO)
                && !self.write_direct()
            {
                self.log_through_tracing();
            }
            return;
        }
        self.log_through_tracing();
    }

    fn log_through_tracing(&self) {
        tracing::info!(
            target: "svcc_runtime::server",
            request_id = %self.request_id,
            trace_id = %self.trace_id,
            span_id = %self.span_id,
            method = %self.method,
            path = %self.path,
            route = self.route,
            operation = self.operation,
            status = self.status,
            caller = self.caller,
            latency_ms = self.latency_ms,
            "request"
        );
    }

    /// Writes the line to stdout; `false` when it could not be formatted
    /// (a clock outside the years 0 to 9999).
    fn write_direct(&self) -> bool {
        use std::cell::RefCell;
        use std::io::Write as _;
        thread_local! {
            static LINE: RefCell<String> = const { RefCell::new(String::new()) };
        }
        LINE.with(|line| {
            let Ok(mut line) = line.try_borrow_mut() else {
                return false;
            };
            line.clear();
            if self
                .write_json(&mut line, std::time::SystemTime::now())
                .is_err()
            {
                return false;
            }
            // As the subscriber writes: one `write_all` of the whole line
            // to stdout; a failed write is dropped, as it is there.
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
            true
        })
    }

    /// The line as tracing-subscriber's JSON format writes this event.
    fn write_json(&self, out: &mut String, now: std::time::SystemTime) -> fmt::Result {
        out.push_str("{\"timestamp\":\"");
        timestamp(out, now)?;
        out.push_str("\",\"level\":\"INFO\",\"message\":\"request\"");
        for (key, value) in [
            (",\"request_id\":", self.request_id),
            (",\"trace_id\":", self.trace_id),
            (",\"span_id\":", self.span_id),
            (",\"method\":", self.method),
            (",\"path\":", self.path),
            (",\"route\":", self.route),
            (",\"operation\":", self.operation),
        ] {
            out.push_str(key);
            json_string(out, value)?;
        }
        out.push_str(",\"status\":");
        digits(out, u64::from(self.status), 1);
        out.push_str(",\"caller\":");
        json_string(out, self.caller)?;
        out.push_str(",\"latency_ms\":");
        match serde_json::Number::from_f64(self.latency_ms) {
            Some(n) => write!(out, "{n}")?,
            None => out.push_str("null"),
        }
        out.push_str(",\"target\":\"svcc_runtime::server\"}\n");
        Ok(())
    }
}

/// `n` in decimal, zero-padded to `width` digits.
fn digits(out: &mut String, mut n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    while n > 0 || buf.len() - i < width.max(1) {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    for b in &buf[i..] {
        out.push(char::from(*b));
    }
}

/// tracing-subscriber's timestamp: `2026-11-22T04:28:56.058241Z` (UTC,
/// microseconds, years 0 to 9999; an error outside them). The part up to
/// the seconds is formatted once a second per thread.
fn timestamp(out: &mut String, now: std::time::SystemTime) -> fmt::Result {
    use std::cell::RefCell;
    thread_local! {
        static SECOND: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    // whole seconds rounded down, and the microseconds after them
    let (second, micros) = match now.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).map_err(|_| fmt::Error)?,
            d.subsec_micros(),
        ),
        Err(e) => {
            let d = e.duration();
            let s = i64::try_from(d.as_secs()).map_err(|_| fmt::Error)?;
            match d.subsec_nanos() {
                0 => (-s, 0),
                n => (-s - 1, (1_000_000_000 - n) / 1_000),
            }
        }
    };
    SECOND.with(|cache| {
        let mut cache = cache.try_borrow_mut().map_err(|_| fmt::Error)?;
        if cache.0 != second {
            let t = jiff::Timestamp::from_second(second).map_err(|_| fmt::Error)?;
            if !(0..=9999).contains(&t.to_zoned(jiff::tz::TimeZone::UTC).year()) {
                return Err(fmt::Error);
            }
            let text = t.strftime("%Y-%m-%dT%H:%M:%S").to_string();
            *cache = (second, text);
        }
        out.push_str(&cache.1);
        out.push('.');
        digits(out, u64::from(micros), 6);
        out.push('Z');
        Ok(())
    })
}

/// A JSON string, escaped as serde_json escapes it.
fn json_string(w: &mut impl fmt::Write, s: &str) -> fmt::Result {
    w.write_char('"')?;
    Escaped(&mut *w).write_str(s)?;
    w.write_char('"')
}

/// Escapes what goes through it as serde_json does inside a string: `"`,
/// `\\`, and control characters (short forms where JSON has them, else
/// `\\u00xx`); everything else, non-ASCII included, as it is.
struct Escaped<'a, W: fmt::Write>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaped<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let special = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
        // Most values need no escape at all: one scan, without a branch a
        // byte (the compiler vectorizes it), and one write.
        if !s.bytes().fold(false, |any, b| any | special(b)) {
            return self.0.write_str(s);
        }
        let first = s.bytes().position(special).unwrap_or(s.len());
        let mut start = 0;
        for (i, b) in s.bytes().enumerate().skip(first) {
            let short = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                0..=0x1f => "",
                _ => continue,
            };
            self.0.write_str(&s[start..i])?;
            if short.is_empty() {
                self.0.write_str("\\u00")?;
                self.0.write_char(char::from(HEX[usize::from(b >> 4)]))?;
                self.0.write_char(char::from(HEX[usize::from(b & 15)]))?;
            } else {
                self.0.write_str(short)?;
            }
            start = i + 1;
        }
        self.0.write_str(&s[start..])
    }
}

/// Replaces the values of sensitive fields, at any depth.
pub fn redact(value: &mut Value, sensitive: &[&str]) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if sensitive.contains(&k.as_str()) {
                    *v = Value::String("[redacted]".into());
                } else {
                    redact(v, sensitive);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact(v, sensitive)),
        _ => {}
    }
}

/// W3C `traceparent`: the trace this request belongs to and our span in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    /// 32 hex digits.
    pub trace_id: String,
    /// Our span, 16 hex digits.
    pub span_id: String,
    /// The caller's span, when a valid `traceparent` came in.
    pub parent_id: Option<String>,
    /// Sampled flag.
    pub sampled: bool,
}

/// 16 random-looking bytes for ids that must be unique, not secret
/// (trace and span ids, request ids), without a system call (`Uuid::new_v4`
/// makes one per id): a per-thread counter XORed with a 128-bit key drawn
/// from the operating system once per thread (through the standard
/// library's `RandomState`), through a bijective mix. So one thread never
/// repeats itself, and two threads' sequences meet only if their keys differ
/// by the XOR of two counters, a chance of about 2^-88 per pair of threads.
pub(crate) fn random_bytes() -> [u8; 16] {
    use std::cell::Cell;
    use std::hash::BuildHasher;
    use std::sync::atomic::{AtomicU64, Ordering};
    // The thread's number goes into the key too, so that two threads never
    // share a key even if the standard library gave them the same one.
    static THREADS: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        static STATE: (u128, Cell<u64>) = {
            let keys = std::collections::hash_map::RandomState::new();
            let thread = THREADS.fetch_add(1, Ordering::Relaxed);
            let word = |i: u64| u128::from(keys.hash_one((thread, i)));
            ((word(0) << 64) | word(1), Cell::new(0))
        };
    }
    STATE.with(|(key, counter)| {
        let n = counter.get();
        counter.set(n.wrapping_add(1));
        mix(u128::from(n) ^ key).to_le_bytes()
    })
}

/// A bijection of 128-bit words that spreads every input bit over the
/// output: xor-shifts and multiplications by odd constants, each of which
/// can be undone.
fn mix(mut x: u128) -> u128 {
    const A: u128 = 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835;
    const B: u128 = 0xd6e8_feb8_6659_fd93_a076_1d64_78bd_642f;
    x ^= x >> 67;
    x = x.wrapping_mul(A);
    x ^= x >> 61;
    x = x.wrapping_mul(B);
    x ^= x >> 64;
    x
}

/// A new random (version 4) UUID from [`random_bytes`].
pub(crate) fn new_uuid() -> uuid::Uuid {
    uuid::Builder::from_random_bytes(random_bytes()).into_uuid()
}

/// Lowercase hexadecimal of `bytes`, two digits a byte.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    // 16 bytes at a time through a buffer on the stack
    for chunk in bytes.chunks(16) {
        let mut buf = [0u8; 32];
        for (pair, b) in buf.chunks_exact_mut(2).zip(chunk) {
            pair[0] = DIGITS[usize::from(b >> 4)];
            pair[1] = DIGITS[usize::from(b & 15)];
        }
        // only ASCII digits and letters went in
        s.push_str(std::str::from_utf8(&buf[..chunk.len() * 2]).unwrap_or_default());
    }
    s
}

/// `bytes` random bytes as hex; never all zeros (W3C: an all-zero trace or
/// span id is invalid).
fn random_hex(bytes: usize) -> String {
    loop {
        let r = random_bytes();
        let r = &r[..bytes.min(16)];
        if r.iter().any(|b| *b != 0) {
            return hex(r);
        }
    }
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && s.bytes().any(|b| b != b'0')
}

impl Trace {
    /// Continues the incoming trace, or starts a new one.
    pub fn from_header(header: Option<&str>) -> Self {
        let span_id = random_hex(8);
        if let Some(h) = header {
            let parts: Vec<&str> = h.trim().split('-').collect();
            if parts.len() >= 4
                && parts[0].len() == 2
                && parts[0] != "ff"
                && is_hex(parts[1], 32)
                && is_hex(parts[2], 16)
                && parts[3].len() == 2
            {
                return Trace {
                    trace_id: parts[1].to_string(),
                    span_id,
                    parent_id: Some(parts[2].to_string()),
                    sampled: u8::from_str_radix(parts[3], 16).is_ok_and(|f| f & 1 == 1),
                };
            }
        }
        Trace {
            trace_id: random_hex(16),
            span_id,
            parent_id: None,
            sampled: true,
        }
    }

    /// A new span in the trace `trace_id`: work done later for the request
    /// that caused it (an event's delivery, a saga's steps), which keeps
    /// only the trace's id, not the span that published. A missing or
    /// malformed id starts a new trace.
    pub fn continuing(trace_id: Option<&str>) -> Self {
        match trace_id {
            Some(id) if is_hex(id, 32) => Trace {
                trace_id: id.to_string(),
                span_id: random_hex(8),
                parent_id: None,
                sampled: true,
            },
            _ => Self::from_header(None),
        }
    }

    /// The header to send on outbound calls (our span as the parent).
    pub fn header(&self) -> String {
        format!(
            "00-{}-{}-{}",
            self.trace_id,
            self.span_id,
            if self.sampled { "01" } else { "00" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex, PoisonError};

    /// What tracing-subscriber's JSON lines (as `init` sets them up)
    /// write for the events `emit` sends, with the timestamps blanked.
    fn stock_lines(emit: impl Fn()) -> Vec<String> {
        #[derive(Clone)]
        struct Capture(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Capture {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let out = Capture(Arc::new(Mutex::new(Vec::new())));
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let bytes = out.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
        String::from_utf8(bytes)
            .unwrap_or_default()
            .lines()
            .map(blank_timestamp)
            .collect()
    }

    fn blank_timestamp(line: &str) -> String {
        match regex::Regex::new(r#""timestamp":"[^"]*""#) {
            Ok(r) => r.replace(line, r#""timestamp":"-""#).into_owned(),
            Err(_) => line.to_string(),
        }
    }

    #[test]
    fn the_direct_request_line_is_the_stock_one() {
        let lines = [
            RequestLine {
                request_id: "cf0c284b-6b62-4fff-9b55-309522db1379",
                trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
                span_id: "7cb4b268ccf39b21",
                method: "POST",
                path: "/quotes",
                route: "/quotes",
                operation: "createQuote",
                status: 201,
                caller: "bench",
                latency_ms: 0.397_672,
            },
            RequestLine {
                request_id: "a \"quoted\" \\ id é \u{1b}[31m",
                trace_id: "",
                span_id: "\u{0}\u{7f}\u{8}\u{c}\t\r\n",
                method: "OTHER",
                path: "/a b/%2F/\u{1f}",
                route: "-",
                operation: "-",
                status: 404,
                caller: "-",
                latency_ms: 1e-7,
            },
            RequestLine {
                latency_ms: f64::NAN,
                ..RequestLine {
                    request_id: "x",
                    trace_id: "y",
                    span_id: "z",
                    method: "GET",
                    path: "/",
                    route: "/",
                    operation: "root",
                    status: 500,
                    caller: "-",
                    latency_ms: 0.0,
                }
            },
            RequestLine {
                latency_ms: 12_345_678_901_234.5,
                ..RequestLine {
                    request_id: "x",
                    trace_id: "y",
                    span_id: "z",
                    method: "GET",
                    path: "/",
                    route: "/",
                    operation: "root",
                    status: 200,
                    caller: "-",
                    latency_ms: 0.0,
                }
            },
        ];
        let stock = stock_lines(|| lines.iter().for_each(RequestLine::log_through_tracing));
        assert_eq!(stock.len(), lines.len(), "{stock:#?}");
        for (line, stock) in lines.iter().zip(&stock) {
            let mut direct = String::new();
            assert!(
                line.write_json(&mut direct, std::time::SystemTime::now())
                    .is_ok()
            );
            assert!(direct.ends_with('\n'));
            assert_eq!(&blank_timestamp(direct.trim_end_matches('\n')), stock);
            assert!(serde_json::from_str::<Value>(&direct).is_ok_and(|v| v.is_object()));
        }
    }

    #[test]
    fn timestamps_are_written_as_tracing_writes_them() {
        use std::time::{Duration, UNIX_EPOCH};
        let at = |secs: u64, nanos: u32| {
            let mut s = String::new();
            let ok = timestamp(&mut s, UNIX_EPOCH + Duration::new(secs, nanos)).is_ok();
            ok.then_some(s)
        };
        assert_eq!(at(0, 0).as_deref(), Some("1970-01-01T00:00:00.000000Z"));
        assert_eq!(
            at(1_763_787_536, 58_241_999).as_deref(),
            Some("2025-11-22T04:58:56.058241Z")
        );
        // the same second again (the cached part), and the next one
        assert_eq!(
            at(1_763_787_536, 999_999_999).as_deref(),
            Some("2025-11-22T04:58:56.999999Z")
        );
        assert_eq!(
            at(951_868_799, 1_000).as_deref(),
            Some("2000-02-29T23:59:59.000001Z")
        );
        let before = UNIX_EPOCH - Duration::new(1, 250_000_000);
        let mut s = String::new();
        assert!(timestamp(&mut s, before).is_ok());
        assert_eq!(s, "1969-12-31T23:59:58.750000Z");
        let mut d = String::new();
        for (n, width) in [(0, 1), (7, 1), (201, 1), (58_241, 6), (0, 6), (u64::MAX, 1)] {
            digits(&mut d, n, width);
            d.push(' ');
        }
        assert_eq!(d, "0 7 201 058241 000000 18446744073709551615 ");
        // the current time has the shape of the stock lines' timestamps
        let mut now = String::new();
        assert!(timestamp(&mut now, std::time::SystemTime::now()).is_ok());
        let shape = regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$").ok();
        assert!(shape.is_some_and(|r| r.is_match(&now)), "{now}");
    }

    #[test]
    fn continues_a_valid_trace_and_replaces_a_bad_one() {
        let t = Trace::from_header(Some(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ));
        assert_eq!(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.parent_id.as_deref(), Some("00f067aa0ba902b7"));
        assert!(
            t.header()
                .starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-")
        );
        let bad = Trace::from_header(Some(
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        ));
        assert_ne!(bad.trace_id, "00000000000000000000000000000000");
        assert_eq!(bad.trace_id.len(), 32);
    }

    #[test]
    fn stored_work_continues_its_trace_in_a_span_of_its_own() {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        let (a, b) = (Trace::continuing(Some(id)), Trace::continuing(Some(id)));
        assert_eq!((a.trace_id.as_str(), b.trace_id.as_str()), (id, id));
        assert_ne!(a.span_id, b.span_id);
        assert_eq!(a.parent_id, None);
        for bad in [
            None,
            Some(""),
            Some("4BF92F3577B34DA6A3CE929D0E0E4736"),
            Some("00-4bf9"),
        ] {
            let t = Trace::continuing(bad);
            assert!(is_hex(&t.trace_id, 32) && t.trace_id != id, "{bad:?}");
        }
    }

    #[test]
    fn random_ids_differ_and_are_well_formed() {
        let ids: std::collections::HashSet<[u8; 16]> = (0..1000).map(|_| random_bytes()).collect();
        assert_eq!(ids.len(), 1000);
        let u = new_uuid();
        assert_eq!(u.get_version_num(), 4);
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        let long: Vec<u8> = (0..40).collect();
        let expected: String = long.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&long), expected);
        assert_eq!(hex(&[]), "");
        let t = Trace::from_header(None);
        assert!(is_hex(&t.trace_id, 32) && is_hex(&t.span_id, 16), "{t:?}");
    }

    #[test]
    fn the_id_mix_is_a_bijection() {
        // the inverse of each step, in reverse order
        fn unshift(y: u128, k: u32) -> u128 {
            let mut x = y;
            let mut s = k;
            while s < 128 {
                x ^= y >> s;
                s += k;
            }
            x
        }
        fn inverse(c: u128) -> u128 {
            // Newton's iteration for c^-1 mod 2^128 (c odd)
            let mut i = c;
            for _ in 0..7 {
                i = i.wrapping_mul(2u128.wrapping_sub(c.wrapping_mul(i)));
            }
            i
        }
        const A: u128 = 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835;
        const B: u128 = 0xd6e8_feb8_6659_fd93_a076_1d64_78bd_642f;
        let unmix = |y: u128| {
            let y = unshift(y, 64).wrapping_mul(inverse(B));
            let y = unshift(y, 61).wrapping_mul(inverse(A));
            unshift(y, 67)
        };
        for x in [
            0,
            1,
            2,
            u128::MAX,
            1 << 127,
            0x0123_4567_89ab_cdef_u128 << 40,
        ] {
            assert_eq!(unmix(mix(x)), x, "{x:#x}");
        }
        // neighbouring inputs differ in about half of the output bits
        for n in 0u128..64 {
            let d = (mix(n) ^ mix(n + 1)).count_ones();
            assert!((32..=96).contains(&d), "{n}: {d}");
        }
        // threads do not repeat each other either
        let ids: std::collections::HashSet<[u8; 16]> = (0..4)
            .map(|_| std::thread::spawn(|| (0..10_000).map(|_| random_bytes()).collect::<Vec<_>>()))
            .collect::<Vec<_>>()
            .into_iter()
            .flat_map(|t| t.join().unwrap_or_default())
            .collect();
        assert_eq!(ids.len(), 40_000);
    }

    #[test]
    fn redacts_nested_sensitive_fields() {
        let mut v = serde_json::json!({"email": "a@b.c", "items": [{"email": "x"}], "id": 1});
        redact(&mut v, &["email"]);
        assert_eq!(
            v,
            serde_json::json!({"email": "[redacted]", "items": [{"email": "[redacted]"}], "id": 1})
        );
    }
}
