//! A service's state machine as Rust: the `state` module (the
//! `TRANSITIONS` and `MACHINE` specs, reads, creation, saves and one
//! function per transition, all in the operation's transaction), one
//! hook per transition in the handler trait, and the lines of `service()`
//! that register the transitions.
//!
//! Why it exists: the entity's storage is its own concern of the
//! generated service, beside its operations (`operations.rs`).

use super::events::named;
use super::lit::opt_str;
use super::names::{snake, snake_ident};
use super::types::Types;
use crate::ast::{Service, StateMachine, Transition};
use crate::emit::schemas::Mode;
use proc_macro2::{Ident, TokenStream};
use quote::quote;

/// What the state machine adds to the service.
pub(super) struct State {
    /// `pub mod state { .. }`.
    pub(super) module: TokenStream,
    /// One hook per transition in the handler trait.
    pub(super) methods: Vec<TokenStream>,
    /// One line of `service()` per transition.
    pub(super) registrations: Vec<TokenStream>,
}

/// The state machine of `service`; `None` when it has none (or no
/// entity).
pub(super) fn state(service: &Service, types: &mut Types<'_>, trait_id: &Ident) -> Option<State> {
    let sm = service.state.as_ref()?;
    let entity = sm.entity.as_ref()?;
    let entity_ty = types.rust_type(&named(&entity.value), Mode::Response, &entity.value);
    let mut out = State {
        module: quote! {},
        methods: Vec::new(),
        registrations: Vec::new(),
    };
    let mut transitions = Vec::new();
    let mut transition_fns = Vec::new();
    for t in &sm.transitions {
        out.methods.push(hook(t, &entity_ty));
        transitions.push(transition_spec(t));
        out.registrations.push(registration(t));
        transition_fns.push(transition_fn(t, &entity.value, &entity_ty, trait_id));
    }
    out.module = module(
        service,
        sm,
        &entity.value,
        &entity_ty,
        &transitions,
        &transition_fns,
    );
    Some(out)
}

/// `(from, to)` of a transition, as written.
fn ends(t: &Transition) -> (Vec<&str>, &str) {
    let from: Vec<&str> = t.from.iter().map(|f| f.value.as_str()).collect();
    let to = t.to.as_ref().map_or("", |x| x.value.as_str());
    (from, to)
}

/// The transition's hook in the handler trait (unchanged entity unless
/// implemented).
fn hook(t: &Transition, entity_ty: &TokenStream) -> TokenStream {
    let m = snake_ident(&t.name.value);
    let (from, to) = ends(t);
    let d = format!(
        " The `{}` transition ({} -> {to}): a hook that may change the entity before the runtime sets its state and writes its event (unchanged unless implemented). Run it with `state::{}`.",
        t.name.value,
        from.join(", "),
        snake(&t.name.value)
    );
    quote! {
        #[doc = #d]
        fn #m(&self, ctx: rt::Context, entity: #entity_ty) -> impl Future<Output = Result<#entity_ty, rt::Problem>> + Send {
            let _ = ctx;
            async { Ok(entity) }
        }
    }
}

/// `rt::TransitionSpec { .. },`.
fn transition_spec(t: &Transition) -> TokenStream {
    let name = t.name.value.as_str();
    let (from, to) = ends(t);
    let emits = opt_str(t.emits.as_ref().map(|e| e.value.0.as_str()));
    quote! { rt::TransitionSpec { name: #name, from: &[#(#from),*], to: #to, emits: #emits }, }
}

/// The transition's line of `service()`.
fn registration(t: &Transition) -> TokenStream {
    let m = snake_ident(&t.name.value);
    let name = t.name.value.as_str();
    quote! {
        let service = {
            let h = handlers.clone();
            service.transition(&state::MACHINE, #name, move |ctx, id| {
                let h = h.clone();
                async move { rt::entities::to_json(&state::#m(&*h, &ctx, id).await?) }
            })
        };
    }
}

/// `state::<transition>()`: runs the hook and writes the new state.
fn transition_fn(
    t: &Transition,
    kind: &str,
    entity_ty: &TokenStream,
    trait_id: &Ident,
) -> TokenStream {
    let m = snake_ident(&t.name.value);
    let name = t.name.value.as_str();
    let (from, to) = ends(t);
    let emits_event = t.emits.as_ref().map(|e| e.value.0.as_str());
    let fd = format!(
        " `{name}` ({} -> {to}): 404 when there is no {kind} with this id, 409 when it is in another state; else runs the handlers' `{}` hook and writes the new state{} in the operation's transaction.",
        from.join(", "),
        snake(name),
        emits_event.map_or(String::new(), |e| format!(" and `{e}`"))
    );
    quote! {
        #[doc = #fd]
        pub async fn #m<H: #trait_id>(handlers: &H, ctx: &rt::Context, id: impl std::fmt::Display) -> Result<#entity_ty, rt::Problem> {
            let stored = rt::entities::transition(ctx, &MACHINE, #name, &id.to_string(), |json| async move {
                let entity = handlers.#m(ctx.clone(), rt::entities::from_json(json)?).await?;
                rt::entities::to_json(&entity)
            })
            .await?;
            rt::entities::decode(stored)
        }
    }
}

/// `pub mod state { .. }`.
fn module(
    service: &Service,
    sm: &StateMachine,
    kind: &str,
    entity_ty: &TokenStream,
    transitions: &[TokenStream],
    transition_fns: &[TokenStream],
) -> TokenStream {
    let field = sm.field.as_ref().map_or("", |f| f.value.as_str());
    let initial = sm.initial.as_ref().map_or("", |f| f.value.as_str());
    let count = proc_macro2::Literal::usize_unsuffixed(transitions.len());
    let module_doc = format!(
        " `{kind}`, the entity of {}'s state machine, kept by the runtime in the service's database: reads, creation, saves, and one function per transition, all in the operation's transaction (`ctx.tx()`).",
        service.name.value
    );
    let accessors = accessors(sm, kind, entity_ty);
    quote! {
        #[doc = #module_doc]
        pub mod state {
            use super::*;

            /// The transitions as the manifest declares them.
            pub static TRANSITIONS: [rt::TransitionSpec; #count] = [#(#transitions)*];

            /// The state machine.
            pub static MACHINE: rt::Machine = rt::Machine { entity: #kind, field: #field, transitions: &TRANSITIONS };

            /// The state a new entity starts in.
            pub const INITIAL: &str = #initial;

            #accessors

            #(#transition_fns)*
        }
    }
}

/// `get`, `list`, `create` and `save` of the entity.
fn accessors(sm: &StateMachine, kind: &str, entity_ty: &TokenStream) -> TokenStream {
    let field = sm.field.as_ref().map_or("", |f| f.value.as_str());
    let initial = sm.initial.as_ref().map_or("", |f| f.value.as_str());
    let create_doc = format!(
        " Stores a new {kind} in its initial state `{initial}` (whatever its `{field}` says); 409 when one with this id exists."
    );
    let save_doc = format!(
        " Saves changes to the {kind} with this id, keeping its state: 404 when there is none, 409 when `{field}` differs (states change only through transitions)."
    );
    let get_doc = format!(" Reads the {kind} with this id.");
    let list_doc = format!(" Every {kind}, by id.");
    quote! {
        #[doc = #get_doc]
        pub async fn get(ctx: &rt::Context, id: impl std::fmt::Display) -> Result<Option<#entity_ty>, rt::Problem> {
            rt::entities::get(ctx, #kind, &id.to_string()).await?.map(rt::entities::decode).transpose()
        }

        #[doc = #list_doc]
        pub async fn list(ctx: &rt::Context) -> Result<Vec<#entity_ty>, rt::Problem> {
            rt::entities::list(ctx, #kind).await?.into_iter().map(rt::entities::decode).collect()
        }

        #[doc = #create_doc]
        pub async fn create(ctx: &rt::Context, id: impl std::fmt::Display, entity: &#entity_ty) -> Result<#entity_ty, rt::Problem> {
            let stored = rt::entities::create(ctx, &MACHINE, INITIAL, &id.to_string(), rt::entities::to_json(entity)?).await?;
            rt::entities::decode(stored)
        }

        #[doc = #save_doc]
        pub async fn save(ctx: &rt::Context, id: impl std::fmt::Display, entity: &#entity_ty) -> Result<#entity_ty, rt::Problem> {
            let stored = rt::entities::save(ctx, &MACHINE, &id.to_string(), rt::entities::to_json(entity)?).await?;
            rt::entities::decode(stored)
        }
    }
}
