//! Durations: `250ms`, `30s`, `5m`, `1h`, `7d`, `1h30m` (largest unit first).

use super::{SyntaxError, from_pest};
use pest::Parser;
use pest_derive::Parser;

#[derive(Parser)]
#[grammar = "syntax/duration.pest"]
struct DurationParser;

/// A parsed duration, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration {
    /// Total milliseconds.
    pub millis: u64,
}

fn unit_millis(unit: &str) -> u64 {
    match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => 86_400_000,
    }
}

/// Parses a duration.
pub fn parse(text: &str) -> Result<Duration, SyntaxError> {
    let pairs = DurationParser::parse(Rule::duration, text).map_err(|e| {
        from_pest(&e, text, "duration", |r| match r {
            Rule::number => Some("a number"),
            Rule::unit => Some("a unit (ms, s, m, h, d)"),
            Rule::EOI => Some("the end"),
            _ => None,
        })
        .help("write a number and a unit, largest unit first: `250ms`, `30s`, `5m`, `1h30m`, `7d`")
    })?;
    let mut total: u64 = 0;
    let mut previous: Option<u64> = None;
    for part in pairs.flatten().filter(|p| p.as_rule() == Rule::part) {
        let mut inner = part.clone().into_inner();
        let (Some(number), Some(unit)) = (inner.next(), inner.next()) else {
            continue;
        };
        let size = unit_millis(unit.as_str());
        if previous.is_some_and(|p| size >= p) {
            let r = unit.as_span();
            return Err(SyntaxError::new(
                r.start()..r.end(),
                "invalid duration: units must go from largest to smallest, each once",
                "out of order",
            )
            .help("write for example `1h30m`, not `30m1h`"));
        }
        previous = Some(size);
        let n: u64 = number.as_str().parse().map_err(|_| too_long(&number))?;
        total = n
            .checked_mul(size)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| too_long(&number))?;
    }
    Ok(Duration { millis: total })
}

fn too_long(number: &pest::iterators::Pair<'_, Rule>) -> SyntaxError {
    let r = number.as_span();
    SyntaxError::new(
        r.start()..r.end(),
        "invalid duration: too long",
        "this number is too large",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!(parse("250ms").unwrap().millis, 250);
        assert_eq!(parse("1h30m").unwrap().millis, 5_400_000);
        assert_eq!(parse("7d").unwrap().millis, 604_800_000);
    }

    #[test]
    fn points_inside_the_string() {
        let err = parse("1h30").unwrap_err();
        assert_eq!(err.range, 4..4);
        let err = parse("30m1h").unwrap_err();
        assert_eq!(err.range, 4..5);
        let err = parse("5 minutes").unwrap_err();
        assert_eq!(err.range, 1..2);
        assert!(parse("99999999999999999999d").is_err());
    }
}
