//! "Did you mean": the closest name in scope by edit distance.
//!
//! Used for every misspelt name a user can write: fields of a block, types,
//! services, operations, events, errors, kinds.

/// The candidate closest to `wrong`, if it is close enough to be a likely
/// typo: equal but for case, one a prefix of the other (`min` for
/// `minimum`), or at most about one edit in four (Damerau-Levenshtein). A
/// shared prefix alone is not enough: `orders:delete` is not a typo of
/// `orders:create`.
pub fn closest<'a, I>(wrong: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let lower = wrong.to_ascii_lowercase();
    let length = lower.chars().count();
    let mut best: Option<(f64, &'a str)> = None;
    for candidate in candidates {
        if candidate == wrong {
            continue;
        }
        let cand = candidate.to_ascii_lowercase();
        // At least `gap` edits apart: when that is more than three in ten
        // of the longer name, the edit score is under 0.7 for sure, and
        // the distance (time and memory in the product of the lengths: a
        // second for a name of 300,000 characters) is not worth computing.
        let cand_length = cand.chars().count();
        let gap = length.abs_diff(cand_length);
        let edits = if gap * 10 > length.max(cand_length) * 3 {
            0.0
        } else {
            strsim::normalized_damerau_levenshtein(&lower, &cand)
        };
        let score = if cand == lower {
            2.0
        } else if cand.len() >= 3
            && lower.len() >= 3
            && (cand.starts_with(&lower) || lower.starts_with(&cand))
        {
            edits.max(0.75)
        } else {
            edits
        };
        if score >= 0.7 && best.is_none_or(|(s, c)| score > s || (score == s && candidate < c)) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// `Some("did you mean `x`?")` when a close candidate exists.
pub fn did_you_mean<'a, I>(wrong: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    closest(wrong, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_and_ignores_unrelated_names() {
        let fields = ["operation", "summary", "input", "output", "status"];
        assert_eq!(closest("opertion", fields), Some("operation"));
        assert_eq!(closest("Output", fields), Some("output"));
        assert_eq!(closest("xyz", fields), None);
        assert_eq!(closest("Mony", ["Money", "Order"]), Some("Money"));
        assert_eq!(closest("minimum", ["min", "minItems"]), Some("min"));
        assert_eq!(closest("orders:delete", ["orders:create"]), None);
        assert_eq!(closest("Order.cancelled", ["Order.created"]), None);
        assert_eq!(closest("FETCH", ["PATCH", "POST"]), None);
    }

    #[test]
    fn names_of_very_different_lengths_are_compared_by_length_first() {
        // what the edit distance would say, without computing it
        let long = "Order".repeat(60_000);
        assert_eq!(closest(&long, ["Order", "OrderLine"]), Some("Order"));
        assert_eq!(closest(&long, ["Invoice"]), None);
        assert_eq!(
            closest("OrderLines", ["Order", "OrderLine"]),
            Some("OrderLine")
        );
        assert_eq!(closest("Ord", ["OrderLineItem"]), Some("OrderLineItem"));
    }
}
