//! Lints that need the whole project: types nothing uses.
//!
//! (The other lints live next to the checks they belong to: W0001 with
//! routes, W0003 with events, W0004 with calls.)

use crate::ast::Origin;
use crate::diagnostic::{Code, Diagnostic, Diagnostics, suggest};
use crate::resolve::{Model, Owner, type_uses, visit_named};
use std::collections::HashSet;

/// W0002: project types not reachable from any service or saga.
pub fn unused_types(model: &Model, out: &mut Diagnostics) {
    if model.incomplete {
        return;
    }
    let uses = type_uses(&model.ast);
    let mut by_type: Vec<Vec<&crate::ast::TypeExpr>> = vec![Vec::new(); model.ast.types.len()];
    let mut stack: Vec<usize> = Vec::new();
    let mut roots: Vec<&crate::ast::TypeExpr> = Vec::new();
    for u in &uses {
        match u.owner {
            Owner::Type(i) => {
                if let Some(v) = by_type.get_mut(i) {
                    v.push(u.expr);
                }
            }
            Owner::Service(_) | Owner::Saga(_) => roots.push(u.expr),
        }
    }
    let mut reached: HashSet<usize> = HashSet::new();
    let push_named = |expr: &crate::ast::TypeExpr, stack: &mut Vec<usize>| {
        visit_named(expr, &mut |name, library, _| {
            if let Some(i) = model.type_index(name, library) {
                stack.push(i);
            }
        });
    };
    for r in roots {
        push_named(r, &mut stack);
    }
    for s in &model.ast.services {
        if let Some(i) = s
            .state
            .as_ref()
            .and_then(|sm| sm.entity.as_ref())
            // its index, not a search of every type for it: once per service
            .and_then(|e| model.type_index(&e.value, false))
        {
            stack.push(i);
        }
    }
    while let Some(i) = stack.pop() {
        if !reached.insert(i) {
            continue;
        }
        for expr in by_type.get(i).into_iter().flatten() {
            push_named(expr, &mut stack);
        }
    }
    for (i, t) in model.ast.types.iter().enumerate() {
        // a type that an unknown name was probably meant to be is not
        // reported as unused: fixing the typo fixes both
        let meant = model
            .unknown_types
            .iter()
            .any(|u| suggest::closest(u, [t.name.value.as_str()]).is_some());
        if t.origin != Origin::Library && !reached.contains(&i) && !meant {
            out.push(
                Diagnostic::error(
                    Code::W0002,
                    t.name.span,
                    format!("type `{}` is never used", t.name.value),
                )
                .label("no route, event, error or state machine reaches it")
                .help("use it or remove it; silence with `[lints] W0002 = \"allow\"` in svcc.toml"),
            );
        }
    }
}
