//! Building `serde_json` objects by moving values in.
//!
//! `serde_json::json!` takes every interpolated expression by reference and
//! serializes it into a new `Value`: a subtree that is already a `Value`
//! (a schema, the paths of a document) is deep-copied and the original
//! dropped. At 2,000 operations that copying was a quarter of `svcc build
//! --target openapi`. The emitters use `json!` for constant parts and
//! [`object!`] wherever a built value goes into an object.

/// `object!({ "key": value, ... })`: a `Value::Object` with the entries in
/// the order written (as `json!` keeps them), each value converted with
/// `Value::from`, so a `Value`, `Map`, `Vec<Value>` or `String` is moved,
/// not copied.
macro_rules! object {
    ({ $($key:literal : $value:expr),* $(,)? }) => {{
        let mut map = serde_json::Map::with_capacity([$($key),*].len());
        $(map.insert(::std::string::String::from($key), serde_json::Value::from($value));)*
        serde_json::Value::Object(map)
    }};
}

pub(crate) use object;
