//! Literals of generated code: integers without a type suffix, `Some(..)`
//! or `None` of an optional value.
//!
//! Why it exists: every builder of the Rust emitter writes these, the
//! operation modules, the specs and the sagas alike; one copy keeps the
//! spelling (and the rule that a checked manifest number is written as it
//! is, never clamped) the same everywhere.

use proc_macro2::TokenStream;
use quote::quote;

pub(super) fn opt_str(v: Option<&str>) -> TokenStream {
    match v {
        Some(s) => quote! { Some(#s) },
        None => quote! { None },
    }
}

/// An integer literal without a type suffix (`201`, not `201u16`).
pub(super) fn int(v: impl Into<u64>) -> proc_macro2::Literal {
    proc_macro2::Literal::u64_unsuffixed(v.into())
}

/// A manifest number the checks keep in range of the field it goes to
/// (`attempts` 1-100, a route's `status` 200-399 and an error's 400-599,
/// `failures` within `u32`), as it is written: nothing is converted or
/// clamped here.
pub(super) fn checked(v: i64) -> proc_macro2::Literal {
    proc_macro2::Literal::i64_unsuffixed(v)
}

pub(super) fn opt_u64(v: Option<u64>) -> TokenStream {
    match v {
        Some(n) => {
            let n = int(n);
            quote! { Some(#n) }
        }
        None => quote! { None },
    }
}
