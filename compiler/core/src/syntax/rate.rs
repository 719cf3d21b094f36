//! Rates: `100/min`, `5/s`, `1000/day`, with an optional `per user|ip|key|global`.

use super::{SyntaxError, from_pest};
use pest::Parser;
use pest_derive::Parser;

#[derive(Parser)]
#[grammar = "syntax/rate.pest"]
struct RateParser;

/// Whose requests a rate counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Each authenticated user.
    User,
    /// Each client address.
    Ip,
    /// Each API key (the default).
    Key,
    /// Everyone together.
    Global,
}

/// A parsed rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Requests allowed per window: at most `u32::MAX`, what the runtime's
    /// limiter counts (a larger count is an error, not a clamp).
    pub count: u32,
    /// Window length in seconds.
    pub window_secs: u64,
    /// Whose requests count; `None` means the default (per key).
    pub scope: Option<Scope>,
}

impl Rate {
    /// Requests per second, for comparing rates with different windows.
    pub fn per_second(&self) -> f64 {
        f64::from(self.count) / self.window_secs.max(1) as f64
    }
}

/// Parses a rate.
pub fn parse(text: &str) -> Result<Rate, SyntaxError> {
    let pairs = RateParser::parse(Rule::rate, text).map_err(|e| {
        from_pest(&e, text, "rate", |r| match r {
            Rule::count => Some("a count (a whole number above 0)"),
            Rule::slash => Some("`/`"),
            Rule::per => Some("`per`"),
            Rule::unit => Some("a unit (s, min, h, day)"),
            Rule::scope => Some("a scope (user, ip, key, global)"),
            Rule::EOI => Some("the end"),
            _ => None,
        })
        .help(help_for(text))
    })?;
    let mut rate = Rate {
        count: 0,
        window_secs: 1,
        scope: None,
    };
    for pair in pairs.flatten() {
        match pair.as_rule() {
            Rule::count => {
                rate.count = pair.as_str().parse().map_err(|_| {
                    let r = pair.as_span();
                    SyntaxError::new(
                        r.start()..r.end(),
                        "invalid rate: count too large",
                        format!("more than {}", u32::MAX),
                    )
                    .help(format!(
                        "a limit counts at most {} requests per window: write it per \
                         a shorter window (`/h`, `/min`, `/s`), or leave the limit out",
                        u32::MAX
                    ))
                })?;
            }
            Rule::unit => {
                rate.window_secs = match pair.as_str() {
                    "s" => 1,
                    "min" => 60,
                    "h" => 3_600,
                    _ => 86_400,
                };
            }
            Rule::scope => {
                rate.scope = Some(match pair.as_str() {
                    "user" => Scope::User,
                    "ip" => Scope::Ip,
                    "key" => Scope::Key,
                    _ => Scope::Global,
                });
            }
            _ => {}
        }
    }
    Ok(rate)
}

/// The help line of a rate that does not parse: the rate meant, where the
/// text says it another way (`1000 per day`, `10/minute`), else the form.
fn help_for(text: &str) -> String {
    let lower = text.trim().to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "unlimited" | "none" | "no limit" | "infinite" | "infinity"
    ) {
        return "for no limit, leave the rate out".to_string();
    }
    match respelt(&lower) {
        Some(rate) => format!("did you mean `{rate}`?"),
        None => "write `N/unit` with unit s, min, h or day, optionally `per user|ip|key|global`: `10/min per user`".to_string(),
    }
}

/// `1000 per day`, `10/minute`, `5 / sec`, `100 requests/hour per user`
/// written as a rate (`1000/day`, `10/min`, ...), when that is what they say.
fn respelt(text: &str) -> Option<String> {
    let (head, scope) = match text.split_once(" per ") {
        Some((head, tail)) if parse_scope(tail.trim()).is_some() => (head, Some(tail.trim())),
        _ => (text, None),
    };
    let digits = head
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()?;
    let count: u64 = digits.parse().ok().filter(|n| *n > 0)?;
    let rest = head.trim_start()[digits.len()..].trim_start();
    let rest = rest
        .strip_prefix("requests")
        .or_else(|| rest.strip_prefix("request"))
        .or_else(|| rest.strip_prefix("calls"))
        .unwrap_or(rest)
        .trim_start();
    let unit = rest
        .strip_prefix('/')
        .or_else(|| rest.strip_prefix("per "))
        .or_else(|| rest.strip_prefix("a "))?
        .trim();
    let unit = match unit
        .strip_suffix('s')
        .filter(|u| u.len() > 1)
        .unwrap_or(unit)
    {
        "s" | "sec" | "second" => "s",
        "m" | "min" | "minute" => "min",
        "h" | "hr" | "hour" => "h",
        "d" | "day" => "day",
        _ => return None,
    };
    let rate = format!("{count}/{unit}");
    let rate = match scope {
        Some(scope) => format!("{rate} per {scope}"),
        None => rate,
    };
    parse(&rate).is_ok().then_some(rate)
}

/// A scope's name, as the grammar spells it.
fn parse_scope(text: &str) -> Option<&str> {
    ["user", "ip", "key", "global"]
        .into_iter()
        .find(|s| *s == text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates() {
        let r = parse("10/min per user").unwrap();
        assert_eq!(
            (r.count, r.window_secs, r.scope),
            (10, 60, Some(Scope::User))
        );
        assert_eq!(parse("1000/day").unwrap().window_secs, 86_400);
    }

    #[test]
    fn errors_point_at_the_character() {
        assert_eq!(parse("10/minute").unwrap_err().range, 3..4);
        assert_eq!(parse("10/min per team").unwrap_err().range, 11..12);
        assert_eq!(parse("0/s").unwrap_err().range, 0..1);
    }

    #[test]
    fn the_help_gives_the_rate_meant() {
        let help = |text: &str| parse(text).unwrap_err().help.unwrap();
        assert_eq!(help("1000 per day"), "did you mean `1000/day`?");
        assert_eq!(help("10/minute"), "did you mean `10/min`?");
        assert_eq!(help("5 / sec"), "did you mean `5/s`?");
        assert_eq!(
            help("100 requests/hour per user"),
            "did you mean `100/h per user`?"
        );
        assert_eq!(help("2 per seconds"), "did you mean `2/s`?");
        assert_eq!(help("unlimited"), "for no limit, leave the rate out");
        for text in [
            "0/s",
            "10/fortnight",
            "many/min",
            "10/min per team",
            "per day",
        ] {
            assert!(help(text).starts_with("write `N/unit`"), "{text}");
        }
    }
}
