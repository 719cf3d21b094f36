//! Every place a type expression is written, in one walk.
//!
//! Unknown-type reporting, the unused-type lint and later the emitters all
//! need "every type used, and by whom"; keeping the walk in one place means
//! a new place that names a type is added once.

use crate::ast::{Ast, Field, TypeBody, TypeExpr};

/// Who uses a type expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// A named type (index into `Ast::types`).
    Type(usize),
    /// A service (index into `Ast::services`).
    Service(usize),
    /// A saga (index into `Ast::sagas`).
    Saga(usize),
}

/// One use of a type expression.
#[derive(Clone, Copy, Debug)]
pub struct TypeUse<'a> {
    /// The expression.
    pub expr: &'a TypeExpr,
    /// Where it is written.
    pub owner: Owner,
}

fn fields<'a>(fields: &'a [Field], owner: Owner, out: &mut Vec<TypeUse<'a>>) {
    out.extend(
        fields
            .iter()
            .filter_map(|f| f.ty.as_ref())
            .map(|expr| TypeUse { expr, owner }),
    );
}

/// Every type expression of the project, in source order per owner.
pub fn type_uses(ast: &Ast) -> Vec<TypeUse<'_>> {
    let mut out = Vec::new();
    for (i, t) in ast.types.iter().enumerate() {
        let owner = Owner::Type(i);
        match &t.body {
            TypeBody::Object {
                extends,
                fields: own,
            } => {
                out.extend(extends.iter().map(|expr| TypeUse { expr, owner }));
                fields(own, owner, &mut out);
            }
            TypeBody::OneOf { variants, .. } => {
                out.extend(variants.iter().map(|(_, expr)| TypeUse { expr, owner }));
            }
            TypeBody::Enum(_) | TypeBody::Invalid => {}
        }
    }
    for (i, s) in ast.services.iter().enumerate() {
        let owner = Owner::Service(i);
        for e in &s.errors {
            fields(&e.fields, owner, &mut out);
        }
        for r in &s.routes {
            out.extend(
                r.input
                    .iter()
                    .chain(r.output.iter())
                    .map(|expr| TypeUse { expr, owner }),
            );
            fields(&r.params, owner, &mut out);
            fields(&r.query, owner, &mut out);
            fields(&r.headers, owner, &mut out);
        }
        out.extend(
            s.publishes
                .iter()
                .filter_map(|p| p.payload.as_ref())
                .map(|expr| TypeUse { expr, owner }),
        );
        out.extend(
            s.subscribes
                .iter()
                .filter_map(|p| p.payload.as_ref())
                .map(|expr| TypeUse { expr, owner }),
        );
    }
    for (i, saga) in ast.sagas.iter().enumerate() {
        let owner = Owner::Saga(i);
        out.extend(
            saga.publishes
                .iter()
                .filter_map(|p| p.payload.as_ref())
                .map(|expr| TypeUse { expr, owner }),
        );
    }
    out
}
