//! Job schedules: the cron dialect of Cloudflare Cron Triggers, plus the
//! svcc shorthands, parsed to the 5-field line that is deployed and run.
//!
//! svcc deploys every job schedule in a manifest as a Cloudflare Cron
//! Trigger. Cloudflare only reports a bad schedule when the deploy reaches it
//! (`invalid cron string [code: 10100]`), long after the manifest compiled,
//! and its cron dialect differs from the Unix one most people know: weekdays
//! are numbered 1-7 from Sunday, so the classic `0 0 * * 0` is refused. This
//! module reads each schedule in the dialect Cloudflare actually reads, so
//! that a schedule svcc accepts deploys:
//!
//! * exactly five fields, `minute hour day-of-month month day-of-week`, with
//!   no seconds or years (Cloudflare fires at most once a minute);
//! * `*`, lists `a,b`, ranges `a-b`, steps `*/n`, `a/n` and `a-b/n`, and the
//!   three-letter names `JAN`-`DEC` and `SUN`-`SAT` in any case;
//! * Quartz weekday numbering: `1` = Sunday … `7` = Saturday, so `MON-FRI`
//!   is `2-6` and `0` is an error;
//! * the Quartz extensions Cloudflare documents, each as the whole field: `L`,
//!   `LW` and `15W` in day-of-month, `5L` (last Thursday) and `6#3` (third
//!   Friday) in day-of-week; `L` and `W` in upper case, as Cloudflare reads
//!   them;
//! * no `?`: Cloudflare's parser has no such character; no range that wraps
//!   around (`FRI-MON`): svcc asks for the list instead.
//!
//! svcc adds two shorthands, expanded here to a 5-field line: macros
//! (`@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`, `@annually`) and
//! intervals that fit one cron line (`every 5m`, `every 2h`, `every 1d`).
//! [`Schedule::cron`] is that line, the canonical form: it is what the
//! wrangler config deploys and what generated crates hand the runtime's
//! scheduler (`runtime/src/durable/cron.rs`), which reads nothing else. This
//! is the only place that knows the shorthands.
//!
//! The checks run field by field so that each error points at the exact bytes
//! at fault. A schedule that passes is parsed once more by the `croner` crate,
//! configured for Cloudflare's semantics ([`cloudflare_parser`]), as a second
//! opinion.

use std::fmt;

use croner::parser::{CronParser, Seconds, Year};

/// A schedule that passed validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// A 5-field cron expression, normalised to single spaces.
    Cron(String),
    /// A macro such as `@daily` (its name in lower case, with the `@`), with
    /// its 5-field equivalent. Cloudflare itself reads no macros: svcc deploys
    /// `cron`.
    Macro { name: String, cron: String },
    /// `every 5m`: an interval that divides evenly into a cron expression;
    /// carries the equivalent cron.
    Every { interval_secs: u64, cron: String },
}

impl Schedule {
    /// The 5-field cron line the schedule stands for, single-spaced: what
    /// is deployed and what the runtime reads.
    pub fn cron(&self) -> &str {
        match self {
            Schedule::Cron(cron) | Schedule::Macro { cron, .. } | Schedule::Every { cron, .. } => {
                cron
            }
        }
    }
}

/// Why a schedule was rejected: byte range inside the schedule string, a
/// message, and a help line where a fix is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleError {
    pub start: usize,
    pub end: usize,
    pub message: String,
    pub help: Option<String>,
}

impl ScheduleError {
    /// An error over the bytes `start..end`.
    fn span(start: usize, end: usize, message: impl Into<String>) -> Self {
        Self {
            start,
            end,
            message: message.into(),
            help: None,
        }
    }

    /// An error over the whole token `tok`.
    fn at(tok: Tok<'_>, message: impl Into<String>) -> Self {
        Self::span(tok.start, tok.end(), message)
    }

    /// An error over the one-byte separator (`-`, `/`, `,`, `#`) at `pos`.
    fn at_byte(pos: usize, message: impl Into<String>) -> Self {
        Self::span(pos, pos + 1, message)
    }

    /// Adds a help line.
    fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a help line if there is one.
    fn maybe_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (bytes {}..{})", self.message, self.start, self.end)?;
        if let Some(help) = &self.help {
            write!(f, "; help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScheduleError {}

/// Checks a job schedule as Cloudflare Cron Triggers read it: a 5-field cron
/// expression, a macro such as `@daily`, or an interval such as `every 5m`.
///
/// Leading and trailing whitespace is ignored; error spans are byte ranges
/// into `text` itself.
pub fn parse_schedule(text: &str) -> Result<Schedule, ScheduleError> {
    let body = Tok::new(text, 0).trim();
    if body.text.is_empty() {
        return Err(ScheduleError::span(0, text.len(), "empty schedule").help(FORMS_HELP));
    }
    if body.text.starts_with('@') {
        return parse_macro(text, body);
    }
    let words = body.words();
    if let Some((first, rest)) = words.split_first()
        && first.text.eq_ignore_ascii_case("every")
    {
        return parse_every(text, *first, rest);
    }
    parse_cron(text, &words).map(Schedule::Cron)
}

/// The three forms a schedule can take, for help lines.
const FORMS_HELP: &str = "write a 5-field cron expression such as `*/15 * * * *`, \
     a macro such as `@daily`, or an interval such as `every 5m`";

// ---------------------------------------------------------------------------
// Tokens with their position in the schedule string
// ---------------------------------------------------------------------------

/// A slice of the schedule string together with its byte offset in it.
#[derive(Clone, Copy, Debug)]
struct Tok<'a> {
    text: &'a str,
    start: usize,
}

impl<'a> Tok<'a> {
    /// A token for `text` starting at byte `start` of the schedule.
    fn new(text: &'a str, start: usize) -> Self {
        Self { text, start }
    }

    /// The byte just past the token.
    fn end(self) -> usize {
        self.start + self.text.len()
    }

    /// The token without surrounding ASCII whitespace.
    fn trim(self) -> Self {
        let trimmed = self
            .text
            .trim_start_matches(|c: char| c.is_ascii_whitespace());
        let start = self.start + (self.text.len() - trimmed.len());
        Self::new(
            trimmed.trim_end_matches(|c: char| c.is_ascii_whitespace()),
            start,
        )
    }

    /// The ASCII-whitespace separated words of the token.
    fn words(self) -> Vec<Tok<'a>> {
        let mut words = Vec::new();
        let mut word_start = None;
        for (i, c) in self.text.char_indices() {
            match (c.is_ascii_whitespace(), word_start) {
                (true, Some(s)) => {
                    words.extend(self.sub(s, i));
                    word_start = None;
                }
                (false, None) => word_start = Some(i),
                _ => {}
            }
        }
        if let Some(s) = word_start {
            words.extend(self.sub(s, self.text.len()));
        }
        words
    }

    /// The part of the token between the relative byte offsets `from..to`,
    /// or `None` if those are not character boundaries.
    fn sub(self, from: usize, to: usize) -> Option<Tok<'a>> {
        self.text
            .get(from..to)
            .map(|text| Tok::new(text, self.start + from))
    }

    /// The token split at relative byte `mid`, if that is a character boundary.
    fn split_at(self, mid: usize) -> Option<(Tok<'a>, Tok<'a>)> {
        let (left, right) = self.text.split_at_checked(mid)?;
        Some((
            Tok::new(left, self.start),
            Tok::new(right, self.start + mid),
        ))
    }

    /// The parts before and after the first ASCII `sep`; the separator sits at
    /// byte `left.end()`.
    fn split_once(self, sep: char) -> Option<(Tok<'a>, Tok<'a>)> {
        let (left, right) = self.text.split_once(sep)?;
        let right_start = self.start + left.len() + sep.len_utf8();
        Some((Tok::new(left, self.start), Tok::new(right, right_start)))
    }

    /// The parts between ASCII `sep`s, empty parts included.
    fn split(self, sep: char) -> Vec<Tok<'a>> {
        let mut start = self.start;
        self.text
            .split(sep)
            .map(|part| {
                let tok = Tok::new(part, start);
                start += part.len() + sep.len_utf8();
                tok
            })
            .collect()
    }

    /// The span from the start of `first` to the end of `last`, both words of
    /// `text`.
    fn join(text: &'a str, first: Tok<'a>, last: Tok<'a>) -> Tok<'a> {
        text.get(first.start..last.end())
            .map_or(first, |joined| Tok::new(joined, first.start))
    }
}

// ---------------------------------------------------------------------------
// Cron expressions
// ---------------------------------------------------------------------------

/// One of the five cron fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

/// Month names, `JAN` = 1.
const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// Weekday names in Cloudflare's (Quartz) numbering, `SUN` = 1.
const WEEKDAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// How Cloudflare numbers weekdays, for help lines.
const WEEKDAY_NUMBERING: &str = "Cloudflare numbers weekdays 1-7 from Sunday (1 = SUN, 7 = SAT)";

impl Field {
    /// The field's name in messages.
    fn label(self) -> &'static str {
        match self {
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        }
    }

    /// The smallest and largest value the field takes.
    fn bounds(self) -> (u64, u64) {
        match self {
            Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (1, 7),
        }
    }

    /// The names the field accepts, the first standing for its smallest value.
    fn names(self) -> &'static [&'static str] {
        match self {
            Field::Month => &MONTH_NAMES,
            Field::DayOfWeek => &WEEKDAY_NAMES,
            _ => &[],
        }
    }

    /// A help line for a value outside the field's bounds.
    fn out_of_range_help(self, value: Option<u64>) -> Option<String> {
        match (self, value) {
            (Field::DayOfWeek, Some(0)) => Some(format!(
                "{WEEKDAY_NUMBERING}; write `1` or `SUN` for Sunday"
            )),
            (Field::DayOfWeek, _) => Some(WEEKDAY_NUMBERING.to_string()),
            (Field::Hour, Some(24)) => Some("midnight is hour `0`".to_string()),
            (Field::DayOfMonth, Some(0)) => Some("days of the month start at 1".to_string()),
            (Field::DayOfMonth, _) => Some("write `L` for the last day of the month".to_string()),
            (Field::Month, _) => Some("months are 1-12 or JAN-DEC".to_string()),
            _ => None,
        }
    }
}

/// Checks the words of a cron expression and returns it normalised to single
/// spaces.
fn parse_cron(text: &str, fields: &[Tok<'_>]) -> Result<String, ScheduleError> {
    let &[minute, hour, day_of_month, month, day_of_week] = fields else {
        return Err(field_count_error(text, fields));
    };
    check_list(Field::Minute, minute)?;
    check_list(Field::Hour, hour)?;
    check_day_of_month(day_of_month)?;
    check_list(Field::Month, month)?;
    check_day_of_week(day_of_week)?;
    check_some_day_exists(day_of_month, month, day_of_week)?;
    let cron = fields.iter().map(|f| f.text).collect::<Vec<_>>().join(" ");
    second_opinion(&cron, text)?;
    Ok(cron)
}

/// The error for a cron expression without exactly five fields, spanning the
/// whole string.
fn field_count_error(text: &str, fields: &[Tok<'_>]) -> ScheduleError {
    let message = format!(
        "expected 5 fields (minute hour day-of-month month day-of-week), found {}",
        fields.len()
    );
    ScheduleError::span(0, text.len(), message).help(field_count_help(fields))
}

/// What to write instead of a cron expression with the wrong number of fields.
fn field_count_help(fields: &[Tok<'_>]) -> String {
    let last_is_year = fields.last().is_some_and(|f| looks_like_year(f.text));
    match (fields.len(), last_is_year) {
        (6, true) => format!(
            "Cloudflare cron has no year field; drop it: `{}`",
            joined(fields.get(..5))
        ),
        (6, false) => format!(
            "Cloudflare cron has no seconds field and fires at most once a minute; \
             drop the leading seconds: `{}`",
            joined(fields.get(1..))
        ),
        (7, _) => format!(
            "Cloudflare cron has no seconds or year fields; drop them: `{}`",
            joined(fields.get(1..6))
        ),
        _ => FORMS_HELP.to_string(),
    }
}

/// Whether a field holds a four-digit number, as a Quartz year field does.
fn looks_like_year(field: &str) -> bool {
    field
        .split(|c: char| !c.is_ascii_digit())
        .any(|number| number.len() == 4)
}

/// Fields joined into a suggestion, with Quartz's `?` written as `*`.
fn joined(fields: Option<&[Tok<'_>]>) -> String {
    fields
        .unwrap_or_default()
        .iter()
        .map(|f| f.text.replace('?', "*"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Checks a comma-separated list of values, ranges and steps.
fn check_list(field: Field, tok: Tok<'_>) -> Result<(), ScheduleError> {
    let items = tok.split(',');
    for (i, item) in items.iter().enumerate() {
        if item.text.is_empty() {
            return Err(empty_item_error(field, &items, i));
        }
        if item.text == "*" && items.len() > 1 {
            return Err(ScheduleError::at(
                *item,
                format!("`*` cannot be combined with other {} values", field.label()),
            )
            .help(format!(
                "`*` already matches every {}; remove it or the other values",
                field.label()
            )));
        }
        check_item(field, *item)?;
    }
    Ok(())
}

/// The error for an empty list entry: it points at the comma after the entry,
/// or before it when the entry is last.
fn empty_item_error(field: Field, items: &[Tok<'_>], i: usize) -> ScheduleError {
    let comma = match items.get(i) {
        Some(item) if i + 1 < items.len() => item.end(),
        Some(item) => item.start.saturating_sub(1),
        None => 0,
    };
    ScheduleError::at_byte(comma, format!("empty entry in {} list", field.label()))
        .help("remove the extra `,`")
}

/// Checks one list entry: `*`, `v`, `a-b`, optionally followed by `/step`.
fn check_item(field: Field, item: Tok<'_>) -> Result<(), ScheduleError> {
    let Some((base, step)) = item.split_once('/') else {
        return check_base(field, item);
    };
    let slash = base.end();
    if base.text.is_empty() {
        return Err(
            ScheduleError::at_byte(slash, "missing start before `/`").help(format!(
                "write `*/{}` to step through the whole range",
                step.text
            )),
        );
    }
    check_base(field, base)?;
    check_step(field, step, slash)
}

/// Checks the part of a list entry before any `/`: `*`, a value or a range.
fn check_base(field: Field, base: Tok<'_>) -> Result<(), ScheduleError> {
    if base.text == "*" {
        return Ok(());
    }
    match base.split_once('-') {
        Some((low, high)) => check_range(field, low, high),
        None => value(field, base).map(drop),
    }
}

/// Checks a range `low-high`: both ends present, in bounds, and in order.
fn check_range(field: Field, low: Tok<'_>, high: Tok<'_>) -> Result<(), ScheduleError> {
    let dash = low.end();
    if low.text.is_empty() {
        return Err(ScheduleError::at_byte(
            dash,
            format!("missing start of {} range before `-`", field.label()),
        ));
    }
    if high.text.is_empty() {
        return Err(ScheduleError::at_byte(
            dash,
            format!("missing end of {} range after `-`", field.label()),
        ));
    }
    let low_value = value(field, low)?;
    let high_value = value(field, high)?;
    if low_value > high_value {
        return Err(backwards_range_error(
            field,
            (low, low_value),
            (high, high_value),
        ));
    }
    Ok(())
}

/// The error for a range whose start comes after its end. Cloudflare would
/// wrap such a range around; svcc asks for the explicit list instead.
fn backwards_range_error(
    field: Field,
    (low, low_value): (Tok<'_>, u64),
    (high, high_value): (Tok<'_>, u64),
) -> ScheduleError {
    let (min, max) = field.bounds();
    let top = if low_value == max {
        low.text.to_string()
    } else {
        format!("{}-{}", low.text, bound_text(field, low.text, max))
    };
    let bottom = if high_value == min {
        high.text.to_string()
    } else {
        format!("{}-{}", bound_text(field, high.text, min), high.text)
    };
    let message = format!(
        "{} range {}-{} starts after it ends",
        field.label(),
        low.text,
        high.text
    );
    ScheduleError::span(low.start, high.end(), message)
        .help(format!("ranges do not wrap around; write `{top},{bottom}`"))
}

/// `value` written like `like`: as a name if `like` is a name, else a number.
fn bound_text(field: Field, like: &str, value: u64) -> String {
    let (min, _) = field.bounds();
    let name = usize::try_from(value - min)
        .ok()
        .and_then(|i| field.names().get(i));
    match name {
        Some(name) if like.starts_with(|c: char| c.is_ascii_alphabetic()) => name.to_string(),
        _ => value.to_string(),
    }
}

/// Checks a step: a number from 1 to the width of the field's range.
fn check_step(field: Field, step: Tok<'_>, slash: usize) -> Result<(), ScheduleError> {
    let label = field.label();
    if step.text.is_empty() {
        return Err(ScheduleError::at_byte(slash, "missing step after `/`")
            .help("write a step such as `*/5`"));
    }
    if !step.text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ScheduleError::at(
            step,
            format!("{label} step `{}` is not a number", step.text),
        ));
    }
    let (min, max) = field.bounds();
    let max_step = max - min;
    match step.text.parse::<u64>() {
        Ok(0) => Err(
            ScheduleError::at(step, format!("{label} step 0 is not allowed"))
                .help("a step must be at least 1; `*/1` is the same as `*`"),
        ),
        Ok(n) if n <= max_step => Ok(()),
        _ => Err(ScheduleError::at(
            step,
            format!("{label} step {} is out of range 1-{max_step}", step.text),
        )
        .help(format!(
            "a step wider than the {label} range {min}-{max} only ever matches its first \
             value; write that value instead"
        ))),
    }
}

/// Reads one value of `field`: a number or, for months and weekdays, a
/// three-letter name.
fn value(field: Field, tok: Tok<'_>) -> Result<u64, ScheduleError> {
    if tok.text.is_empty() {
        return Err(ScheduleError::at(
            tok,
            format!("missing {} value", field.label()),
        ));
    }
    if tok.text.bytes().all(|b| b.is_ascii_digit()) {
        return number(field, tok);
    }
    if tok.text.bytes().all(|b| b.is_ascii_alphabetic()) {
        return name(field, tok);
    }
    Err(first_unexpected(field, tok))
}

/// Reads a number of `field` and checks its bounds.
fn number(field: Field, tok: Tok<'_>) -> Result<u64, ScheduleError> {
    let (min, max) = field.bounds();
    match tok.text.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        parsed => {
            let message = format!("{} {} is out of range {min}-{max}", field.label(), tok.text);
            Err(ScheduleError::at(tok, message).maybe_help(field.out_of_range_help(parsed.ok())))
        }
    }
}

/// Reads a month or weekday name; other fields take no names.
fn name(field: Field, tok: Tok<'_>) -> Result<u64, ScheduleError> {
    let names = field.names();
    if names.is_empty() {
        return Err(letters_error(field, tok));
    }
    let (min, _) = field.bounds();
    names
        .iter()
        .zip(min..)
        .find(|(name, _)| name.eq_ignore_ascii_case(tok.text))
        .map(|(_, n)| n)
        .ok_or_else(|| {
            ScheduleError::at(
                tok,
                format!("unknown {} name `{}`", field.label(), tok.text),
            )
            .help(format!("use three-letter names: {}", names.join(" ")))
        })
}

/// The error for letters in a field that takes only numbers.
fn letters_error(field: Field, tok: Tok<'_>) -> ScheduleError {
    let mut chars = tok.text.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return unexpected_char(field, tok.start, c);
    }
    let (min, max) = field.bounds();
    ScheduleError::at(
        tok,
        format!("unexpected `{}` in {} field", tok.text, field.label()),
    )
    .help(format!("{} takes numbers {min}-{max}", field.label()))
}

/// The error for a value mixing digits, letters and other characters: it
/// points at the first character that does not belong.
fn first_unexpected(field: Field, tok: Tok<'_>) -> ScheduleError {
    let starts_with_digit = tok.text.starts_with(|c: char| c.is_ascii_digit());
    let found = tok
        .text
        .char_indices()
        .find(|&(_, c)| !c.is_ascii_alphanumeric() || c.is_ascii_digit() != starts_with_digit);
    match found {
        Some((i, c)) => unexpected_char(field, tok.start + i, c),
        None => ScheduleError::at(
            tok,
            format!("invalid {} value `{}`", field.label(), tok.text),
        ),
    }
}

/// The error for one character that has no place where it stands.
fn unexpected_char(field: Field, pos: usize, c: char) -> ScheduleError {
    let help = match c {
        '?' => Some("Cloudflare does not accept `?`; write `*` instead"),
        'L' | 'l' => Some(
            "`L` is allowed only as the whole day-of-month field (`L`, `LW`) \
             or after a weekday (`5L` = last Thursday)",
        ),
        'W' | 'w' => Some(
            "`W` is allowed only in day-of-month, right after a day \
             (`15W` = the weekday nearest the 15th)",
        ),
        '#' => Some("`#` is allowed only in day-of-week, e.g. `6#3` for the third Friday"),
        '*' => Some("`*` must stand alone or start a step such as `*/5`"),
        _ if !c.is_ascii() => Some("cron fields are plain ASCII: digits, names and `* , - /`"),
        _ => None,
    };
    let message = format!("unexpected `{c}` in {} field", field.label());
    ScheduleError::span(pos, pos + c.len_utf8(), message).maybe_help(help.map(str::to_string))
}

/// Checks the day-of-month field: `L`, `LW` or `15W` on their own, else a
/// list.
fn check_day_of_month(tok: Tok<'_>) -> Result<(), ScheduleError> {
    if is_day_of_month_special(tok.text) {
        return check_nearest_weekday(tok);
    }
    if let Some(err) = lowercase_day_of_month_error(tok) {
        return Err(err);
    }
    if tok.text.starts_with("L-") {
        return Err(ScheduleError::at(
            tok,
            format!(
                "`{}` (days counted back from the month's end) is not supported",
                tok.text
            ),
        )
        .help("write `L` for the last day or `LW` for the last weekday of the month"));
    }
    if tok.text == "W" {
        return Err(ScheduleError::at(tok, "missing day before `W`")
            .help("write e.g. `15W` for the weekday nearest the 15th"));
    }
    let items = tok.split(',');
    if items.len() > 1
        && let Some(item) = items.iter().find(|i| is_day_of_month_special(i.text))
    {
        return Err(alone_error(*item, Field::DayOfMonth, "`L`, `LW` and `15W`"));
    }
    check_list(Field::DayOfMonth, tok)
}

/// Whether `text` is `L`, `LW` or a day followed by `W`.
fn is_day_of_month_special(text: &str) -> bool {
    text == "L"
        || text == "LW"
        || text
            .strip_suffix('W')
            .is_some_and(|day| !day.is_empty() && day.bytes().all(|b| b.is_ascii_digit()))
}

/// Checks the day in `15W`; `L` and `LW` need no check.
fn check_nearest_weekday(tok: Tok<'_>) -> Result<(), ScheduleError> {
    match tok.text.strip_suffix('W') {
        Some(day) if day != "L" => value(Field::DayOfMonth, Tok::new(day, tok.start)).map(drop),
        _ => Ok(()),
    }
}

/// The error for `l`, `lw` or `15w`: Cloudflare reads `L` and `W` only in
/// upper case.
fn lowercase_day_of_month_error(tok: Tok<'_>) -> Option<ScheduleError> {
    let upper = tok.text.to_ascii_uppercase();
    if upper == tok.text || !is_day_of_month_special(&upper) {
        return None;
    }
    let (i, c) = tok
        .text
        .char_indices()
        .find(|(_, c)| c.is_ascii_lowercase())?;
    Some(
        ScheduleError::span(
            tok.start + i,
            tok.start + i + 1,
            format!("lower-case `{c}` in day-of-month field"),
        )
        .help(format!(
            "Cloudflare reads `L` and `W` only in upper case; write `{upper}`"
        )),
    )
}

/// Checks the day-of-week field: `5L` or `6#3` on their own, else a list.
fn check_day_of_week(tok: Tok<'_>) -> Result<(), ScheduleError> {
    if tok.text.eq_ignore_ascii_case("L") {
        return Err(ScheduleError::at(
            tok,
            "`L` alone in day-of-week means Saturday to Cloudflare",
        )
        .help(
            "write `SAT` (or `7`) for Saturdays, or e.g. `6L` for the last Friday of the month",
        ));
    }
    let items = tok.split(',');
    if items.len() > 1 {
        if let Some(item) = items.iter().find(|i| is_day_of_week_special(i.text)) {
            return Err(alone_error(*item, Field::DayOfWeek, "`5L` and `6#3`"));
        }
        return check_list(Field::DayOfWeek, tok);
    }
    if let Some((day, nth)) = tok.split_once('#') {
        return check_nth_weekday(day, nth);
    }
    if let Some(day) = tok.text.strip_suffix('L') {
        return value(Field::DayOfWeek, Tok::new(day, tok.start)).map(drop);
    }
    if let Some(err) = lowercase_last_weekday_error(tok) {
        return Err(err);
    }
    check_list(Field::DayOfWeek, tok)
}

/// Whether a day-of-week list entry uses `#` or is a weekday followed by `L`.
fn is_day_of_week_special(text: &str) -> bool {
    text.contains('#')
        || text
            .strip_suffix(['L', 'l'])
            .is_some_and(|day| value(Field::DayOfWeek, Tok::new(day, 0)).is_ok())
}

/// Checks `day#nth`: a weekday and its occurrence in the month, 1-5.
fn check_nth_weekday(day: Tok<'_>, nth: Tok<'_>) -> Result<(), ScheduleError> {
    let hash = day.end();
    let example = "write e.g. `6#3` (or `FRI#3`) for the third Friday of the month";
    if day.text.is_empty() {
        return Err(ScheduleError::at_byte(hash, "missing weekday before `#`").help(example));
    }
    if nth.text.is_empty() {
        return Err(ScheduleError::at_byte(hash, "missing occurrence after `#`").help(example));
    }
    value(Field::DayOfWeek, day)?;
    let in_range = nth.text.bytes().all(|b| b.is_ascii_digit())
        && nth.text.parse::<u64>().is_ok_and(|n| (1..=5).contains(&n));
    if in_range {
        return Ok(());
    }
    Err(ScheduleError::at(
        nth,
        format!("weekday occurrence `{}` is out of range 1-5", nth.text),
    )
    .help("a month has at most five of any weekday; `6#3` is the third Friday"))
}

/// The error for `5l` or `fril`: Cloudflare reads `L` only in upper case.
fn lowercase_last_weekday_error(tok: Tok<'_>) -> Option<ScheduleError> {
    let day = tok.text.strip_suffix('l')?;
    value(Field::DayOfWeek, Tok::new(day, tok.start)).ok()?;
    let pos = tok.start + day.len();
    Some(
        ScheduleError::at_byte(pos, "lower-case `l` in day-of-week field").help(format!(
            "Cloudflare reads `L` only in upper case; write `{day}L`"
        )),
    )
}

/// The error for a form that Cloudflare accepts only as the whole field.
fn alone_error(item: Tok<'_>, field: Field, forms: &str) -> ScheduleError {
    ScheduleError::at(
        item,
        format!(
            "`{}` cannot be combined with other {} values",
            item.text,
            field.label()
        ),
    )
    .help(format!(
        "Cloudflare accepts {forms} only as the whole {} field; use a separate schedule \
         for the other values",
        field.label()
    ))
}

// ---------------------------------------------------------------------------
// Dates that do not exist
// ---------------------------------------------------------------------------

/// The most days each month has (February 29 in leap years).
const MONTH_DAYS: [u64; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// Month names in full, for messages.
const MONTH_FULL_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Refuses a schedule that can never fire because none of its days exists in
/// any of its months (`0 0 31 2 *`, `0 0 31 APR,JUN *`). Cloudflare takes such
/// a trigger and never runs it. A restricted day-of-week is matched on its
/// own (either day field), so the schedule fires on those days and passes.
fn check_some_day_exists(
    day_of_month: Tok<'_>,
    month: Tok<'_>,
    day_of_week: Tok<'_>,
) -> Result<(), ScheduleError> {
    if day_of_week.text != "*" || is_day_of_month_special(day_of_month.text) {
        return Ok(());
    }
    let (Some(days), Some(months)) = (
        expand(Field::DayOfMonth, day_of_month),
        expand(Field::Month, month),
    ) else {
        return Ok(());
    };
    let first_day = days.iter().copied().min().unwrap_or(1);
    let fits = |m: &u64| {
        MONTH_DAYS
            .get(*m as usize - 1)
            .is_some_and(|n| first_day <= *n)
    };
    if months.iter().any(fits) {
        return Ok(());
    }
    let names: Vec<&str> = months
        .iter()
        .filter_map(|m| MONTH_FULL_NAMES.get(*m as usize - 1).copied())
        .collect();
    let which = match names.as_slice() {
        [one] => format!("{one} has"),
        [rest @ .., last] => format!("{} and {last} have", rest.join(", ")),
        [] => return Ok(()),
    };
    let day = if days.len() == 1 {
        format!("no day {first_day}")
    } else {
        format!("none of the days {}", day_of_month.text)
    };
    Err(ScheduleError::span(
        day_of_month.start,
        month.end(),
        format!("it never fires: {which} {day}"),
    )
    .help("write `L` for the last day of the month"))
}

/// The values a checked field list matches, ascending; `None` for forms other
/// than numbers, names, ranges and steps.
fn expand(field: Field, tok: Tok<'_>) -> Option<std::collections::BTreeSet<u64>> {
    let (min, max) = field.bounds();
    let mut out = std::collections::BTreeSet::new();
    for item in tok.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => (base, step.text.parse::<u64>().ok()?),
            None => (item, 1),
        };
        let (low, high) = match base.split_once('-') {
            _ if base.text == "*" => (min, max),
            Some((low, high)) => (value(field, low).ok()?, value(field, high).ok()?),
            None if step > 1 => (value(field, base).ok()?, max),
            None => {
                let v = value(field, base).ok()?;
                (v, v)
            }
        };
        out.extend((low..=high).step_by(usize::try_from(step.max(1)).ok()?));
    }
    Some(out)
}

// ---------------------------------------------------------------------------
// The second opinion
// ---------------------------------------------------------------------------

/// croner, configured to read cron the way Cloudflare does: five fields, no
/// seconds or years, Quartz weekdays (1 = Sunday), a day matching when either
/// day-of-month or day-of-week matches, and `a/n` steps. Public so that tests
/// can compare its firing times with the runtime's own evaluator.
pub fn cloudflare_parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .alternative_weekdays(true)
        .dom_and_dow(false)
        .sloppy_ranges(true)
        .build()
}

/// Parses `cron` with croner; a rejection becomes an error over all of `text`,
/// since croner reports no positions.
fn second_opinion(cron: &str, text: &str) -> Result<(), ScheduleError> {
    cloudflare_parser().parse(cron).map(drop).map_err(|err| {
        ScheduleError::span(0, text.len(), format!("croner rejects `{cron}`: {err}"))
    })
}

// ---------------------------------------------------------------------------
// Macros
// ---------------------------------------------------------------------------

/// The macros svcc expands, with their 5-field equivalents.
const MACROS: [(&str, &str); 6] = [
    ("@hourly", "0 * * * *"),
    ("@daily", "0 0 * * *"),
    ("@weekly", "0 0 * * SUN"),
    ("@monthly", "0 0 1 * *"),
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
];

/// Checks a macro such as `@daily`; `body` is the trimmed schedule.
fn parse_macro(text: &str, body: Tok<'_>) -> Result<Schedule, ScheduleError> {
    let words = body.words();
    let Some((&name, rest)) = words.split_first() else {
        return Err(ScheduleError::at(body, "empty schedule").help(FORMS_HELP));
    };
    if name.text.eq_ignore_ascii_case("@every") {
        return Err(ScheduleError::at(name, "`@every` is not a schedule macro")
            .help("write the interval without `@`, e.g. `every 5m`"));
    }
    if let (Some(&first), Some(&last)) = (rest.first(), rest.last()) {
        return Err(ScheduleError::at(
            Tok::join(text, first, last),
            format!("unexpected text after `{}`", name.text),
        )
        .help("a macro stands alone"));
    }
    let lower = name.text.to_ascii_lowercase();
    let Some(&(_, cron)) = MACROS.iter().find(|(known, _)| *known == lower) else {
        return Err(unknown_macro_error(name, &lower));
    };
    second_opinion(cron, text)?;
    Ok(Schedule::Macro {
        name: lower,
        cron: cron.to_string(),
    })
}

/// The error for a macro svcc does not know.
fn unknown_macro_error(name: Tok<'_>, lower: &str) -> ScheduleError {
    let help = match lower {
        "@midnight" => "write `@daily` (`0 0 * * *`)".to_string(),
        "@reboot" => "Cloudflare Cron Triggers have no start-up trigger; \
                      run the job on a schedule instead"
            .to_string(),
        _ => format!(
            "use one of {}, or write a 5-field cron expression",
            MACROS.map(|(known, _)| known).join(", ")
        ),
    };
    ScheduleError::at(name, format!("unknown schedule macro `{}`", name.text)).help(help)
}

// ---------------------------------------------------------------------------
// Intervals
// ---------------------------------------------------------------------------

/// Seconds in a minute, an hour, a day and a week.
const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
const WEEK: u64 = 7 * DAY;

/// Every interval that one cron line repeats exactly, in seconds, ascending:
/// minutes that divide an hour, hours that divide a day, a day and a week.
const INTERVALS: [(u64, &str); 20] = [
    (MINUTE, "* * * * *"),
    (2 * MINUTE, "*/2 * * * *"),
    (3 * MINUTE, "*/3 * * * *"),
    (4 * MINUTE, "*/4 * * * *"),
    (5 * MINUTE, "*/5 * * * *"),
    (6 * MINUTE, "*/6 * * * *"),
    (10 * MINUTE, "*/10 * * * *"),
    (12 * MINUTE, "*/12 * * * *"),
    (15 * MINUTE, "*/15 * * * *"),
    (20 * MINUTE, "*/20 * * * *"),
    (30 * MINUTE, "*/30 * * * *"),
    (HOUR, "0 * * * *"),
    (2 * HOUR, "0 */2 * * *"),
    (3 * HOUR, "0 */3 * * *"),
    (4 * HOUR, "0 */4 * * *"),
    (6 * HOUR, "0 */6 * * *"),
    (8 * HOUR, "0 */8 * * *"),
    (12 * HOUR, "0 */12 * * *"),
    (DAY, "0 0 * * *"),
    (WEEK, "0 0 * * SUN"),
];

/// The forms an interval takes, for help lines.
const EVERY_HELP: &str = "write an interval such as `every 5m`, `every 2h` or `every 1d`";

/// Checks `every <n><unit>`; `keyword` is the word `every`, `rest` the words
/// after it.
fn parse_every(text: &str, keyword: Tok<'_>, rest: &[Tok<'_>]) -> Result<Schedule, ScheduleError> {
    let (Some(&first), Some(&last)) = (rest.first(), rest.last()) else {
        return Err(ScheduleError::at(keyword, "missing interval after `every`").help(EVERY_HELP));
    };
    let interval = Tok::join(text, first, last);
    let (count, unit) = interval_parts(interval)?;
    let (unit_char, unit_secs) = interval_unit(count, unit)?;
    let Ok(n) = count.text.parse::<u64>() else {
        return Err(ScheduleError::at(
            interval,
            format!("interval `{}` is too large", interval.text),
        )
        .help("the longest interval that fits is `every 7d`"));
    };
    if n == 0 {
        return Err(
            ScheduleError::at(interval, "an interval of 0 never repeats")
                .help("the shortest interval is `every 1m`"),
        );
    }
    if unit_char == 's' {
        return Err(seconds_error(interval, n));
    }
    let secs = n.saturating_mul(unit_secs);
    let Some(cron) = cron_for_interval(secs) else {
        return Err(misfit_error(interval, n, unit_char, secs));
    };
    second_opinion(cron, text)?;
    Ok(Schedule::Every {
        interval_secs: secs,
        cron: cron.to_string(),
    })
}

/// Splits an interval into its leading digits and the unit after them.
fn interval_parts<'a>(interval: Tok<'a>) -> Result<(Tok<'a>, Tok<'a>), ScheduleError> {
    let digits = interval.text.bytes().take_while(u8::is_ascii_digit).count();
    match interval.split_at(digits) {
        Some((count, unit)) if !count.text.is_empty() => Ok((count, unit)),
        _ => Err(ScheduleError::at(
            interval,
            format!("expected a number after `every`, found `{}`", interval.text),
        )
        .help(EVERY_HELP)),
    }
}

/// Reads an interval unit: `s`, `m`, `h` or `d`, as a letter and in seconds.
fn interval_unit(count: Tok<'_>, unit: Tok<'_>) -> Result<(char, u64), ScheduleError> {
    match unit.text {
        "s" => Ok(('s', 1)),
        "m" => Ok(('m', MINUTE)),
        "h" => Ok(('h', HOUR)),
        "d" => Ok(('d', DAY)),
        _ => Err(unit_error(count, unit)),
    }
}

/// The error for a missing, spaced-out or unknown interval unit.
fn unit_error(count: Tok<'_>, unit: Tok<'_>) -> ScheduleError {
    let units = "units are `m` (minutes), `h` (hours) and `d` (days)";
    let trimmed = unit.trim();
    if trimmed.text.is_empty() {
        return ScheduleError::at(count, format!("missing unit after `{}`", count.text))
            .help(format!("{units}: write e.g. `every {}m`", count.text));
    }
    let suggestion =
        unit_alias(trimmed.text).map(|short| format!("write `every {}{short}`", count.text));
    let spaced_unit = trimmed.start > unit.start && matches!(trimmed.text, "s" | "m" | "h" | "d");
    let message = if spaced_unit {
        format!("unexpected space between `{}` and its unit", count.text)
    } else {
        format!("unknown interval unit `{}`", trimmed.text)
    };
    ScheduleError::at(trimmed, message).help(suggestion.unwrap_or_else(|| units.to_string()))
}

/// The one-letter unit for a spelled-out one such as `minutes`.
fn unit_alias(unit: &str) -> Option<char> {
    let lower = unit.to_ascii_lowercase();
    match lower.as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => Some('s'),
        "m" | "min" | "mins" | "minute" | "minutes" => Some('m'),
        "h" | "hr" | "hrs" | "hour" | "hours" => Some('h'),
        "d" | "day" | "days" => Some('d'),
        _ => None,
    }
}

/// The cron line that repeats exactly every `secs` seconds, if there is one.
fn cron_for_interval(secs: u64) -> Option<&'static str> {
    INTERVALS
        .iter()
        .find(|(interval, _)| *interval == secs)
        .map(|(_, cron)| *cron)
}

/// The error for an interval in seconds.
fn seconds_error(interval: Tok<'_>, secs: u64) -> ScheduleError {
    let help = match cron_for_interval(secs) {
        Some(_) => Some(format!("write `every {}`", format_interval(secs))),
        None => nearest_help(secs),
    };
    ScheduleError::at(
        interval,
        "Cloudflare Cron Triggers fire at most once a minute; intervals in seconds are not \
         supported",
    )
    .maybe_help(help)
}

/// The error for an interval that no single cron line repeats exactly.
fn misfit_error(interval: Tok<'_>, n: u64, unit: char, secs: u64) -> ScheduleError {
    let message = format!(
        "`every {}` cannot be written as one cron line: {}",
        interval.text,
        misfit_reason(n, unit)
    );
    ScheduleError::at(interval, message).maybe_help(nearest_help(secs))
}

/// Why `n` of `unit` does not repeat evenly in a cron line.
fn misfit_reason(n: u64, unit: char) -> String {
    match unit {
        'm' if n < 60 => format!("{n} minutes does not divide evenly into an hour"),
        'm' if !n.is_multiple_of(60) => format!("{n} minutes is not a whole number of hours"),
        'm' => misfit_reason(n / 60, 'h'),
        'h' if n < 24 => format!("{n} hours does not divide evenly into a day"),
        'h' if !n.is_multiple_of(24) => format!("{n} hours is not a whole number of days"),
        'h' => misfit_reason(n / 24, 'd'),
        _ => format!("{n} days does not repeat evenly through months of 28-31 days"),
    }
}

/// Names the expressible intervals just below and above `secs`.
fn nearest_help(secs: u64) -> Option<String> {
    let below = INTERVALS
        .iter()
        .map(|(s, _)| *s)
        .filter(|s| *s < secs)
        .max();
    let above = INTERVALS.iter().map(|(s, _)| *s).find(|s| *s > secs);
    match (below, above) {
        (Some(below), Some(above)) => Some(format!(
            "the nearest intervals that fit are `every {}` and `every {}`",
            format_interval(below),
            format_interval(above)
        )),
        (Some(only), None) | (None, Some(only)) => Some(format!(
            "the nearest interval that fits is `every {}`",
            format_interval(only)
        )),
        (None, None) => None,
    }
}

/// Writes a whole number of minutes in the largest unit that divides it.
fn format_interval(secs: u64) -> String {
    if secs.is_multiple_of(DAY) {
        format!("{}d", secs / DAY)
    } else if secs.is_multiple_of(HOUR) {
        format!("{}h", secs / HOUR)
    } else {
        format!("{}m", secs / MINUTE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error for a schedule that must be rejected.
    fn rejected(text: &str) -> ScheduleError {
        match parse_schedule(text) {
            Err(err) => err,
            Ok(schedule) => panic!("`{text}` was accepted as {schedule:?}"),
        }
    }

    /// Asserts that `text` is rejected over exactly `spanned`, starting at
    /// byte `start`, with `message`; returns the help line.
    fn assert_rejected(text: &str, spanned: &str, start: usize, message: &str) -> Option<String> {
        let err = rejected(text);
        assert_eq!(
            (err.start, err.end),
            (start, start + spanned.len()),
            "span of the error for `{text}`: {err}"
        );
        assert_eq!(&text[err.start..err.end], spanned);
        assert_eq!(err.message, message, "message for `{text}`");
        err.help
    }

    /// Asserts that `text` is accepted as the cron expression `cron`.
    fn assert_cron(text: &str, cron: &str) {
        assert_eq!(parse_schedule(text), Ok(Schedule::Cron(cron.to_string())));
    }

    // --- out-of-range values, one per field --------------------------------

    #[test]
    fn minute_out_of_range() {
        let help = assert_rejected("60 * * * *", "60", 0, "minute 60 is out of range 0-59");
        assert_eq!(help, None);
        assert_rejected("5,61 * * * *", "61", 2, "minute 61 is out of range 0-59");
    }

    #[test]
    fn hour_out_of_range() {
        assert_rejected("*/15 25 * * *", "25", 5, "hour 25 is out of range 0-23");
        let help = assert_rejected("0 24 * * *", "24", 2, "hour 24 is out of range 0-23");
        assert_eq!(help.as_deref(), Some("midnight is hour `0`"));
    }

    #[test]
    fn day_of_month_out_of_range() {
        assert_rejected(
            "0 0 32 * *",
            "32",
            4,
            "day-of-month 32 is out of range 1-31",
        );
        let help = assert_rejected("0 0 0 * *", "0", 4, "day-of-month 0 is out of range 1-31");
        assert_eq!(help.as_deref(), Some("days of the month start at 1"));
        assert_rejected(
            "0 0 32W * *",
            "32",
            4,
            "day-of-month 32 is out of range 1-31",
        );
    }

    #[test]
    fn month_out_of_range() {
        let help = assert_rejected("0 0 1 13 *", "13", 6, "month 13 is out of range 1-12");
        assert_eq!(help.as_deref(), Some("months are 1-12 or JAN-DEC"));
        assert_rejected("0 0 1 0-3 *", "0", 6, "month 0 is out of range 1-12");
    }

    #[test]
    fn day_of_week_out_of_range() {
        assert_rejected("0 0 * * 8", "8", 8, "day-of-week 8 is out of range 1-7");
        assert_rejected("0 0 * * 2-9", "9", 10, "day-of-week 9 is out of range 1-7");
    }

    #[test]
    fn weekday_zero_is_rejected_with_quartz_numbering_help() {
        let help = assert_rejected("0 22 * * 0", "0", 9, "day-of-week 0 is out of range 1-7");
        assert_eq!(
            help.as_deref(),
            Some(
                "Cloudflare numbers weekdays 1-7 from Sunday (1 = SUN, 7 = SAT); \
                 write `1` or `SUN` for Sunday"
            )
        );
        assert_rejected("0 0 * * 0-4", "0", 8, "day-of-week 0 is out of range 1-7");
    }

    #[test]
    fn huge_numbers_are_out_of_range() {
        assert_rejected(
            "99999999999999999999 * * * *",
            "99999999999999999999",
            0,
            "minute 99999999999999999999 is out of range 0-59",
        );
        assert_rejected(
            "0 0 * * 6#99999999999999999999",
            "99999999999999999999",
            10,
            "weekday occurrence `99999999999999999999` is out of range 1-5",
        );
    }

    // --- steps and ranges ----------------------------------------------------

    #[test]
    fn step_zero_is_rejected() {
        let help = assert_rejected("*/0 * * * *", "0", 2, "minute step 0 is not allowed");
        assert_eq!(
            help.as_deref(),
            Some("a step must be at least 1; `*/1` is the same as `*`")
        );
        assert_rejected("0 1-5/0 * * *", "0", 6, "hour step 0 is not allowed");
    }

    #[test]
    fn step_larger_than_the_field_is_rejected() {
        assert_rejected(
            "*/60 * * * *",
            "60",
            2,
            "minute step 60 is out of range 1-59",
        );
        assert_rejected("0 */24 * * *", "24", 4, "hour step 24 is out of range 1-23");
        assert_rejected(
            "0 0 */31 * *",
            "31",
            6,
            "day-of-month step 31 is out of range 1-30",
        );
        assert_rejected(
            "0 0 1 */12 *",
            "12",
            8,
            "month step 12 is out of range 1-11",
        );
        assert_rejected(
            "0 0 * * */7",
            "7",
            10,
            "day-of-week step 7 is out of range 1-6",
        );
        assert_rejected(
            "*/99999999999999999999 * * * *",
            "99999999999999999999",
            2,
            "minute step 99999999999999999999 is out of range 1-59",
        );
        assert_rejected("*/x * * * *", "x", 2, "minute step `x` is not a number");
    }

    #[test]
    fn backwards_range_is_rejected() {
        let help = assert_rejected(
            "0 9 * * 6-2",
            "6-2",
            8,
            "day-of-week range 6-2 starts after it ends",
        );
        assert_eq!(
            help.as_deref(),
            Some("ranges do not wrap around; write `6-7,1-2`")
        );
        let help = assert_rejected(
            "0 22-2 * * *",
            "22-2",
            2,
            "hour range 22-2 starts after it ends",
        );
        assert_eq!(
            help.as_deref(),
            Some("ranges do not wrap around; write `22-23,0-2`")
        );
        let help = assert_rejected(
            "0 0 * * SAT-MON",
            "SAT-MON",
            8,
            "day-of-week range SAT-MON starts after it ends",
        );
        assert_eq!(
            help.as_deref(),
            Some("ranges do not wrap around; write `SAT,SUN-MON`")
        );
        assert_rejected(
            "10-5/2 * * * *",
            "10-5",
            0,
            "minute range 10-5 starts after it ends",
        );
    }

    #[test]
    fn incomplete_ranges_and_steps_point_at_the_separator() {
        assert_rejected(
            "1- * * * *",
            "-",
            1,
            "missing end of minute range after `-`",
        );
        assert_rejected(
            "-1 * * * *",
            "-",
            0,
            "missing start of minute range before `-`",
        );
        assert_rejected("*/ * * * *", "/", 1, "missing step after `/`");
        let help = assert_rejected("/5 * * * *", "/", 0, "missing start before `/`");
        assert_eq!(
            help.as_deref(),
            Some("write `*/5` to step through the whole range")
        );
        assert_rejected("1,,2 * * * *", ",", 2, "empty entry in minute list");
        assert_rejected("1, * * * *", ",", 1, "empty entry in minute list");
        assert_rejected("1-2-3 * * * *", "-", 3, "unexpected `-` in minute field");
    }

    // --- field count -------------------------------------------------------

    #[test]
    fn wrong_field_count_spans_the_whole_string() {
        let expected = "expected 5 fields (minute hour day-of-month month day-of-week), found 4";
        assert_rejected("* * * *", "* * * *", 0, expected);
        assert_rejected(" * * * * ", " * * * * ", 0, expected);
        assert_rejected(
            "daily",
            "daily",
            0,
            "expected 5 fields (minute hour day-of-month month day-of-week), found 1",
        );
    }

    #[test]
    fn six_and_seven_fields_are_rejected_with_help() {
        let six = "expected 5 fields (minute hour day-of-month month day-of-week), found 6";
        let help = assert_rejected("0 */5 * * * *", "0 */5 * * * *", 0, six);
        assert_eq!(
            help.as_deref(),
            Some(
                "Cloudflare cron has no seconds field and fires at most once a minute; \
                 drop the leading seconds: `*/5 * * * *`"
            )
        );
        let help = assert_rejected("0 12 * * * 2030", "0 12 * * * 2030", 0, six);
        assert_eq!(
            help.as_deref(),
            Some("Cloudflare cron has no year field; drop it: `0 12 * * *`")
        );
        let help = assert_rejected(
            "0 0 12 * * ? 2030",
            "0 0 12 * * ? 2030",
            0,
            "expected 5 fields (minute hour day-of-month month day-of-week), found 7",
        );
        assert_eq!(
            help.as_deref(),
            Some("Cloudflare cron has no seconds or year fields; drop them: `0 12 * * *`")
        );
    }

    // --- characters and names ------------------------------------------------

    #[test]
    fn question_mark_is_rejected() {
        let help = assert_rejected(
            "0 0 ? * MON",
            "?",
            4,
            "unexpected `?` in day-of-month field",
        );
        assert_eq!(
            help.as_deref(),
            Some("Cloudflare does not accept `?`; write `*` instead")
        );
        assert_rejected("0 0 1 * ?", "?", 8, "unexpected `?` in day-of-week field");
    }

    #[test]
    fn unknown_names_and_stray_letters_are_rejected() {
        let help = assert_rejected(
            "0 0 * * MONDAY",
            "MONDAY",
            8,
            "unknown day-of-week name `MONDAY`",
        );
        assert_eq!(
            help.as_deref(),
            Some("use three-letter names: SUN MON TUE WED THU FRI SAT")
        );
        assert_rejected(
            "0 0 1 JANUARY *",
            "JANUARY",
            6,
            "unknown month name `JANUARY`",
        );
        assert_rejected("0 0 1 MON *", "MON", 6, "unknown month name `MON`");
        assert_rejected("0 noon * * *", "noon", 2, "unexpected `noon` in hour field");
        assert_rejected("5L * * * *", "L", 1, "unexpected `L` in minute field");
        assert_rejected("0 0 1 * 5W", "W", 9, "unexpected `W` in day-of-week field");
        assert_rejected(
            "0 0 1#2 * *",
            "#",
            5,
            "unexpected `#` in day-of-month field",
        );
        assert_rejected("*5 * * * *", "*", 0, "unexpected `*` in minute field");
        assert_rejected("0 ２ * * *", "２", 2, "unexpected `２` in hour field");
        assert_rejected(
            "0\u{a0}0 * * * *",
            "\u{a0}",
            1,
            "unexpected `\u{a0}` in minute field",
        );
    }

    #[test]
    fn star_cannot_join_a_list() {
        assert_rejected(
            "*,5 * * * *",
            "*",
            0,
            "`*` cannot be combined with other minute values",
        );
    }

    #[test]
    fn last_and_nearest_weekday_forms_are_checked() {
        assert_rejected("0 0 l * *", "l", 4, "lower-case `l` in day-of-month field");
        let help = assert_rejected(
            "0 0 15w * *",
            "w",
            6,
            "lower-case `w` in day-of-month field",
        );
        assert_eq!(
            help.as_deref(),
            Some("Cloudflare reads `L` and `W` only in upper case; write `15W`")
        );
        assert_rejected("0 0 * * 5l", "l", 9, "lower-case `l` in day-of-week field");
        assert_rejected(
            "0 0 L,15 * *",
            "L",
            4,
            "`L` cannot be combined with other day-of-month values",
        );
        assert_rejected(
            "0 0 * * 2,6#3",
            "6#3",
            10,
            "`6#3` cannot be combined with other day-of-week values",
        );
        assert_rejected(
            "0 0 * * 5L,2",
            "5L",
            8,
            "`5L` cannot be combined with other day-of-week values",
        );
        assert_rejected(
            "0 0 L-3 * *",
            "L-3",
            4,
            "`L-3` (days counted back from the month's end) is not supported",
        );
        assert_rejected("0 0 W * *", "W", 4, "missing day before `W`");
        assert_rejected(
            "0 0 * * L",
            "L",
            8,
            "`L` alone in day-of-week means Saturday to Cloudflare",
        );
        assert_rejected("0 0 * * 8L", "8", 8, "day-of-week 8 is out of range 1-7");
    }

    #[test]
    fn nth_weekday_is_checked() {
        assert_rejected(
            "0 9 * * 6#6",
            "6",
            10,
            "weekday occurrence `6` is out of range 1-5",
        );
        assert_rejected(
            "0 9 * * 6#0",
            "0",
            10,
            "weekday occurrence `0` is out of range 1-5",
        );
        assert_rejected("0 9 * * #3", "#", 8, "missing weekday before `#`");
        assert_rejected("0 9 * * 6#", "#", 9, "missing occurrence after `#`");
        assert_rejected("0 9 * * 0#1", "0", 8, "day-of-week 0 is out of range 1-7");
        assert_rejected("0 9 * * L#2", "L", 8, "unknown day-of-week name `L`");
    }

    // --- accepted cron expressions -------------------------------------------

    #[test]
    fn accepts_the_documented_forms() {
        assert_cron("*/15 * * * *", "*/15 * * * *");
        assert_cron("0 9 * * 2-6", "0 9 * * 2-6");
        assert_cron("0 0 L * *", "0 0 L * *");
        assert_cron("0 0 15W * *", "0 0 15W * *");
        assert_cron("0 9 * * 6#3", "0 9 * * 6#3");
        assert_cron("0 9 * * 5L", "0 9 * * 5L");
        assert_cron("0 0 1 JAN,JUL *", "0 0 1 JAN,JUL *");
        assert_cron("0 12 * * MON-FRI", "0 12 * * MON-FRI");
    }

    #[test]
    fn accepts_other_cloudflare_forms() {
        assert_cron("* * * * *", "* * * * *");
        assert_cron("59 23 LW * *", "59 23 LW * *");
        assert_cron("0 18 * * friL", "0 18 * * friL");
        assert_cron("0 10 * * mon#2", "0 10 * * mon#2");
        assert_cron("0 17 * * sun", "0 17 * * sun");
        assert_cron("*/15,30-59/10 0 * * *", "*/15,30-59/10 0 * * *");
        assert_cron("5/15 * * * *", "5/15 * * * *");
        assert_cron(
            "0 0 1-31/2 jan-dec/3 SUN-SAT/2",
            "0 0 1-31/2 jan-dec/3 SUN-SAT/2",
        );
        assert_cron("0 0 31 12 7", "0 0 31 12 7");
        assert_cron("0 0 05 * *", "0 0 05 * *");
    }

    #[test]
    fn normalises_whitespace() {
        assert_cron("  0\t9  *   * \t MON-FRI \n", "0 9 * * MON-FRI");
        let err = rejected("  0 25 * * *");
        assert_eq!((err.start, err.end), (4, 6));
    }

    // --- macros --------------------------------------------------------------

    #[test]
    fn accepts_macros() {
        let cases = [
            ("@hourly", "0 * * * *"),
            ("@daily", "0 0 * * *"),
            ("@weekly", "0 0 * * SUN"),
            ("@monthly", "0 0 1 * *"),
            ("@yearly", "0 0 1 1 *"),
            ("@annually", "0 0 1 1 *"),
        ];
        for (name, cron) in cases {
            let expected = Schedule::Macro {
                name: name.to_string(),
                cron: cron.to_string(),
            };
            assert_eq!(parse_schedule(name), Ok(expected.clone()));
            assert_eq!(
                parse_schedule(&format!(" {} ", name.to_uppercase())),
                Ok(expected)
            );
            assert_cron(cron, cron);
        }
    }

    #[test]
    fn unknown_macro_is_rejected() {
        let help = assert_rejected("@reboot", "@reboot", 0, "unknown schedule macro `@reboot`");
        assert_eq!(
            help.as_deref(),
            Some(
                "Cloudflare Cron Triggers have no start-up trigger; \
                 run the job on a schedule instead"
            )
        );
        let help = assert_rejected(
            "@fortnightly",
            "@fortnightly",
            0,
            "unknown schedule macro `@fortnightly`",
        );
        assert_eq!(
            help.as_deref(),
            Some(
                "use one of @hourly, @daily, @weekly, @monthly, @yearly, @annually, \
                 or write a 5-field cron expression"
            )
        );
        assert_rejected("@", "@", 0, "unknown schedule macro `@`");
        assert_rejected("@daily now", "now", 7, "unexpected text after `@daily`");
        assert_rejected("@every 5m", "@every", 0, "`@every` is not a schedule macro");
    }

    // --- intervals -----------------------------------------------------------

    #[test]
    fn accepts_intervals() {
        let cases = [
            ("every 5m", 300, "*/5 * * * *"),
            ("every 2h", 7200, "0 */2 * * *"),
            ("every 1d", 86_400, "0 0 * * *"),
            ("every 1m", 60, "* * * * *"),
            ("every 30m", 1800, "*/30 * * * *"),
            ("every 60m", 3600, "0 * * * *"),
            ("every 120m", 7200, "0 */2 * * *"),
            ("every 12h", 43_200, "0 */12 * * *"),
            ("every 24h", 86_400, "0 0 * * *"),
            ("every 7d", 604_800, "0 0 * * SUN"),
            ("  EVERY  15m ", 900, "*/15 * * * *"),
        ];
        for (text, interval_secs, cron) in cases {
            assert_eq!(
                parse_schedule(text),
                Ok(Schedule::Every {
                    interval_secs,
                    cron: cron.to_string()
                }),
                "{text}"
            );
        }
    }

    #[test]
    fn interval_that_does_not_divide_an_hour_is_rejected() {
        let help = assert_rejected(
            "every 7m",
            "7m",
            6,
            "`every 7m` cannot be written as one cron line: \
             7 minutes does not divide evenly into an hour",
        );
        assert_eq!(
            help.as_deref(),
            Some("the nearest intervals that fit are `every 6m` and `every 10m`")
        );
        let help = assert_rejected(
            "every 90m",
            "90m",
            6,
            "`every 90m` cannot be written as one cron line: \
             90 minutes is not a whole number of hours",
        );
        assert_eq!(
            help.as_deref(),
            Some("the nearest intervals that fit are `every 1h` and `every 2h`")
        );
        let help = assert_rejected(
            "every 5h",
            "5h",
            6,
            "`every 5h` cannot be written as one cron line: \
             5 hours does not divide evenly into a day",
        );
        assert_eq!(
            help.as_deref(),
            Some("the nearest intervals that fit are `every 4h` and `every 6h`")
        );
        let help = assert_rejected(
            "every 2d",
            "2d",
            6,
            "`every 2d` cannot be written as one cron line: \
             2 days does not repeat evenly through months of 28-31 days",
        );
        assert_eq!(
            help.as_deref(),
            Some("the nearest intervals that fit are `every 1d` and `every 7d`")
        );
        let help = assert_rejected(
            "every 30d",
            "30d",
            6,
            "`every 30d` cannot be written as one cron line: \
             30 days does not repeat evenly through months of 28-31 days",
        );
        assert_eq!(
            help.as_deref(),
            Some("the nearest interval that fits is `every 7d`")
        );
    }

    #[test]
    fn seconds_are_rejected() {
        let message = "Cloudflare Cron Triggers fire at most once a minute; \
                       intervals in seconds are not supported";
        let help = assert_rejected("every 30s", "30s", 6, message);
        assert_eq!(
            help.as_deref(),
            Some("the nearest interval that fits is `every 1m`")
        );
        let help = assert_rejected("every 120s", "120s", 6, message);
        assert_eq!(help.as_deref(), Some("write `every 2m`"));
    }

    #[test]
    fn malformed_intervals_are_rejected() {
        assert_rejected("every", "every", 0, "missing interval after `every`");
        assert_rejected("every 5", "5", 6, "missing unit after `5`");
        let help = assert_rejected(
            "every 5 minutes",
            "minutes",
            8,
            "unknown interval unit `minutes`",
        );
        assert_eq!(help.as_deref(), Some("write `every 5m`"));
        let help = assert_rejected(
            "every 5minutes",
            "minutes",
            7,
            "unknown interval unit `minutes`",
        );
        assert_eq!(help.as_deref(), Some("write `every 5m`"));
        assert_rejected(
            "every 5 m",
            "m",
            8,
            "unexpected space between `5` and its unit",
        );
        assert_rejected("every 5w", "w", 7, "unknown interval unit `w`");
        assert_rejected(
            "every m",
            "m",
            6,
            "expected a number after `every`, found `m`",
        );
        assert_rejected("every 0m", "0m", 6, "an interval of 0 never repeats");
        assert_rejected(
            "every 99999999999999999999m",
            "99999999999999999999m",
            6,
            "interval `99999999999999999999m` is too large",
        );
        assert_rejected(
            "every 9999999999999999d",
            "9999999999999999d",
            6,
            "`every 9999999999999999d` cannot be written as one cron line: \
             9999999999999999 days does not repeat evenly through months of 28-31 days",
        );
    }

    // --- dates that do not exist ------------------------------------------------

    #[test]
    fn a_day_no_month_has_never_fires() {
        let help = assert_rejected(
            "0 0 31 2 *",
            "31 2",
            4,
            "it never fires: February has no day 31",
        );
        assert_eq!(
            help.as_deref(),
            Some("write `L` for the last day of the month")
        );
        assert_rejected(
            "0 0 30,31 FEB *",
            "30,31 FEB",
            4,
            "it never fires: February has none of the days 30,31",
        );
        assert_rejected(
            "0 0 31 4,6,9-11/2 *",
            "31 4,6,9-11/2",
            4,
            "it never fires: April, June, September and November have no day 31",
        );
    }

    #[test]
    fn a_day_some_month_has_fires() {
        assert_cron("0 0 29 2 *", "0 0 29 2 *"); // leap years
        assert_cron("0 0 31 2,3 *", "0 0 31 2,3 *");
        assert_cron("0 0 30,31 2-4 *", "0 0 30,31 2-4 *");
        assert_cron("0 0 31 2 MON", "0 0 31 2 MON"); // Mondays in February
        assert_cron("0 0 L 2 *", "0 0 L 2 *");
        assert_cron("0 0 31 */2 *", "0 0 31 */2 *");
    }

    // --- empty input and the second opinion ----------------------------------

    #[test]
    fn empty_schedule_is_rejected() {
        assert_rejected("", "", 0, "empty schedule");
        assert_rejected(" \t\n", " \t\n", 0, "empty schedule");
    }

    #[test]
    fn croner_rejection_spans_the_whole_string() {
        let text = "0 0 * * 0 # as written";
        let err = match second_opinion("0 0 * * 0", text) {
            Err(err) => err,
            Ok(()) => panic!("croner accepted weekday 0 with Quartz numbering"),
        };
        assert_eq!((err.start, err.end), (0, text.len()));
        assert!(
            err.message.starts_with("croner rejects `0 0 * * 0`: "),
            "{}",
            err.message
        );
    }

    #[test]
    fn croner_reads_weekdays_the_way_cloudflare_does() {
        // croner reports weekdays with 0 = Sunday whatever numbering it parsed.
        for text in [
            "0 9 * * MON-FRI",
            "0 9 * * 2-6",
            "0 9 * * mon,tue,wed,thu,fri",
        ] {
            match cloudflare_parser().parse(text) {
                Ok(cron) => assert_eq!(cron.pattern.days_of_week.values(), vec![1, 2, 3, 4, 5]),
                Err(err) => panic!("croner rejected `{text}`: {err}"),
            }
        }
        match cloudflare_parser().parse("0 0 * * 1") {
            Ok(cron) => assert_eq!(cron.pattern.days_of_week.values(), vec![0]),
            Err(err) => panic!("croner rejected `0 0 * * 1`: {err}"),
        }
    }

    #[test]
    fn every_generated_cron_line_is_valid() {
        let intervals = INTERVALS.iter().map(|(_, cron)| *cron);
        let macros = MACROS.iter().map(|(_, cron)| *cron);
        for cron in intervals.chain(macros) {
            assert_cron(cron, cron);
        }
        assert!(INTERVALS.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn display_includes_the_help() {
        let err = rejected("*/15 25 * * *");
        assert_eq!(err.to_string(), "hour 25 is out of range 0-23 (bytes 5..7)");
        let err = rejected("every 30s");
        assert!(
            err.to_string()
                .ends_with("; help: the nearest interval that fits is `every 1m`")
        );
    }

    // --- no input panics -------------------------------------------------------

    /// Checks the invariants of any answer: spans lie on character boundaries
    /// inside the input, and an accepted cron line reads back unchanged.
    fn check_invariants(text: &str) {
        match parse_schedule(text) {
            Err(err) => {
                assert!(
                    err.start <= err.end && err.end <= text.len(),
                    "{text:?}: {err:?}"
                );
                assert!(text.is_char_boundary(err.start), "{text:?}: {err:?}");
                assert!(text.is_char_boundary(err.end), "{text:?}: {err:?}");
                assert!(!err.message.is_empty());
            }
            Ok(Schedule::Cron(cron)) => {
                assert_eq!(
                    parse_schedule(&cron),
                    Ok(Schedule::Cron(cron.clone())),
                    "{text:?}"
                );
            }
            Ok(Schedule::Macro { cron, .. } | Schedule::Every { cron, .. }) => {
                assert_eq!(
                    parse_schedule(&cron),
                    Ok(Schedule::Cron(cron.clone())),
                    "{text:?}"
                );
            }
        }
    }

    #[test]
    fn weird_strings_do_not_panic() {
        let weird = [
            "",
            " ",
            "\t\n",
            "\u{a0}",
            "\u{feff}",
            "é",
            "日本語",
            "🦀 🦀 🦀 🦀 🦀",
            "* * * * * * * * * * *",
            "99999999999999999999",
            "99999999999999999999 * * * *",
            "*/",
            "1-",
            "-",
            "/",
            ",",
            "#",
            "L#",
            "#L",
            "L",
            "W",
            "LW",
            "L-",
            "L-W",
            "L-99",
            "0 0 * * #",
            "0 0 * * L#",
            "0 0 * * #L",
            "0 0 * * 1#",
            "0 0 * * 1#1#1",
            "0 0 * * -L",
            "0 0 W * *",
            "0 0 LW, * *",
            "0 0 ,L * *",
            "0 0 1-W * *",
            "*/0/0 * * * *",
            "*-* * * * *",
            "*/* * * * *",
            "1-2/3-4 * * * *",
            "@",
            "@@",
            "@ daily",
            "@daily@",
            "every",
            "every ",
            "every -5m",
            "every 5",
            "every m5",
            "every 5é",
            "every é",
            "every 99999999999999999999999s",
            "every 18446744073709551615d",
            "every 18446744073709551616m",
            "0 0 * * MON-",
            "0 0 * * -MON",
            "0 0 * JAN-FOO *",
            "é * * * *",
            "* é * * *",
            "* * é * *",
            "* * * é *",
            "* * * * é",
            "* * * * 5é",
            "* * * * é#1",
            "* * * * 1#é",
            "* * éW * *",
            "* * lé * *",
            "0 0 * * ŀ",
        ];
        for text in weird {
            check_invariants(text);
        }
    }

    #[test]
    fn generated_strings_do_not_panic() {
        let pieces = [
            "*",
            "/",
            "-",
            ",",
            "#",
            "L",
            "W",
            "l",
            "w",
            "?",
            "0",
            "1",
            "5",
            "7",
            "15",
            "31",
            "60",
            "99999999999999999999",
            "MON",
            "fri",
            "JAN",
            "dec",
            " ",
            "  ",
            "\t",
            "é",
            "\u{a0}",
            "@",
            "@daily",
            "every ",
            "m",
            "s",
            "h",
            "d",
        ];
        // A small linear congruential generator keeps the test deterministic.
        let mut state: u64 = 0x5eed;
        let mut next = move |bound: usize| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(state >> 33).unwrap_or(0) % bound
        };
        for _ in 0..20_000 {
            let len = next(14);
            let text: String = (0..len).map(|_| pieces[next(pieces.len())]).collect();
            check_invariants(&text);
            // Also shape it like five fields, which reaches the per-field checks.
            let fields: Vec<String> = (0..5)
                .map(|_| (0..1 + next(3)).map(|_| pieces[next(20)]).collect())
                .collect();
            check_invariants(&fields.join(" "));
        }
    }
}
