//! Job schedules: when a canonical cron line fires next, read the way
//! Cloudflare Cron Triggers read it, in UTC.
//!
//! Why it exists: svcc deploys a manifest's `jobs:` as Cloudflare Cron
//! Triggers, and the same manifest runs locally under the runtime's
//! scheduler (`jobs.rs`); both must fire at the same minutes. Cloudflare's
//! dialect is not the Unix one (weekdays are numbered 1-7 from Sunday, so
//! `0 0 * * 1` is a Sunday), and no maintained crate reads it exactly:
//! Cloudflare's own parser, `saffron`, was last released in 2021 (chrono
//! 0.4, nom 5), and `croner` (which the compiler asks for a second opinion)
//! has its own rules for the Quartz forms. So this is a small evaluator
//! with saffron's semantics.
//!
//! It reads only canonical lines: what the compiler's schedule parser
//! (`compiler/core/src/syntax/cron.rs`) checked and wrote into the
//! generated `JobSpec` as its `cron`, the same line the wrangler config
//! deploys. The svcc shorthands (`@daily`, `every 5m`) are expanded there
//! and exist nowhere else; the compiler's messages explain a bad schedule,
//! so a line this refuses only gets a short reason. A canonical line is:
//!
//! * five fields, `minute hour day-of-month month day-of-week`, one space
//!   apart, each `*`, a list `a,b`, a range `a-b`, a step `*/n`, `a/n`
//!   (from `a` to the field's end) or `a-b/n`; a range runs upwards (the
//!   compiler asks for `FRI-SAT,SUN-MON`, not `FRI-MON`) and `*` stands
//!   alone;
//! * month names `JAN`-`DEC`, weekday names `SUN`-`SAT`, any case;
//! * Quartz weekday numbering: `1` = Sunday … `7` = Saturday;
//! * day-of-month `L` (last day), `LW` (last weekday), `15W` (the weekday
//!   nearest the 15th, within the month); day-of-week `5L` (the last
//!   Thursday) and `6#3` (the third Friday), each as the whole field;
//! * a day matches when day-of-month and day-of-week both match, except
//!   that when both are restricted (neither is `*`) either one is enough
//!   (Vixie cron's rule, and saffron's).
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

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Schedule {
    /// Parses a canonical cron line (see the module's documentation).
    pub fn parse(cron: &str) -> Result<Schedule, CronError> {
        if cron.split(' ').any(str::is_empty)
            || cron.contains(|c: char| c.is_whitespace() && c != ' ')
        {
            return err(
                cron,
                "not a canonical line: fields are one space apart, with none before or after",
            );
        }
        parse_cron(cron)
    }

    /// The cron line.
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

fn parse_cron(cron: &str) -> Result<Schedule, CronError> {
    let fields: Vec<&str> = cron.split(' ').collect();
    let &[minute, hour, dom, month, dow] = fields.as_slice() else {
        return err(
            cron,
            format!(
                "expected 5 fields (minute hour day-of-month month day-of-week), found {}",
                fields.len()
            ),
        );
    };
    Ok(Schedule {
        cron: cron.to_string(),
        minutes: list(cron, minute, 0, 59, &[])?,
        hours: list(cron, hour, 0, 23, &[])? as u32,
        dom: day_of_month(cron, dom)?,
        months: list(cron, month, 1, 12, &MONTHS)? as u16,
        dow: day_of_week(cron, dow)?,
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
        if item == "*" && field != item {
            return err(
                text,
                format!("`*` cannot be combined with other values in `{field}`"),
            );
        }
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
        if low > high {
            return err(text, format!("the range `{base}` starts after it ends"));
        }
        for v in (low..=high).step_by(step.unwrap_or(1) as usize) {
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
