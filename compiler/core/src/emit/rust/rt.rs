//! Every path from generated code into svcc-runtime, in one place.
//!
//! Generated files import the runtime's prelude once, as `rt`
//! (`use svcc_runtime::prelude as rt;`, from [`import`]), and name
//! everything through that alias. This module is the only one of the
//! emitter that spells the runtime's crate path; the names after `rt::` are
//! the prelude's API (`runtime/src/lib.rs`), which is the whole surface
//! generated code may use.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// The import every generated module starts with.
pub fn import() -> TokenStream {
    quote! { use svcc_runtime::prelude as rt; }
}

/// `rt::<name>`, for a runtime item (`Problem`, `Uuid`, `RouteSpec`...).
pub fn item(name: &str) -> TokenStream {
    let id = format_ident!("{}", name);
    quote! { rt::#id }
}

/// The serde derive attributes of a generated type (serde is reached
/// through the runtime, so a generated crate depends on it alone).
pub fn serde_derives(serialize: bool, deserialize: bool) -> TokenStream {
    let mut derives = Vec::new();
    if serialize {
        derives.push(quote! { rt::serde::Serialize });
    }
    if deserialize {
        derives.push(quote! { rt::serde::Deserialize });
    }
    quote! {
        #[derive(#(#derives),*)]
        #[serde(crate = "rt::serde")]
    }
}

/// `rt::check::<name>`, a constraint check.
pub fn check(name: &str) -> TokenStream {
    let id = format_ident!("{}", name);
    quote! { rt::check::#id }
}
