//! Stage 4, check: the semantic rules of MANIFESTS.md over the resolved model.
//!
//! One module per area. Each check reads the [`Model`] and writes
//! diagnostics; none of them stops the others, so one run reports every
//! independent problem.

pub mod auth;
mod bounds;
pub mod calls;
mod cycles;
mod deployments;
mod events;
mod files;
mod flow;
mod lints;
mod naming;
mod paths;
mod pricing;
mod resilience;
mod routes;
mod sagas;
mod state;
mod system;
pub mod types;
mod when;
pub use calls::is_semver;
mod values;

use crate::diagnostic::Diagnostics;
use crate::resolve::Model;

/// The service a Pricing or Deployment document names; reports `code` when
/// there is no such service (unless part of the project failed to load).
fn named_service<'m>(
    model: &'m Model,
    service: Option<&crate::source::Spanned<String>>,
    code: crate::diagnostic::Code,
    what: &str,
) -> (
    Option<&'m crate::ast::Service>,
    Option<crate::diagnostic::Diagnostic>,
) {
    let Some(s) = service else {
        return (None, None);
    };
    let found = model.service(&s.value);
    if found.is_some() || model.incomplete {
        return (found, None);
    }
    let d = crate::diagnostic::Diagnostic::error(
        code,
        s.span,
        format!(
            "{what} `{}`, which is not a service of the project",
            s.value
        ),
    )
    .label("unknown service")
    .maybe_help(crate::diagnostic::suggest::did_you_mean(
        &s.value,
        model.service_names(),
    ));
    (None, Some(d))
}

/// Whether `text` is a value of the string-encoded primitive `p` (`date`,
/// `datetime`, `time`, `uuid`, ...), as `svcc check` judges defaults and
/// examples.
pub fn fits_format(p: crate::ast::Primitive, text: &str) -> bool {
    values::string_format_ok(p, text)
}

/// Why a value looks like a secret, if it does (`sk_live_...`, a JWT, ...).
pub fn secret_like(value: &str) -> Option<String> {
    deployments::secret_value(value, true)
}

/// Runs every check.
pub fn check(model: &Model, out: &mut Diagnostics) {
    types::check(model, out);
    for service in &model.ast.services {
        routes::check(model, service, out);
        auth::check(model, service, out);
        state::check(model, service, out);
        resilience::check(service, out);
    }
    events::check(model, out);
    calls::check(model, out);
    sagas::check(model, out);
    pricing::check(model, out);
    deployments::check(model, out);
    system::check(model, out);
    naming::check(model, out);
    files::check(model, out);
    lints::unused_types(model, out);
}
