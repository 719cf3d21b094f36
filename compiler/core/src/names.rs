//! Case conversion of manifest names: one place for the word splitting
//! that naming rules, checks and emitters must agree on.
//!
//! Why it exists: `OrderService` becomes `order-service` in file names,
//! worker names and URLs, `order_service` in Rust, `ORDER_SERVICE` in
//! environment variables, and a name breaking a naming rule is fixed by
//! the same conversion (`create_Order` → `createOrder`). Lowering, the
//! checks (collisions of generated Rust names) and every emitter use these
//! functions, so a name is split into words the same way everywhere.

/// Splits a name into lower-case words at `_`, `-`, spaces and case
/// changes (`HTTPServer` → `http`, `server`; `getOrderByID` → `get`,
/// `order`, `by`, `id`).
pub fn words(text: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        if starts_word(&chars, i) && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.push(c.to_ascii_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Whether the upper-case letter at `i` starts a new word: after a lower
/// case letter or a digit, or as the last capital of an acronym that a
/// lower-case letter follows (`HTTPServer`: the `S`).
fn starts_word(chars: &[char], i: usize) -> bool {
    let Some(prev) = i.checked_sub(1).and_then(|p| chars.get(p)) else {
        return false;
    };
    chars[i].is_ascii_uppercase()
        && (prev.is_ascii_lowercase()
            || prev.is_ascii_digit()
            || (prev.is_ascii_uppercase()
                && chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase())))
}

fn capitalise(word: &str) -> String {
    let mut c = word.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

/// `order_service` → `OrderService`.
pub fn to_pascal(text: &str) -> String {
    words(text).iter().map(|w| capitalise(w)).collect()
}

/// `CreateOrder` → `createOrder`.
pub fn to_camel(text: &str) -> String {
    let mut out = String::new();
    for (i, word) in words(text).iter().enumerate() {
        if i == 0 {
            out.push_str(word);
        } else {
            out.push_str(&capitalise(word));
        }
    }
    out
}

/// `getOrder` → `get_order` (what generated Rust uses).
pub fn to_snake(text: &str) -> String {
    words(text).join("_")
}

/// `My Shop` → `my-shop`.
pub fn to_kebab(text: &str) -> String {
    words(text).join("-")
}

/// `createOrder` → `CREATE_ORDER` (environment variables, bindings).
pub fn to_screaming(text: &str) -> String {
    to_snake(text).to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(to_pascal("order_service"), "OrderService");
        assert_eq!(to_camel("CreateOrder"), "createOrder");
        assert_eq!(to_snake("getOrderByID"), "get_order_by_id");
        assert_eq!(to_snake("HTTPServer"), "http_server");
        assert_eq!(to_kebab("My Shop"), "my-shop");
        assert_eq!(to_kebab("OrderService"), "order-service");
        assert_eq!(to_screaming("createOrder"), "CREATE_ORDER");
        assert_eq!(to_snake("v2Api"), "v2_api");
        assert!(words("").is_empty());
        assert_eq!(words("--a__b  C"), ["a", "b", "c"]);
    }
}
