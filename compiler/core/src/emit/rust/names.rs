//! Rust names for manifest names: snake_case functions and fields,
//! PascalCase types, keywords made raw (`r#type`) or suffixed where Rust
//! forbids raw identifiers (`self_`).

use crate::lower::validate::RUST_KEYWORDS as KEYWORDS;
use crate::names::{to_pascal, to_snake};
use proc_macro2::{Ident, Span};

/// Keywords that cannot be raw identifiers.
const NOT_RAW: [&str; 5] = ["self", "Self", "super", "crate", "_"];

/// An identifier for a name, raw if it is a keyword.
pub fn ident(name: &str) -> Ident {
    let name = if name.is_empty() { "_x" } else { name };
    let name = if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{name}")
    } else {
        name.to_string()
    };
    if NOT_RAW.contains(&name.as_str()) {
        Ident::new(&format!("{name}_"), Span::call_site())
    } else if KEYWORDS.contains(&name.as_str()) || name == "gen" {
        Ident::new_raw(&name, Span::call_site())
    } else {
        Ident::new(&name, Span::call_site())
    }
}

/// `customerId` -> `customer_id`.
pub fn snake(name: &str) -> String {
    let s = to_snake(name).to_ascii_lowercase();
    if s.is_empty() { "x".into() } else { s }
}

/// `changed_mind` -> `ChangedMind`; a leading digit gets a `V`.
pub fn pascal(name: &str) -> String {
    let p = to_pascal(name);
    if p.is_empty() {
        "X".into()
    } else if p.starts_with(|c: char| c.is_ascii_digit()) {
        format!("V{p}")
    } else {
        p
    }
}

/// `createOrder` -> `CREATE_ORDER`.
pub fn shout(name: &str) -> String {
    snake(name).to_ascii_uppercase()
}

/// A snake_case identifier.
pub fn snake_ident(name: &str) -> Ident {
    ident(&snake(name))
}

/// A PascalCase identifier.
pub fn pascal_ident(name: &str) -> Ident {
    ident(&pascal(name))
}

/// Names of the Rust prelude that a project type must not shadow.
pub const RESERVED_TYPES: [&str; 12] = [
    "Option", "Result", "Vec", "String", "Box", "Some", "None", "Ok", "Err", "Default", "Send",
    "Sync",
];

/// The environment variable holding a service's base URL
/// (`InventoryService` -> `SVCC_INVENTORY_SERVICE_URL`), as the runtime
/// reads it.
pub fn url_variable(service: &str) -> String {
    format!("SVCC_{}_URL", shout(service))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_and_cases() {
        assert_eq!(ident("type").to_string(), "r#type");
        assert_eq!(ident("self").to_string(), "self_");
        assert_eq!(snake("customerId"), "customer_id");
        assert_eq!(snake("HTTPCode"), "http_code");
        assert_eq!(pascal("changed_mind"), "ChangedMind");
        assert_eq!(pascal("3d"), "V3d");
        assert_eq!(shout("createOrder"), "CREATE_ORDER");
    }
}
