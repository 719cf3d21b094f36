//! QuoteService's handler for the HTTP benchmark (`tests/benches/http.sh`):
//! the JSON work both servers do, so that what differs between them is
//! the pipeline around it.
//!
//! `svcc build` compiles this file as the `handlers` module of
//! `gen/rust/quote-service` (`[rust] handlers = "handlers"`). The runtime
//! has already checked the token, the `quotes:create` permission and the
//! body against its schema; the plain axum server in `../plain` does the
//! same checks by hand and then exactly this arithmetic.

use crate::generated::*;
use svcc_runtime::prelude as rt;

/// No state: a quote is computed, not stored.
#[derive(Debug, Default)]
pub struct Handlers {}

impl QuoteServiceHandlers for Handlers {
    async fn create_quote(
        &self,
        _ctx: create_quote::Context,
        input: create_quote::Input,
    ) -> Result<Quote, create_quote::Error> {
        let q = input.body;
        // Bounded by the schema (1,000 x 10,000,000 x 100 lines), so no
        // overflow: the sums stay under 2^63.
        let items: i64 = q.lines.iter().map(|l| l.quantity).sum();
        let subtotal: i64 = q.lines.iter().map(|l| l.quantity * l.unit_cents).sum();
        let discount = subtotal * q.discount_percent / 100;
        Ok(Quote {
            id: rt::Uuid::new_v4(),
            customer: q.customer,
            email: q.email,
            country: q.country,
            lines: q.lines,
            items,
            subtotal_cents: subtotal,
            discount_cents: discount,
            total_cents: subtotal - discount,
        })
    }
}
