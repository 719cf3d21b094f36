//! PaymentService's handlers: customers authorize a payment for an order,
//! the OrderFulfillment saga captures it once the stock is held (and
//! refunds it when a later step fails), finance refunds, and the payment
//! provider reports what finished on its side through a signed webhook.
//!
//! `svcc build` compiles this file as the `handlers` module of the
//! generated crate (`gen/rust/payment-service`), through `[rust]
//! handlers = "handlers"` in `svcc.toml`. Everything lives in the
//! service's database, written in the unit of work of the request,
//! delivery or job run, so a payment's change, its event and the answer
//! kept for its `Idempotency-Key` commit together or not at all:
//!
//! | table | holds |
//! |---|---|
//! | `payment_payments` | each payment as the API shows it, and whether the provider has authorized it |
//! | `payment_amounts_due` | each order's total, from `Order.created` (`recordAmountDue`) |
//! | `payment_refunds` | every refund, the ledger behind `refundedAmount` |
//! | `payment_provider_events` | the provider's event ids already handled |
//!
//! - **Authorizing.** There is no real provider here: [`authorize`] plays
//!   it. A card token authorizes at once, unless it asks for 3-D Secure
//!   (`tok_3ds...`, authorized later by the webhook) or is refused
//!   (`tok_decline...`: `PaymentDeclined`); a bank transfer waits for the
//!   money (the webhook's `payment_intent.succeeded`). An order has one
//!   live payment: `createPayment` for an order whose payment is captured,
//!   or pending for the same amount (a double click), returns it; one
//!   pending for another amount is replaced. The amount must be the order's total once
//!   `Order.created` has told us (`AmountMismatch`), and the order must
//!   be the caller's.
//! - **Capturing.** `charge` takes the order's live payment: at most once
//!   (a captured one is returned as it is), and only an authorized one for
//!   the order's total and customer; anything else is
//!   `PaymentNotAuthorized`, which the saga retries while 3-D Secure or
//!   the bank transfer finishes.
//! - **Refunding.** `refund` (the saga's compensation) and
//!   `Order.cancelled` refund all that is left of a captured payment;
//!   refunding a refunded one changes nothing. A payment not captured yet
//!   has taken no money: a cancelled order's is marked failed so that it
//!   can never be captured.
//! - **The webhook** checks `Stripe-Signature` (`t=<unix seconds>,v1=<hex
//!   HMAC-SHA256>`, Stripe's scheme) with the secret in the environment
//!   variable [`WEBHOOK_SECRET`], over `<t>.<body>`, at most
//!   [`TOLERANCE`] seconds old; without the variable every event is
//!   refused. The generated API hands a handler the decoded body, not its
//!   bytes, so the body signed is the event as decoded and written again
//!   as compact JSON (`serde_json`, fields in the generated struct's
//!   order: `created`, `data`, `id`, `type`).

use crate::generated::*;
use hmac::{Hmac, Mac};
use rt::sql::{self, Connection, OptionalExtension, params};
use svcc_runtime::prelude as rt;

#[path = "shared/tables.rs"]
pub mod tables;
use tables::Tables;

/// The environment variable with the provider's webhook signing secret
/// (the `STRIPE_WEBHOOK_SECRET` of the PaymentServiceEdge deployment).
pub const WEBHOOK_SECRET: &str = "STRIPE_WEBHOOK_SECRET";

/// How old a signed webhook may be, in seconds (Stripe's default): an
/// older one is refused, so a captured request cannot be replayed later.
pub const TOLERANCE: i64 = 300;

/// The event `Order.cancelled`'s refunds publish (the routes publish it
/// through their typed contexts).
const PAYMENT_REFUNDED: &str = "Payment.refunded";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS payment_payments (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    status TEXT NOT NULL,
    authorized INTEGER NOT NULL,
    provider_reference TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL,
    payment TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS payment_payments_order ON payment_payments (order_id, created);
CREATE TABLE IF NOT EXISTS payment_amounts_due (
    order_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    amount TEXT NOT NULL,
    currency TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS payment_refunds (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL,
    amount TEXT NOT NULL,
    currency TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS payment_provider_events (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    received_at TEXT NOT NULL
);
";

/// PaymentService's handlers. Payments live in the database; the handlers
/// keep the webhook secret.
#[derive(Debug)]
pub struct Handlers {
    tables: Tables,
    /// From [`WEBHOOK_SECRET`] at start.
    webhook_secret: Option<String>,
}

impl Default for Handlers {
    fn default() -> Self {
        let webhook_secret = std::env::var(WEBHOOK_SECRET).ok().filter(|s| !s.is_empty());
        Handlers {
            tables: Tables::new(SCHEMA),
            webhook_secret,
        }
    }
}

/// A payment as stored: what the API shows, and whether the provider has
/// authorized it (the API's `pending` covers both).
#[derive(Debug)]
struct Stored {
    payment: Payment,
    authorized: bool,
}

/// Payments by a column (`id`, `order_id`, `provider_reference`), newest
/// first.
fn payments_where(c: &Connection, column: &str, value: &str) -> sql::Result<Vec<Stored>> {
    c.prepare_cached(&format!(
        "SELECT payment, authorized FROM payment_payments WHERE {column} = ?1
         ORDER BY created DESC, rowid DESC"
    ))?
    .query_map([value], |r| {
        Ok(Stored {
            payment: tables::json(r, 0)?,
            authorized: r.get(1)?,
        })
    })?
    .collect()
}

/// The payment with an id.
fn payment(c: &Connection, id: rt::Uuid) -> sql::Result<Option<Stored>> {
    Ok(payments_where(c, "id", &id.to_string())?.into_iter().next())
}

/// An order's live payment: its newest that has not failed.
fn live_payment(c: &Connection, order_id: rt::Uuid) -> sql::Result<Option<Stored>> {
    Ok(payments_where(c, "order_id", &order_id.to_string())?
        .into_iter()
        .find(|s| s.payment.status != PaymentStatus::Failed))
}

fn put(c: &Connection, s: &Stored) -> sql::Result<()> {
    let p = &s.payment;
    c.prepare_cached(
        "INSERT INTO payment_payments (id, order_id, status, authorized, provider_reference, created, payment)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status,
             authorized = excluded.authorized, payment = excluded.payment",
    )?
    .execute(params![
        p.id.to_string(),
        p.order_id.to_string(),
        p.status.as_str(),
        s.authorized,
        p.provider_reference.clone().unwrap_or_default(),
        p.created_at.as_millisecond(),
        tables::to_json(p)?
    ])?;
    Ok(())
}

/// What an order costs and whose it is, as `Order.created` said.
struct AmountDue {
    customer_id: rt::Uuid,
    amount: Money,
}

fn amount_due(c: &Connection, order_id: rt::Uuid) -> sql::Result<Option<AmountDue>> {
    c.prepare_cached(
        "SELECT customer_id, amount, currency FROM payment_amounts_due WHERE order_id = ?1",
    )?
    .query_row([order_id.to_string()], |r| {
        Ok(AmountDue {
            customer_id: tables::parsed(r, 0)?,
            amount: Money {
                amount: tables::parsed(r, 1)?,
                currency: r.get(2)?,
            },
        })
    })
    .optional()
}

/// Whether a payment has taken money (and so can be refunded).
fn captured(status: PaymentStatus) -> bool {
    matches!(
        status,
        PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded | PaymentStatus::Refunded
    )
}

/// `a - b` of two amounts in one currency.
fn minus(a: &Money, b: &Money) -> Money {
    Money {
        amount: rt::Decimal(a.amount.0 - b.amount.0),
        currency: a.currency.clone(),
    }
}

/// What is left to refund of a payment.
fn refundable(p: &Payment) -> Money {
    match &p.refunded_amount {
        Some(refunded) => minus(&p.amount, refunded),
        None => p.amount.clone(),
    }
}

/// Refunds `amount` (no more than [`refundable`]) of a captured payment:
/// a ledger row, `refundedAmount` and the status, written together.
fn refund_captured(
    c: &Connection,
    mut p: Payment,
    amount: rt::Decimal,
    reason: &str,
) -> sql::Result<Payment> {
    c.prepare_cached(
        "INSERT INTO payment_refunds (id, payment_id, amount, currency, reason, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        rt::Uuid::new_v4().to_string(),
        p.id.to_string(),
        amount.to_string(),
        p.amount.currency,
        reason,
        rt::DateTime::now().to_string()
    ])?;
    let total = p
        .refunded_amount
        .as_ref()
        .map_or(amount, |r| r.amount + amount);
    p.status = if total == p.amount.amount {
        PaymentStatus::Refunded
    } else {
        PaymentStatus::PartiallyRefunded
    };
    p.refunded_amount = Some(Money {
        amount: total,
        currency: p.amount.currency.clone(),
    });
    put(
        c,
        &Stored {
            payment: p.clone(),
            authorized: true,
        },
    )?;
    rt::tracing::info!(payment_id = %p.id, order_id = %p.order_id, %amount, reason, "refunded");
    Ok(p)
}

/// Refunds all that is left of a captured payment; `None` when nothing is.
fn refund_rest(c: &Connection, p: Payment, reason: &str) -> sql::Result<Option<Payment>> {
    let left = refundable(&p).amount;
    if left == rt::Decimal::ZERO {
        return Ok(None);
    }
    refund_captured(c, p, left, reason).map(Some)
}

/// The simulated payment provider's answer to a payment source: what the
/// API shows of it, and whether it is authorized now (`false`: 3-D Secure
/// or a bank transfer finishes later, through the webhook).
fn authorize(source: PaymentSourceInput) -> Result<(PaymentSource, bool), errors::PaymentDeclined> {
    match source {
        PaymentSourceInput::Card(card) => {
            let token = card.token;
            if token.starts_with("tok_decline") {
                return Err(errors::PaymentDeclined {
                    decline_code: "card_declined".to_string(),
                    retryable: false,
                });
            }
            let brand = if token.contains("mastercard") {
                CardPaymentBrand::Mastercard
            } else if token.contains("amex") {
                CardPaymentBrand::Amex
            } else {
                CardPaymentBrand::Visa
            };
            let tail = token.get(token.len().saturating_sub(4)..).unwrap_or("");
            let last4 = if tail.len() == 4 && tail.bytes().all(|b| b.is_ascii_digit()) {
                tail.to_string()
            } else {
                "4242".to_string()
            };
            let now = !token.contains("3ds");
            Ok((PaymentSource::Card(CardPayment { brand, last4 }), now))
        }
        PaymentSourceInput::Bank(bank) => Ok((PaymentSource::Bank(bank), false)),
    }
}

/// Whether `header` (`t=<unix seconds>,v1=<hex>`, several `v1` allowed)
/// signs `body` with `secret`, no more than [`TOLERANCE`] seconds away
/// from `now`. The comparison is constant-time.
fn signed(secret: &str, header: &str, body: &str, now: i64) -> bool {
    let mut t = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.extend(hex(v)),
            _ => {}
        }
    }
    let Some(t) = t.filter(|t| now.abs_diff(*t) <= TOLERANCE.unsigned_abs()) else {
        return false;
    };
    signatures.iter().any(|sig| {
        Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).is_ok_and(|mut mac| {
            mac.update(format!("{t}.{body}").as_bytes());
            mac.verify_slice(sig).is_ok()
        })
    })
}

/// Bytes from hexadecimal, or `None`.
fn hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The caller's subject as a customer id.
fn customer_of(ctx: &rt::Context) -> Result<rt::Uuid, rt::Problem> {
    ctx.subject().and_then(|s| s.parse().ok()).ok_or_else(|| {
        rt::Problem::forbidden(
            "payments belong to a customer id: the caller's subject must be a UUID",
        )
    })
}

fn not_found(id: rt::Uuid) -> rt::Problem {
    rt::Problem::not_found(format!("there is no payment {id}"))
}

impl PaymentServiceHandlers for Handlers {
    async fn list_payments(
        &self,
        ctx: list_payments::Context,
        input: list_payments::Input,
    ) -> Result<Vec<Payment>, list_payments::Error> {
        let order_id = input.order_id.map(|o| o.to_string());
        let status = input.status.map(PaymentStatus::as_str);
        Ok(self
            .tables
            .read(&ctx, |c| {
                c.prepare_cached(
                    "SELECT payment FROM payment_payments
                     WHERE (?1 IS NULL OR order_id = ?1) AND (?2 IS NULL OR status = ?2)
                     ORDER BY created DESC, rowid DESC LIMIT ?3",
                )?
                .query_map(params![order_id, status, input.limit], |r| {
                    tables::json(r, 0)
                })?
                .collect()
            })
            .await?)
    }

    async fn get_payment(
        &self,
        ctx: get_payment::Context,
        input: get_payment::Input,
    ) -> Result<Payment, get_payment::Error> {
        // A customer asking for someone else's payment gets a 403: the
        // runtime compares the answer's customerId with the caller.
        let found = self.tables.read(&ctx, |c| payment(c, input.id)).await?;
        found
            .map(|s| s.payment)
            .ok_or_else(|| not_found(input.id).into())
    }

    async fn charge(
        &self,
        ctx: charge::Context,
        input: charge::Input,
    ) -> Result<Payment, charge::Error> {
        let order = input.body;
        let not_authorized = || {
            charge::Error::PaymentNotAuthorized(errors::PaymentNotAuthorized { order_id: order.id })
        };
        let tx = self.tables.tx(&ctx).await?;
        let Some(mut live) = tx.with_conn(|c| live_payment(c, order.id))? else {
            rt::tracing::info!(order_id = %order.id, "charge: no payment for the order yet");
            return Err(not_authorized());
        };
        let p = &live.payment;
        if captured(p.status) {
            rt::tracing::info!(order_id = %order.id, payment_id = %p.id, status = %p.status, "charge: captured already, nothing more taken");
            return Ok(live.payment);
        }
        if !live.authorized {
            rt::tracing::info!(order_id = %order.id, payment_id = %p.id, "charge: the provider has not authorized the payment yet");
            return Err(not_authorized());
        }
        if p.amount != order.total || p.customer_id != order.customer_id {
            rt::tracing::warn!(order_id = %order.id, payment_id = %p.id, "charge: the authorized payment is not for the order's total and customer");
            return Err(not_authorized());
        }
        live.payment.status = PaymentStatus::Succeeded;
        tx.with_conn(|c| put(c, &live))?;
        ctx.publish_payment_succeeded(&live.payment)?;
        Ok(live.payment)
    }

    async fn create_payment(
        &self,
        ctx: create_payment::Context,
        input: create_payment::Input,
    ) -> Result<Payment, create_payment::Error> {
        let customer_id = customer_of(&ctx)?;
        let body = input.body;
        let tx = self.tables.tx(&ctx).await?;
        if let Some(due) = tx.with_conn(|c| amount_due(c, body.order_id))? {
            if due.customer_id != customer_id && !ctx.has_role("admin") {
                return Err(rt::Problem::forbidden("the order is another customer's").into());
            }
            if due.amount != body.amount {
                return Err(create_payment::Error::AmountMismatch(
                    errors::AmountMismatch {
                        expected: due.amount,
                    },
                ));
            }
        }
        if let Some(mut live) = tx.with_conn(|c| live_payment(c, body.order_id))? {
            if captured(live.payment.status) || live.payment.amount == body.amount {
                rt::tracing::info!(order_id = %body.order_id, payment_id = %live.payment.id, "createPayment: the order has a payment: returned as it is");
                return Ok(live.payment);
            }
            // An authorization for another amount that was never captured:
            // the new one replaces it (if it is declined, nothing changes).
            live.payment.status = PaymentStatus::Failed;
            live.payment.failure_reason = Some(format!(
                "replaced by a payment of {} {}",
                body.amount.amount, body.amount.currency
            ));
            tx.with_conn(|c| put(c, &live))?;
        }
        let (source, authorized) =
            authorize(body.source).map_err(create_payment::Error::PaymentDeclined)?;
        let id = rt::Uuid::new_v4();
        let stored = Stored {
            payment: Payment {
                id,
                order_id: body.order_id,
                customer_id,
                amount: body.amount,
                refunded_amount: None,
                source,
                status: PaymentStatus::Pending,
                provider_reference: Some(format!("pi_{}", id.simple())),
                failure_reason: None,
                created_at: rt::DateTime::now(),
            },
            authorized,
        };
        tx.with_conn(|c| put(c, &stored))?;
        Ok(stored.payment)
    }

    async fn refund_payment(
        &self,
        ctx: refund_payment::Context,
        input: refund_payment::Input,
    ) -> Result<Payment, refund_payment::Error> {
        let tx = self.tables.tx(&ctx).await?;
        let p = tx
            .with_conn(|c| payment(c, input.id))?
            .ok_or_else(|| not_found(input.id))?
            .payment;
        if !captured(p.status) {
            return Err(rt::Problem::conflict(format!(
                "payment {} is {}: it has taken no money to refund",
                p.id, p.status
            ))
            .into());
        }
        let asked = input.body.amount;
        if let Some(m) = &asked
            && m.currency != p.amount.currency
        {
            return Err(rt::Problem::bad_request(format!(
                "a refund is in the payment's currency, {}",
                p.amount.currency
            ))
            .into());
        }
        let left = refundable(&p);
        let amount = asked.map_or(left.amount, |m| m.amount);
        if amount > left.amount {
            return Err(refund_payment::Error::RefundExceedsPayment(
                errors::RefundExceedsPayment { refundable: left },
            ));
        }
        if amount == rt::Decimal::ZERO {
            return Ok(p);
        }
        let p = tx.with_conn(|c| refund_captured(c, p, amount, &input.body.reason))?;
        ctx.publish_payment_refunded(&p)?;
        Ok(p)
    }

    async fn refund(
        &self,
        ctx: refund::Context,
        input: refund::Input,
    ) -> Result<Payment, refund::Error> {
        // Found by the order, as the manifest says: its live payment.
        let order_id = input.body.order_id;
        let tx = self.tables.tx(&ctx).await?;
        let p = tx
            .with_conn(|c| live_payment(c, order_id))?
            .ok_or_else(|| rt::Problem::not_found(format!("order {order_id} has no payment")))?
            .payment;
        if !captured(p.status) {
            rt::tracing::info!(%order_id, payment_id = %p.id, "refund: the payment took no money: nothing to refund");
            return Ok(p);
        }
        let reason = "the order's fulfilment was undone";
        match tx.with_conn(|c| refund_rest(c, p.clone(), reason))? {
            Some(refunded) => {
                ctx.publish_payment_refunded(&refunded)?;
                Ok(refunded)
            }
            None => {
                rt::tracing::info!(%order_id, payment_id = %p.id, "refund: refunded already: nothing changes");
                Ok(p)
            }
        }
    }

    async fn receive_provider_event(
        &self,
        ctx: receive_provider_event::Context,
        input: receive_provider_event::Input,
    ) -> Result<(), receive_provider_event::Error> {
        let event = input.body;
        let body =
            rt::serde_json::to_string(&event).map_err(|e| rt::Problem::internal(e.to_string()))?;
        let now = rt::DateTime::now().as_second();
        let Some(secret) = self.webhook_secret.as_deref() else {
            rt::tracing::error!(event_id = %event.id, "{WEBHOOK_SECRET} is not set: payment-provider webhook refused");
            return Err(receive_provider_event::Error::InvalidSignature(
                errors::InvalidSignature {},
            ));
        };
        if !signed(secret, &input.stripe_signature, &body, now) {
            rt::tracing::warn!(event_id = %event.id, "payment-provider webhook refused: the signature does not match");
            return Err(receive_provider_event::Error::InvalidSignature(
                errors::InvalidSignature {},
            ));
        }
        let tx = self.tables.tx(&ctx).await?;
        let first = tx.with_conn(|c| {
            c.prepare_cached(
                "INSERT OR IGNORE INTO payment_provider_events (id, type, received_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![event.id, event.r#type, rt::DateTime::now().to_string()])
        })? == 1;
        if !first {
            rt::tracing::info!(event_id = %event.id, "provider event handled before: ignored");
            return Ok(());
        }
        let object = &event.data["object"];
        let reference = object["id"].as_str().unwrap_or_default();
        let Some(mut s) = tx
            .with_conn(|c| payments_where(c, "provider_reference", reference))?
            .into_iter()
            .next()
        else {
            rt::tracing::warn!(event_id = %event.id, reference, "provider event for no payment of ours: ignored");
            return Ok(());
        };
        if s.payment.status != PaymentStatus::Pending {
            rt::tracing::info!(event_id = %event.id, payment_id = %s.payment.id, status = %s.payment.status, "provider event for a payment that has finished: ignored");
            return Ok(());
        }
        match event.r#type.as_str() {
            // 3-D Secure passed: ready for `charge`.
            "payment_intent.amount_capturable_updated" => s.authorized = true,
            // The provider has the money (a bank transfer arrived).
            "payment_intent.succeeded" => {
                s.authorized = true;
                s.payment.status = PaymentStatus::Succeeded;
                ctx.publish_payment_succeeded(&s.payment)?;
            }
            "payment_intent.payment_failed" => {
                s.payment.status = PaymentStatus::Failed;
                s.payment.failure_reason = Some(
                    object["last_payment_error"]["message"]
                        .as_str()
                        .unwrap_or("declined by the payment provider")
                        .to_string(),
                );
                ctx.publish_payment_failed(&s.payment)?;
            }
            other => {
                rt::tracing::info!(event_id = %event.id, r#type = other, "provider event of a type we do not act on");
                return Ok(());
            }
        }
        tx.with_conn(|c| put(c, &s))?;
        rt::tracing::info!(event_id = %event.id, payment_id = %s.payment.id, r#type = %event.r#type, "provider event applied");
        Ok(())
    }

    async fn refund_cancelled_order(
        &self,
        ctx: rt::Context,
        event: rt::Event<Order>,
    ) -> Result<(), rt::Problem> {
        let order_id = event.payload.id;
        let tx = self.tables.tx(&ctx).await?;
        let Some(mut live) = tx.with_conn(|c| live_payment(c, order_id))? else {
            rt::tracing::info!(%order_id, "refundCancelledOrder: the order has no payment: event ignored");
            return Ok(());
        };
        if !captured(live.payment.status) {
            // Nothing taken; make sure nothing ever is.
            live.payment.status = PaymentStatus::Failed;
            live.payment.failure_reason =
                Some("the order was cancelled before the payment was captured".to_string());
            tx.with_conn(|c| put(c, &live))?;
            rt::tracing::info!(%order_id, payment_id = %live.payment.id, "refundCancelledOrder: uncaptured payment closed");
            return Ok(());
        }
        let payment_id = live.payment.id;
        match tx.with_conn(|c| refund_rest(c, live.payment, "order cancelled"))? {
            Some(refunded) => ctx.publish(PAYMENT_REFUNDED, &refunded),
            None => {
                rt::tracing::info!(%order_id, %payment_id, "refundCancelledOrder: refunded already: event ignored");
                Ok(())
            }
        }
    }

    async fn record_amount_due(
        &self,
        ctx: rt::Context,
        event: rt::Event<Order>,
    ) -> Result<(), rt::Problem> {
        let order = event.payload;
        let tx = self.tables.tx(&ctx).await?;
        tx.with_conn(|c| {
            c.prepare_cached(
                "INSERT OR IGNORE INTO payment_amounts_due (order_id, customer_id, amount, currency, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                order.id.to_string(),
                order.customer_id.to_string(),
                order.total.amount.to_string(),
                order.total.currency,
                rt::DateTime::now().to_string()
            ])
        })?;
        if let Some(live) = tx.with_conn(|c| live_payment(c, order.id))?
            && live.payment.amount != order.total
        {
            rt::tracing::warn!(order_id = %order.id, payment_id = %live.payment.id, "the payment authorized before the order's total arrived is for another amount: charge will refuse it");
        }
        Ok(())
    }

    async fn reconcile_with_provider(&self, ctx: rt::Context) -> Result<(), rt::Problem> {
        let by_status: Vec<(String, i64)> = self
            .tables
            .read(&ctx, |c| {
                c.prepare_cached(
                    "SELECT status, COUNT(*) FROM payment_payments GROUP BY status ORDER BY status",
                )?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
            })
            .await?;
        rt::tracing::info!(
            ?by_status,
            "reconcileWithProvider: this deployment has no payment provider to ask; a real one \
             fetches the provider's report of yesterday's payments and flags each one whose \
             status or amount differs from ours"
        );
        Ok(())
    }
}
