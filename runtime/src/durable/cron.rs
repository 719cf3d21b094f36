//! Job schedules: when a cron expression fires next, read the way
//! Cloudflare Cron Triggers read it, in UTC.
//!
//! Why it exists: svcc deploys a manifest's `jobs:` as Cloudflare Cron
//! Triggers, and the same manifest runs locally under the runtime's
//! scheduler (`jobs.rs`); both must fire at the same minutes. Cloudflare's
//! dialect is not the Unix one (weekdays are numbered 1-7 from Sunday, so
//! `0 0 * * 1` is a Sunday), and no maintained crate reads it exactly:
//! Cloudflare's own parser, `saffron`, was last released in 2021 (chrono
//! 0.4, nom 5), and `croner` (which the compiler asks for a second opinion)
//! has its own rules for the Quartz forms. So this is a small evaluator of
//! exactly what the compiler accepts (`compiler/core/src/check/cron.rs`),
//! with saffron's semantics:
//!
//! * five fields, `minute hour day-of-month month day-of-week`, each `*`,
//!   a list `a,b`, a range `a-b`, a step `*/n`, `a/n` (from `a` to the
//!   field's end) or `a-b/n`; a range whose start comes after its end wraps
//!   around (`FRI-MON`), as in saffron (the compiler asks for a list);
//! * month names `JAN`-`DEC`, weekday names `SUN`-`SAT`, any case;
//! * Quartz weekday numbering: `1` = Sunday … `7` = Saturday;
//! * day-of-month `L` (last day), `LW` (last weekday), `15W` (the weekday
//!   nearest the 15th, within the month); day-of-week `5L` (the last
//!   Thursday) and `6#3` (the third Friday), each as the whole field;
//! * a day matches when day-of-month and day-of-week both match, except
//!   that when both are restricted (neither is `*`) either one is enough
//!   (Vixie cron's rule, and saffron's);
//! * the svcc shorthands: `@hourly`, `@daily`, `@weekly` (Sunday 00:00),
//!   `@monthly`, `@yearly`/`@annually`, and `every 5m`/`2h`/`1d`/`7d` for
//!   the intervals one cron line repeats exactly (the compiler's table).
//!
//! One quirk is kept on purpose because Cloudflare has it: `nW` for a day
//! the month does not have (`31W` in April) fires on the month's last day
//! when that is a Friday (saffron's "Friday before a Saturday" rule), and
//! not otherwise.
//!
//! Times are milliseconds since the Unix epoch; schedules have minute
//! resolution, and [`Schedule::next_after`] is strictly after its argument.

use std::fmt;

/// A parsed schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    text: String,
    cron: String,
    minutes: u64,
    hours: u32,
    /// Bit `m` for month `m` (1-12).
    months: u16,
    dom: DayOfMonth,
    dow: DayOfWeek,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DayOfMonth {
    Star,
    /// Bit `d` for day `d` (1-31).
    Days(u32),
    Last,
    LastWeekday,
    Nearest(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DayOfWeek {
    Star,
    /// Bit `w` for weekday `w`, 0 = Sunday.
    Days(u8),
    /// The last weekday `w` (0 = Sunday) of the month.
    Last(u32),
    /// The `n`-th weekday `w` (0 = Sunday) of the month.
    Nth(u32, u32),
}

/// Why a schedule was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronError(pub String);

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CronError {}

fn err<T>(schedule: &str, why: impl fmt::Display) -> Result<T, CronError> {
    Err(CronError(format!("schedule `{schedule}`: {why}")))
}

const MACROS: [(&str, &str); 6] = [
    ("@hourly", "0 * * * *"),
    ("@daily", "0 0 * * *"),
    ("@weekly", "0 0 * * SUN"),
    ("@monthly", "0 0 1 * *"),
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
];

/// The intervals one cron line repeats exactly, in minutes (the compiler's
/// table in `check/cron.rs`).
const INTERVALS: [(u64, &str); 20] = [
    (1, "* * * * *"),
    (2, "*/2 * * * *"),
    (3, "*/3 * * * *"),
    (4, "*/4 * * * *"),
    (5, "*/5 * * * *"),
    (6, "*/6 * * * *"),
    (10, "*/10 * * * *"),
    (12, "*/12 * * * *"),
    (15, "*/15 * * * *"),
    (20, "*/20 * * * *"),
    (30, "*/30 * * * *"),
    (60, "0 * * * *"),
    (120, "0 */2 * * *"),
    (180, "0 */3 * * *"),
    (240, "0 */4 * * *"),
    (360, "0 */6 * * *"),
    (480, "0 */8 * * *"),
    (720, "0 */12 * * *"),
    (1440, "0 0 * * *"),
    (10080, "0 0 * * SUN"),
];

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Schedule {
    /// Parses a job's `schedule:` as the manifest writes it: a 5-field cron
    /// line, a macro (`@daily`) or an interval (`every 5m`).
    pub fn parse(text: &str) -> Result<Schedule, CronError> {
        let body = text.trim();
        let lower = body.to_ascii_lowercase();
        let cron = if lower.starts_with('@') {
            match MACROS.iter().find(|(name, _)| *name == lower) {
                Some((_, cron)) => (*cron).to_string(),
                None => return err(text, "unknown macro"),
            }
        } else if let Some(rest) = lower.strip_prefix("every") {
            every(text, rest.trim())?.to_string()
        } else {
            body.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
        };
        let mut schedule = parse_cron(text, &cron)?;
        schedule.text = body.to_string();
        Ok(schedule)
    }

    /// The schedule as written (trimmed).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The 5-field cron line it stands for.
    pub fn cron(&self) -> &str {
        &self.cron
    }

    /// Whether the schedule fires in the minute holding `t_ms`.
    pub fn matches(&self, t_ms: i64) -> bool {
        let minute = t_ms.div_euclid(60_000);
        let days = minute.div_euclid(1440);
        let in_day = minute.rem_euclid(1440) as u32;
        let (y, m, d) = civil_from_days(days);
        self.months & (1 << m) != 0
            && self.day_matches(y, m, d)
            && self.hours & (1 << (in_day / 60)) != 0
            && self.minutes & (1 << (in_day % 60)) != 0
    }

    /// The first time the schedule fires strictly after `t_ms` (a whole
    /// minute), or `None` when it never fires again (`0 0 31 2 *`; the
    /// search gives up after 30 years).
    pub fn next_after(&self, t_ms: i64) -> Option<i64> {
        let mut minute = t_ms.div_euclid(60_000) + 1;
        let limit = minute + 30 * 366 * 1440;
        while minute <= limit {
            let days = minute.div_euclid(1440);
            let in_day = minute.rem_euclid(1440) as u32;
            let (y, m, d) = civil_from_days(days);
            if self.months & (1 << m) == 0 {
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                minute = days_from_civil(ny, nm, 1) * 1440;
                continue;
            }
            if !self.day_matches(y, m, d) {
                minute = (days + 1) * 1440;
                continue;
            }
            let hour = in_day / 60;
            let later_hours = self.hours >> hour;
            if later_hours == 0 {
                minute = (days + 1) * 1440;
                continue;
            }
            let h = hour + later_hours.trailing_zeros();
            if h != hour {
                minute = days * 1440 + i64::from(h) * 60;
                continue;
            }
            let later_minutes = self.minutes >> (in_day % 60);
            if later_minutes == 0 {
                minute = days * 1440 + i64::from(hour + 1) * 60;
                continue;
            }
            return Some((minute + i64::from(later_minutes.trailing_zeros())) * 60_000);
        }
        None
    }

    fn day_matches(&self, y: i64, m: u32, d: u32) -> bool {
        let dim = days_in_month(y, m);
        let wd = weekday(days_from_civil(y, m, d));
        let dom = || match self.dom {
            DayOfMonth::Star => true,
            DayOfMonth::Days(bits) => bits & (1 << d) != 0,
            DayOfMonth::Last => d == dim,
            DayOfMonth::LastWeekday => (is_weekday(wd) && d == dim) || (wd == FRI && dim - d < 3),
            DayOfMonth::Nearest(e) => {
                (is_weekday(wd) && d == e)
                    || (wd == MON && d - 1 == e)
                    || (wd == MON && d == 3 && e == 1)
                    || (wd == FRI && d + 1 == e)
                    || (wd == FRI && d + 2 == e && e == dim)
            }
        };
        let dow = || match self.dow {
            DayOfWeek::Star => true,
            DayOfWeek::Days(bits) => bits & (1 << wd) != 0,
            DayOfWeek::Last(w) => wd == w && d + 7 > dim,
            DayOfWeek::Nth(w, n) => wd == w && (d - 1) / 7 + 1 == n,
        };
        match (self.dom == DayOfMonth::Star, self.dow == DayOfWeek::Star) {
            (true, true) => true,
            (true, false) => dow(),
            (false, true) => dom(),
            (false, false) => dom() || dow(),
        }
    }
}

const MON: u32 = 1;
const FRI: u32 = 5;

fn is_weekday(wd: u32) -> bool {
    (MON..=FRI).contains(&wd)
}

/// `every 5m` as a cron line.
fn every(text: &str, interval: &str) -> Result<&'static str, CronError> {
    let digits = interval.bytes().take_while(u8::is_ascii_digit).count();
    let (count, unit) = interval.split_at(digits);
    let Ok(n) = count.parse::<u64>() else {
        return err(text, "expected an interval such as `every 5m`");
    };
    let minutes = match unit {
        "m" => n,
        "h" => n.saturating_mul(60),
        "d" => n.saturating_mul(1440),
        _ => return err(text, "an interval's unit is `m`, `h` or `d`"),
    };
    match INTERVALS.iter().find(|(m, _)| *m == minutes) {
        Some((_, cron)) => Ok(cron),
        None => err(
            text,
            "the interval is not one that a cron line repeats exactly",
        ),
    }
}

fn parse_cron(text: &str, cron: &str) -> Result<Schedule, CronError> {
    let fields: Vec<&str> = cron.split(' ').collect();
    let &[minute, hour, dom, month, dow] = fields.as_slice() else {
        return err(
            text,
            format!(
                "expected 5 fields (minute hour day-of-month month day-of-week), found {}",
                fields.len()
            ),
        );
    };
    Ok(Schedule {
        text: String::new(),
        cron: cron.to_string(),
        minutes: list(text, minute, 0, 59, &[])?,
        hours: list(text, hour, 0, 23, &[])? as u32,
        dom: day_of_month(text, dom)?,
        months: list(text, month, 1, 12, &MONTHS)? as u16,
        dow: day_of_week(text, dow)?,
    })
}

fn day_of_month(text: &str, field: &str) -> Result<DayOfMonth, CronError> {
    if field == "*" {
        return Ok(DayOfMonth::Star);
    }
    if field == "L" {
        return Ok(DayOfMonth::Last);
    }
    if field == "LW" {
        return Ok(DayOfMonth::LastWeekday);
    }
    if let Some(day) = field.strip_suffix('W') {
        return Ok(DayOfMonth::Nearest(value(text, day, 1, 31, &[])?));
    }
    Ok(DayOfMonth::Days(list(text, field, 1, 31, &[])? as u32))
}

fn day_of_week(text: &str, field: &str) -> Result<DayOfWeek, CronError> {
    if field == "*" {
        return Ok(DayOfWeek::Star);
    }
    if let Some((day, nth)) = field.split_once('#') {
        let day = value(text, day, 1, 7, &WEEKDAYS)? - 1;
        let nth = value(text, nth, 1, 5, &[])?;
        return Ok(DayOfWeek::Nth(day, nth));
    }
    if let Some(day) = field.strip_suffix('L') {
        return Ok(DayOfWeek::Last(value(text, day, 1, 7, &WEEKDAYS)? - 1));
    }
    // Quartz numbering (1 = Sunday) to bit 0 = Sunday.
    Ok(DayOfWeek::Days(
        (list(text, field, 1, 7, &WEEKDAYS)? >> 1) as u8,
    ))
}

/// A list of `*`, values, ranges and steps, as bits (bit `v` for value `v`).
fn list(text: &str, field: &str, min: u32, max: u32, names: &[&str]) -> Result<u64, CronError> {
    let mut bits = 0u64;
    for item in field.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => (base, Some(value(text, step, 1, max - min, &[])?)),
            None => (item, None),
        };
        let (low, high) = if base == "*" {
            (min, max)
        } else if let Some((low, high)) = base.split_once('-') {
            (
                value(text, low, min, max, names)?,
                value(text, high, min, max, names)?,
            )
        } else {
            let v = value(text, base, min, max, names)?;
            // `a/n` runs from `a` to the field's end.
            (v, if step.is_some() { max } else { v })
        };
        let values: Vec<u32> = if low <= high {
            (low..=high).collect()
        } else {
            (low..=max).chain(min..=high).collect()
        };
        for v in values.into_iter().step_by(step.unwrap_or(1) as usize) {
            bits |= 1 << v;
        }
    }
    Ok(bits)
}

/// A number in `min..=max`, or a name (`names[0]` stands for `min`).
fn value(text: &str, s: &str, min: u32, max: u32, names: &[&str]) -> Result<u32, CronError> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return match s.parse::<u32>() {
            Ok(v) if (min..=max).contains(&v) => Ok(v),
            _ => err(text, format!("`{s}` is out of range {min}-{max}")),
        };
    }
    match names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
        Some(i) => Ok(min + i as u32),
        None => err(text, format!("unexpected `{s}`")),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day since 1970-01-01 (`civil_from_days`).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// 0 = Sunday.
fn weekday(days: i64) -> u32 {
    // 1970-01-01 was a Thursday.
    (days + 4).rem_euclid(7) as u32
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}
