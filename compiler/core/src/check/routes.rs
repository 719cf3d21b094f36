//! Checks of a service's routes, errors and operations (MANIFESTS.md section 3).

use crate::ast::{Field, Route, Service, TypeBody, TypeExprKind};
use crate::diagnostic::{Code, Diagnostic, Diagnostics, suggest};
use crate::resolve::Model;
use crate::syntax::route::{Method, Segment};
use std::collections::{HashMap, HashSet};

/// Runs every route check of one service.
pub fn check(model: &Model, service: &Service, out: &mut Diagnostics) {
    check_errors(service, out);
    ambiguous_routes(service, out);
    // looked up by every route: listed once per service, not once per route
    let names = Names {
        errors: Known::new(service.errors.iter().map(|e| e.name.value.as_str())),
        published: Known::new(service.publishes.iter().map(|p| p.event.value.0.as_str())),
    };
    for route in &service.routes {
        check_route(model, service, &names, route, out);
    }
}

/// The service's declared errors and published events.
struct Names<'s> {
    errors: Known<'s>,
    published: Known<'s>,
}

/// Names in declaration order (for did-you-mean) and as a set.
struct Known<'s> {
    listed: Vec<&'s str>,
    set: HashSet<&'s str>,
}

impl<'s> Known<'s> {
    fn new(names: impl Iterator<Item = &'s str>) -> Self {
        let listed: Vec<&str> = names.collect();
        let set = listed.iter().copied().collect();
        Known { listed, set }
    }
}

fn check_errors(service: &Service, out: &mut Diagnostics) {
    for e in &service.errors {
        if let Some(status) = &e.status
            && !(400..=599).contains(&status.value)
        {
            out.push(
                Diagnostic::error(
                    Code::E0306,
                    status.span,
                    format!(
                        "error `{}` has status {}, outside 400-599",
                        e.name.value, status.value
                    ),
                )
                .label("not an error status")
                .help("use a 4xx status for the caller's mistakes and 5xx for the service's"),
            );
        }
    }
}

/// Two routes with the same method conflict when every segment matches:
/// equal literals, or parameters in the same places (a literal beats a
/// parameter, so literal-vs-parameter never conflicts). Grouping by that
/// shape finds every conflict in one pass.
fn ambiguous_routes(service: &Service, out: &mut Diagnostics) {
    let mut seen: HashMap<(Method, String), &Route> = HashMap::new();
    for route in &service.routes {
        let shape: String = route
            .segments
            .iter()
            .map(|(s, _)| match s {
                Segment::Literal(l) => format!("/{l}"),
                Segment::Param(_) => "/{}".to_string(),
            })
            .collect();
        match seen.get(&(route.method.value, shape.clone())) {
            // the same route written twice (`{id}` and `:id` are one spelling)
            Some(first) if first.path == route.path => out.push(
                Diagnostic::error(
                    Code::E0104,
                    route.key.span,
                    format!(
                        "route `{} {}` is defined more than once",
                        route.method.value.as_str(),
                        route.path
                    ),
                )
                .label("defined again here")
                .secondary(first.key.span, "first defined here")
                .help("`{id}` and `:id` mean the same parameter: merge the two routes"),
            ),
            Some(first) => out.push(
                Diagnostic::error(
                    Code::E0303,
                    route.key.span,
                    format!(
                        "`{}` and `{}` match the same requests",
                        route.key.value, first.key.value
                    ),
                )
                .label("this route")
                .secondary(first.key.span, "conflicts with this one")
                .help("use a literal segment to tell them apart, or merge the routes"),
            ),
            None => {
                seen.insert((route.method.value, shape), route);
            }
        }
    }
}

fn check_route(
    model: &Model,
    service: &Service,
    names: &Names<'_>,
    route: &Route,
    out: &mut Diagnostics,
) {
    if route.short {
        out.push(
            Diagnostic::error(Code::W0001, route.key.span, format!("route `{}` has no contracts", route.key.value))
                .label("short form: no input, output or errors")
                .help("write the long form with `operation:`, `input:` and `output:` so clients and docs know what it takes and returns"),
        );
    }
    check_params(route, out);
    check_body(route, out);
    check_status(route, out);
    check_declared_errors(service, &names.errors, route, out);
    check_emits(service, &names.published, route, out);
    for (what, fields) in [
        ("path parameter", &route.params),
        ("query parameter", &route.query),
        ("header", &route.headers),
    ] {
        for f in fields.iter() {
            check_scalar_param(model, what, f, what == "query parameter", out);
        }
    }
}

fn check_params(route: &Route, out: &mut Diagnostics) {
    let in_path: Vec<&str> = route
        .segments
        .iter()
        .filter_map(|(s, _)| match s {
            Segment::Param(p) => Some(p.as_str()),
            Segment::Literal(_) => None,
        })
        .collect();
    for p in &route.params {
        if !in_path.contains(&p.name.value.as_str()) {
            let d = Diagnostic::error(
                Code::E0302,
                p.name.span,
                format!(
                    "parameter `{}` is not in the path `{}`",
                    p.name.value, route.path
                ),
            )
            .label("not in the path")
            .secondary(route.key.span, "the route's path");
            let untyped: Vec<&str> = in_path
                .iter()
                .copied()
                .filter(|name| !route.params.iter().any(|q| q.name.value == *name))
                .collect();
            let help = match (
                suggest::did_you_mean(&p.name.value, in_path.iter().copied()),
                untyped.as_slice(),
            ) {
                (Some(h), _) => h,
                (None, [only]) => format!(
                    "the path's parameter is `{only}`: rename `{}` to `{only}`",
                    p.name.value
                ),
                (None, _) => format!(
                    "add `{{{}}}` to the path, or remove it from `params`",
                    p.name.value
                ),
            };
            out.push(d.help(help));
        }
    }
}

fn check_body(route: &Route, out: &mut Diagnostics) {
    if let Some(input) = &route.input
        && !route.method.value.allows_body()
    {
        out.push(
            Diagnostic::error(
                Code::E0304,
                input.span,
                format!(
                    "a {} route cannot take a request body",
                    route.method.value.as_str()
                ),
            )
            .label("`input` not allowed here")
            .secondary(route.method.span, "the method")
            .help("use `query:` or `params:` for the inputs, or use POST"),
        );
    }
    if let Some(cache) = &route.cache
        && route.method.value != Method::Get
    {
        out.push(
            Diagnostic::error(
                Code::E0310,
                cache.span,
                format!("`cache` on a {} route", route.method.value.as_str()),
            )
            .label("only GET responses are cached")
            .secondary(route.method.span, "the method")
            .help("remove `cache`"),
        );
    }
    if let Some(idem) = &route.idempotent
        && idem.value
        && !matches!(route.method.value, Method::Post | Method::Patch)
    {
        out.push(
            Diagnostic::error(
                Code::E0325,
                idem.span,
                format!("`idempotent` on a {} route", route.method.value.as_str()),
            )
            .label("only POST and PATCH use an Idempotency-Key")
            .secondary(route.method.span, "this method is idempotent by definition")
            .help("remove `idempotent`"),
        );
    }
}

fn check_status(route: &Route, out: &mut Diagnostics) {
    let Some(status) = &route.status else { return };
    let s = status.value;
    if !(200..=399).contains(&s) {
        out.push(
            Diagnostic::error(
                Code::E0309,
                status.span,
                format!("{s} is not a success status"),
            )
            .label("expected 200-399")
            .help("declare failures under `errors:` and list them in the route's `errors`"),
        );
    } else if s == 204
        && let Some(output) = &route.output
    {
        out.push(
            Diagnostic::error(Code::E0309, status.span, "status 204 cannot have a body")
                .label("204 No Content")
                .secondary(output.span, "but the route has an output")
                .help("use 200, or remove `output`"),
        );
    }
}

fn check_declared_errors(
    service: &Service,
    names: &Known<'_>,
    route: &Route,
    out: &mut Diagnostics,
) {
    for e in &route.errors {
        if !names.set.contains(e.value.as_str()) {
            let d = Diagnostic::error(Code::E0305, e.span, format!("unknown error `{}`", e.value))
                .label(format!(
                    "not declared in `{}`'s `errors`",
                    service.name.value
                ));
            let help = match (
                suggest::did_you_mean(&e.value, names.listed.iter().copied()),
                built_in(&e.value),
            ) {
                (Some(h), _) => h,
                (None, Some(status)) => format!(
                    "`{}` ({status}) is a built-in problem that svcc adds on its own where it applies: remove it from `errors`",
                    e.value
                ),
                (None, None) => format!(
                    "declare it under `errors:` with a `status`, e.g. `{}: {{ status: 409 }}`",
                    e.value
                ),
            };
            out.push(d.help(help));
        }
    }
}

/// The problems every route gets without declaring them (MANIFESTS.md section 3).
fn built_in(name: &str) -> Option<u16> {
    Some(match name {
        "BadRequest" | "ValidationError" | "InvalidInput" => 400,
        "Unauthorized" | "Unauthenticated" => 401,
        "Forbidden" | "PermissionDenied" => 403,
        "NotFound" => 404,
        "TooManyRequests" | "RateLimited" => 429,
        "InternalError" | "InternalServerError" => 500,
        _ => return None,
    })
}

fn check_emits(service: &Service, published: &Known<'_>, route: &Route, out: &mut Diagnostics) {
    for e in &route.emits {
        if !published.set.contains(e.value.0.as_str()) {
            let d = Diagnostic::error(
                Code::E0311,
                e.span,
                format!(
                    "`{}` emits `{}`, which `{}` does not publish",
                    route.key.value, e.value.0, service.name.value
                ),
            )
            .label("not in `events.publishes`");
            out.push(
                match suggest::did_you_mean(&e.value.0, published.listed.iter().copied()) {
                    Some(h) => d.help(h),
                    None => d.help(format!(
                        "add `{}: <payload type>` under `events.publishes`",
                        e.value.0
                    )),
                },
            );
        }
    }
}

fn check_scalar_param(model: &Model, what: &str, f: &Field, lists_ok: bool, out: &mut Diagnostics) {
    let Some(ty) = &f.ty else { return };
    let inner = ty.required();
    let scalar = |t: &crate::ast::TypeExpr| match &t.required().kind {
        TypeExprKind::Primitive(p) => *p != crate::ast::Primitive::Json,
        TypeExprKind::Enum(_) => true,
        TypeExprKind::Named { .. } => model
            .named(t)
            .is_none_or(|d| matches!(d.body, TypeBody::Enum(_))),
        _ => false,
    };
    let ok = match &inner.kind {
        TypeExprKind::List(e) | TypeExprKind::Set(e) if lists_ok => scalar(e),
        _ => scalar(inner),
    };
    if !ok {
        let allowed = if lists_ok {
            "a primitive, an enum, or a list of them"
        } else {
            "a primitive or an enum"
        };
        out.push(
            Diagnostic::error(
                Code::E0324,
                ty.span,
                format!(
                    "{what} `{}` has type `{}`, which is not a scalar",
                    f.name.value,
                    ty.display()
                ),
            )
            .label(format!("expected {allowed}"))
            .help("structured values belong in the request body (`input:`)"),
        );
    }
}
