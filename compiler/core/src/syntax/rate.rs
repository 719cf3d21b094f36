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
    /// Requests allowed per window.
    pub count: u64,
    /// Window length in seconds.
    pub window_secs: u64,
    /// Whose requests count; `None` means the default (per key).
    pub scope: Option<Scope>,
}

impl Rate {
    /// Requests per second, for comparing rates with different windows.
    pub fn per_second(&self) -> f64 {
        self.count as f64 / self.window_secs.max(1) as f64
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
        .help("write `N/unit` with unit s, min, h or day, optionally `per user|ip|key|global`: `10/min per user`")
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
                        "too large",
                    )
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
}
