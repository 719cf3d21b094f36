//! Semantic references: event names `Subject.predicate` and operation
//! references `Service.operation`, with an optional `$.` prefix.

use super::{SyntaxError, from_pest};
use pest::Parser;
use pest_derive::Parser;

#[derive(Parser)]
#[grammar = "syntax/reference.pest"]
struct ReferenceParser;

/// `Order.created` (written `Order.created` or `$.Order.created`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventName(pub String);

/// `PaymentService.charge`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OperationRef {
    /// The service.
    pub service: String,
    /// The operation.
    pub operation: String,
}

/// Parses an event name, dropping a `$.` prefix.
pub fn parse_event(text: &str) -> Result<EventName, SyntaxError> {
    let pairs = ReferenceParser::parse(Rule::event_ref, text).map_err(|e| {
        from_pest(&e, text, "event name", |r| match r {
            Rule::subject => Some("a PascalCase subject"),
            Rule::dot => Some("`.`"),
            Rule::predicate => Some("a lower-case predicate"),
            Rule::EOI => Some("the end"),
            _ => None,
        })
        .help("event names are `Subject.predicate`: a PascalCase subject and a lower-case predicate, like `Order.created`")
    })?;
    let mut subject = "";
    let mut predicate = "";
    for p in pairs.flatten() {
        match p.as_rule() {
            Rule::subject => subject = p.as_str(),
            Rule::predicate => predicate = p.as_str(),
            _ => {}
        }
    }
    Ok(EventName(format!("{subject}.{predicate}")))
}

/// Parses `Service.operation`, dropping a `$.` prefix.
pub fn parse_operation(text: &str) -> Result<OperationRef, SyntaxError> {
    let pairs = ReferenceParser::parse(Rule::operation_ref, text).map_err(|e| {
        from_pest(&e, text, "operation reference", |r| match r {
            Rule::service => Some("a PascalCase service name"),
            Rule::dot => Some("`.`"),
            Rule::operation => Some("an operation name"),
            Rule::EOI => Some("the end"),
            _ => None,
        })
        .help("write `Service.operation`, like `PaymentService.charge`")
    })?;
    let mut r = OperationRef {
        service: String::new(),
        operation: String::new(),
    };
    for p in pairs.flatten() {
        match p.as_rule() {
            Rule::service => r.service = p.as_str().to_string(),
            Rule::operation => r.operation = p.as_str().to_string(),
            _ => {}
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_ignored() {
        assert_eq!(parse_event("$.Order.created").unwrap().0, "Order.created");
        assert_eq!(
            parse_event("Order.payment_failed").unwrap().0,
            "Order.payment_failed"
        );
        let op = parse_operation("PaymentService.getBalance").unwrap();
        assert_eq!(
            (op.service.as_str(), op.operation.as_str()),
            ("PaymentService", "getBalance")
        );
    }

    #[test]
    fn errors_point_inside() {
        assert_eq!(parse_event("Order.Created").unwrap_err().range, 6..7);
        assert_eq!(parse_event("order.created").unwrap_err().range, 0..1);
        assert_eq!(parse_event("Order").unwrap_err().range, 5..5);
    }
}
