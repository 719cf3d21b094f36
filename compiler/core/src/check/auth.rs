//! Checks of authentication, roles, permissions and ownership.

use crate::ast::{Route, Service, TypeExprKind};
use crate::diagnostic::{Code, Diagnostic, Diagnostics, suggest};
use crate::resolve::{Model, OWNER_FIELDS};
use crate::source::Spanned;

/// Runs every auth check of one service.
pub fn check(model: &Model, service: &Service, out: &mut Diagnostics) {
    let grants: Vec<&Spanned<String>> =
        service.roles.iter().flat_map(|r| r.grants.iter()).collect();
    for g in &grants {
        check_permission_form(g, true, out);
    }
    if !service.has_auth() {
        without_auth(service, out);
    }
    for route in &service.routes {
        if let Some(p) = &route.permission
            && check_permission_form(p, false, out)
            && service.has_auth()
        {
            check_granted(service, p, &grants, out);
            if p.value.ends_with(":own") {
                check_owner(model, route, p, out);
            }
        }
        if let Some(owner) = &route.owner
            && route
                .permission
                .as_ref()
                .is_none_or(|p| !p.value.ends_with(":own"))
        {
            check_owner_field(model, route, owner, out);
        }
    }
}

fn without_auth(service: &Service, out: &mut Diagnostics) {
    let help = "add `auth: jwt` or `auth: apiKey` to the service";
    if let Some(role) = service.roles.first() {
        out.push(
            Diagnostic::error(
                Code::E0323,
                role.name.span,
                format!("`{}` declares roles but no `auth`", service.name.value),
            )
            .label("roles need authenticated callers")
            .help(help),
        );
    }
    for route in &service.routes {
        if let Some(p) = &route.permission {
            out.push(
                Diagnostic::error(
                    Code::E0323,
                    p.span,
                    format!(
                        "`{}` requires a permission but the service has no `auth`",
                        route.key.value
                    ),
                )
                .label("nobody can be checked for this permission")
                .help(help),
            );
        }
        if let Some(a) = &route.auth
            && a.value != "none"
        {
            out.push(
                Diagnostic::error(
                    Code::E0323,
                    a.span,
                    format!("`auth: {}` on a route of a service without `auth`", a.value),
                )
                .label("the service does not authenticate callers")
                .help(help),
            );
        }
    }
}

/// `*`, `resource:action`, `resource:action:own`; grants may also be `resource:*`.
fn check_permission_form(p: &Spanned<String>, grant: bool, out: &mut Diagnostics) -> bool {
    let text = p.value.as_str();
    let word = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    };
    let parts: Vec<&str> = text.split(':').collect();
    let ok = text == "*"
        || match parts.as_slice() {
            [r, a] => word(r) && (word(a) || (grant && *a == "*")),
            [r, a, own] => word(r) && word(a) && *own == "own",
            _ => false,
        };
    if !ok {
        out.push(
            Diagnostic::error(Code::E0327, p.span, format!("`{text}` is not a valid permission"))
                .label("expected `resource:action` or `resource:action:own`")
                .help("write permissions in lower case like `orders:read`, `orders:read:own`; a role may also grant `orders:*` or `*`"),
        );
    }
    ok
}

fn grants_permission(grant: &str, wanted: &str) -> bool {
    if grant == "*" || grant == wanted {
        return true;
    }
    let w: Vec<&str> = wanted.split(':').collect();
    let g: Vec<&str> = grant.split(':').collect();
    match (g.as_slice(), w.as_slice()) {
        ([gr, "*"], [wr, ..]) => gr == wr,
        ([gr, ga], [wr, wa, "own"]) => gr == wr && ga == wa,
        _ => false,
    }
}

fn check_granted(
    service: &Service,
    p: &Spanned<String>,
    grants: &[&Spanned<String>],
    out: &mut Diagnostics,
) {
    if grants.iter().any(|g| grants_permission(&g.value, &p.value)) {
        return;
    }
    let d = Diagnostic::error(
        Code::E0307,
        p.span,
        format!("no role of `{}` grants `{}`", service.name.value, p.value),
    )
    .label("nobody could ever call this route");
    let help = match suggest::did_you_mean(&p.value, grants.iter().map(|g| g.value.as_str())) {
        Some(h) => h,
        None => format!("add `{}` to a role under `roles:`", p.value),
    };
    out.push(d.help(help));
}

fn check_owner(model: &Model, route: &Route, p: &Spanned<String>, out: &mut Diagnostics) {
    if let Some(owner) = &route.owner {
        check_owner_field(model, route, owner, out);
        return;
    }
    let Some(output) = &route.output else {
        out.push(
            Diagnostic::error(
                Code::E0308,
                p.span,
                format!("`{}` needs an owner, but the route has no output", p.value),
            )
            .label("`:own` checks the owner of the returned resource")
            .help("give the route an `output` type with an owner field, or drop `:own`"),
        );
        return;
    };
    let Some(fields) = output_fields(model, output) else {
        return;
    };
    if !fields.iter().any(|f| OWNER_FIELDS.contains(&f.as_str())) {
        out.push(
            Diagnostic::error(
                Code::E0308,
                p.span,
                format!(
                    "`{}` needs an owner field in `{}`",
                    p.value,
                    output.display()
                ),
            )
            .label("no owner field to compare with the caller")
            .secondary(output.span, "the output type")
            .help(format!(
                "add `owner: <field>` to the route, or a field named {} to the type",
                OWNER_FIELDS.join(", ")
            )),
        );
    }
}

fn check_owner_field(model: &Model, route: &Route, owner: &Spanned<String>, out: &mut Diagnostics) {
    let Some(output) = &route.output else {
        out.push(
            Diagnostic::error(
                Code::E0328,
                owner.span,
                format!("`owner: {}` but the route has no output", owner.value),
            )
            .label("no output type to find the field in"),
        );
        return;
    };
    let Some(fields) = output_fields(model, output) else {
        return;
    };
    if !fields.contains(&owner.value) {
        let d = Diagnostic::error(
            Code::E0328,
            owner.span,
            format!("`{}` has no field `{}`", output.display(), owner.value),
        )
        .label("unknown owner field")
        .secondary(output.span, "the output type");
        out.push(d.maybe_help(suggest::did_you_mean(
            &owner.value,
            fields.iter().map(String::as_str),
        )));
    }
}

/// Field names of an output type (through one level of list), if it is an object.
fn output_fields(model: &Model, output: &crate::ast::TypeExpr) -> Option<Vec<String>> {
    let element = match &output.required().kind {
        TypeExprKind::List(e) | TypeExprKind::Set(e) => e,
        _ => output,
    };
    let def = model.named(element)?;
    Some(
        model
            .all_fields(def)
            .into_iter()
            .map(|(f, _)| f.name.value.clone())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::grants_permission;

    #[test]
    fn grants() {
        assert!(grants_permission("*", "orders:read"));
        assert!(grants_permission("orders:*", "orders:read:own"));
        assert!(grants_permission("orders:read", "orders:read:own"));
        assert!(!grants_permission("orders:read:own", "orders:read"));
        assert!(!grants_permission("orders:write", "orders:read"));
    }
}
