//! Facts about the resolved project that checks and emitters both need:
//! who publishes each event, which service coordinates each saga, a
//! service's pricing, the owner field of an `:own` route.
//!
//! Why it exists: these used to be functions of the checks that emitters
//! called (and one emitter had its own, narrower idea of a saga's
//! coordinator), recomputed per call. The project-wide ones are computed
//! once, when the [`Model`] is built; the rest are methods over the model
//! or one AST item. Checks and emitters read the same answers, and `emit/`
//! needs nothing from `check/`.

use super::Model;
use crate::ast::{Ast, Pricing, Route, Saga, Service, TypeExprKind};
use crate::source::Span;
use crate::syntax::route::Method;
use std::collections::BTreeMap;

/// Output fields an `:own` route compares with the caller, in order of
/// preference, when the route names no `owner:`.
pub const OWNER_FIELDS: [&str; 3] = ["ownerId", "customerId", "userId"];

/// Who publishes an event.
#[derive(Clone, Debug)]
pub struct Publisher {
    /// Service or saga name.
    pub owner: String,
    /// The event key.
    pub span: Span,
}

/// The project-wide facts, computed once.
#[derive(Debug, Default)]
pub(super) struct Shared {
    /// Every published event with its publishers, in declaration order.
    publishers: BTreeMap<String, Vec<Publisher>>,
    /// Per saga (by index), the index of the service that coordinates it.
    coordinators: Vec<Option<usize>>,
}

impl Shared {
    pub(super) fn of(ast: &Ast) -> Shared {
        Shared {
            publishers: publishers(ast),
            coordinators: ast.sagas.iter().map(|s| coordinator(ast, s)).collect(),
        }
    }
}

/// Every published event with its publishers, in declaration order:
/// services (a state transition's event counts even when `events.publishes`
/// does not list it; its payload is the entity), then sagas.
fn publishers(ast: &Ast) -> BTreeMap<String, Vec<Publisher>> {
    let mut map: BTreeMap<String, Vec<Publisher>> = BTreeMap::new();
    let mut add = |event: &str, owner: &str, span: Span| {
        map.entry(event.to_string()).or_default().push(Publisher {
            owner: owner.to_string(),
            span,
        });
    };
    for s in &ast.services {
        for p in &s.publishes {
            add(&p.event.value.0, &s.name.value, p.event.span);
        }
    }
    for s in &ast.services {
        for (event, span) in s.transition_events() {
            if !s.publishes.iter().any(|p| p.event.value.0 == event) {
                add(&event, &s.name.value, span);
            }
        }
    }
    for saga in &ast.sagas {
        for p in &saga.publishes {
            add(&p.event.value.0, &saga.name.value, p.event.span);
        }
    }
    map
}

/// The service that coordinates `saga`: the publisher of its trigger (a
/// service that lists it in `publishes` or whose transition emits it);
/// for a trigger that another saga publishes, that saga's coordinator;
/// for an external event, the first service (by name) that subscribes to
/// it. `None` when nothing in the project touches the trigger.
fn coordinator(ast: &Ast, saga: &Saga) -> Option<usize> {
    let mut saga = saga;
    // A chain of sagas is at most as long as there are sagas.
    for _ in 0..=ast.sagas.len() {
        let trigger = saga.trigger.as_ref()?.value.0.as_str();
        if let Some(i) = ast.services.iter().position(|s| s.publishes_event(trigger)) {
            return Some(i);
        }
        match ast
            .sagas
            .iter()
            .find(|g| g.publishes.iter().any(|p| p.event.value.0 == trigger))
        {
            Some(publisher) => saga = publisher,
            None => return first_subscriber(ast, trigger),
        }
    }
    None
}

/// The first service by name that subscribes to `event`.
fn first_subscriber(ast: &Ast, event: &str) -> Option<usize> {
    ast.services
        .iter()
        .enumerate()
        .filter(|(_, s)| s.subscribes.iter().any(|x| x.event.value.0 == event))
        .min_by(|(_, a), (_, b)| a.name.value.cmp(&b.name.value))
        .map(|(i, _)| i)
}

impl Model {
    /// Every published event with its publishers, in declaration order
    /// (more than one is E0313).
    pub fn publishers(&self) -> &BTreeMap<String, Vec<Publisher>> {
        &self.shared.publishers
    }

    /// The (first) publisher of `event`: a service or a saga.
    pub fn publisher(&self, event: &str) -> Option<&str> {
        let first = self.shared.publishers.get(event)?.first()?;
        Some(first.owner.as_str())
    }

    /// The service that coordinates `saga`, one of the model's, if any:
    /// the publisher of its trigger (a service that lists it in `publishes`
    /// or whose transition emits it); for a trigger that another saga
    /// publishes, that saga's coordinator; for an external event, the first
    /// service by name that subscribes to it.
    pub fn coordinator(&self, saga: &Saga) -> Option<&Service> {
        let i = self.ast.sagas.iter().position(|s| std::ptr::eq(s, saga))?;
        let service = (*self.shared.coordinators.get(i)?)?;
        self.ast.services.get(service)
    }

    /// The sagas `service` coordinates (it publishes their triggers, see
    /// [`Model::coordinator`]), in the project's order.
    pub fn coordinated(&self, service: &Service) -> Vec<&Saga> {
        let is_service = |c: &Option<usize>| {
            c.and_then(|i| self.ast.services.get(i))
                .is_some_and(|s| s.name.value == service.name.value)
        };
        self.ast
            .sagas
            .iter()
            .zip(&self.shared.coordinators)
            .filter(|(_, c)| is_service(c))
            .map(|(s, _)| s)
            .collect()
    }

    /// The pricing documents of `service`, in the project's order.
    pub fn pricing_of<'m>(&'m self, service: &'m Service) -> impl Iterator<Item = &'m Pricing> {
        self.ast.pricing.iter().filter(|p| {
            p.service
                .as_ref()
                .is_some_and(|s| s.value == service.name.value)
        })
    }

    /// The output field an `:own` route compares with the caller: its
    /// `owner:`, else the first of [`OWNER_FIELDS`] its output type has
    /// (the element type's, for a list or set). `None` for other routes.
    pub fn owner_field(&self, route: &Route) -> Option<String> {
        let own = route
            .permission
            .as_ref()
            .is_some_and(|p| p.value.ends_with(":own"));
        if !own {
            return None;
        }
        if let Some(o) = &route.owner {
            return Some(o.value.clone());
        }
        let out = route.output.as_ref()?;
        let inner = match &out.required().kind {
            TypeExprKind::List(t) | TypeExprKind::Set(t) => t.required(),
            _ => out.required(),
        };
        let def = self.named(inner)?;
        let fields = self.all_fields(def);
        OWNER_FIELDS
            .iter()
            .find(|o| fields.iter().any(|(f, _)| f.name.value == **o))
            .map(|o| (*o).to_string())
    }
}

impl Service {
    /// Events the service's state transitions emit, each once, with the
    /// first span (published even when `events.publishes` does not list
    /// them).
    pub fn transition_events(&self) -> Vec<(String, Span)> {
        let mut out: Vec<(String, Span)> = Vec::new();
        for t in self.state.iter().flat_map(|sm| sm.transitions.iter()) {
            if let Some(e) = &t.emits
                && !out.iter().any(|(n, _)| *n == e.value.0)
            {
                out.push((e.value.0.clone(), e.span));
            }
        }
        out
    }

    /// Whether the service publishes `event`: in `events.publishes` or from
    /// a state transition.
    pub fn publishes_event(&self, event: &str) -> bool {
        self.publishes.iter().any(|p| p.event.value.0 == event)
            || self.state.as_ref().is_some_and(|sm| {
                sm.transitions
                    .iter()
                    .any(|t| t.emits.as_ref().is_some_and(|e| e.value.0 == event))
            })
    }

    /// Whether callers of `route` must (or may) authenticate.
    pub fn auth_applies(&self, route: &Route) -> bool {
        self.has_auth() && route.auth.as_ref().is_none_or(|a| a.value != "none")
    }
}

impl Route {
    /// The success status: as written (the checks keep it within
    /// 200-399), else 202 for async, 201 for a POST with an output, 204
    /// without output, 200 otherwise.
    pub fn success_status(&self) -> i64 {
        if let Some(s) = &self.status {
            return s.value;
        }
        if self.is_async {
            202
        } else if self.output.is_none() {
            204
        } else if self.method.value == Method::Post {
            201
        } else {
            200
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::SourceInput;

    /// A service publishing `Order.created`, a saga started by it that ends
    /// with `Order.fulfilled`, a saga started by that one, and one started
    /// by an external event that two services subscribe to.
    const PROJECT: &str = r#"
kind: Service
name: OrderService
types:
  Order: { fields: { id: uuid, total: decimal } }
events:
  publishes:
    Order.created: Order
  subscribes:
    Payment.settled: { handler: onSettled, external: true, payload: Order }
---
kind: Service
name: AuditService
events:
  subscribes:
    Payment.settled: { handler: onSettled, external: true, payload: Order }
---
kind: Saga
name: Fulfilment
trigger: Order.created
publishes: { Order.fulfilled: Order }
onSuccess: Order.fulfilled
steps: []
---
kind: Saga
name: Invoicing
trigger: Order.fulfilled
steps: []
---
kind: Saga
name: Settlement
trigger: Payment.settled
steps: []
---
kind: Saga
name: Orphan
trigger: Nobody.knows
steps: []
"#;

    fn coordinators() -> Vec<(String, Option<String>)> {
        let analysis = crate::check_project(None, &[SourceInput::new("p.yaml", PROJECT)]);
        let model = &analysis.model;
        model
            .ast
            .sagas
            .iter()
            .map(|s| {
                let c = model.coordinator(s).map(|c| c.name.value.clone());
                (s.name.value.clone(), c)
            })
            .collect()
    }

    #[test]
    fn sagas_are_coordinated_by_the_publisher_of_their_trigger() {
        let by = |c: &str| Some(c.to_string());
        assert_eq!(
            coordinators(),
            [
                ("Fulfilment".to_string(), by("OrderService")),
                // through the saga that publishes its trigger
                ("Invoicing".to_string(), by("OrderService")),
                // an external event: the first subscriber by name
                ("Settlement".to_string(), by("AuditService")),
                ("Orphan".to_string(), None),
            ]
        );
    }

    #[test]
    fn coordinated_lists_a_services_sagas_and_publisher_finds_the_first() {
        let analysis = crate::check_project(None, &[SourceInput::new("p.yaml", PROJECT)]);
        let model = &analysis.model;
        let names = |service: &str| -> Vec<String> {
            let s = model
                .service(service)
                .map(|s| model.coordinated(s))
                .unwrap_or_default();
            s.iter().map(|g| g.name.value.clone()).collect()
        };
        assert_eq!(names("OrderService"), ["Fulfilment", "Invoicing"]);
        assert_eq!(names("AuditService"), ["Settlement"]);
        assert_eq!(model.publisher("Order.created"), Some("OrderService"));
        assert_eq!(model.publisher("Order.fulfilled"), Some("Fulfilment"));
        assert_eq!(model.publisher("Payment.settled"), None);
    }
}
