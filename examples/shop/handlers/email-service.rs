//! EmailService's handlers: the shop's transactional email, turned out of
//! the other services' events.
//!
//! `svcc build` compiles this file as the `handlers` module of the
//! generated crate (`gen/rust/email-service`), through `[rust] handlers =
//! "handlers"` in `svcc.toml`. Nothing is really sent: [`deliver`] logs
//! what a mail provider would be handed and records the email as sent, in
//! the service's database, in the unit of work of the delivery or request
//! (so an event redelivered after a crash never sends twice):
//!
//! | table | holds |
//! |---|---|
//! | `email_sent` | every email sent (kept 90 days: `purgeOldEmails`) |
//! | `email_recipients` | the address of each order, from the Order events, so that Payment and Shipment events (which carry none) can be answered without calling OrderService |
//! | `email_preferences` | each customer's optional email (absent: the manifest's defaults) |
//! | `email_suppressions` | addresses nothing is sent to, with the reason |
//!
//! Suppression rules: nothing is sent to a suppressed address (events
//! log and skip it; `resendEmail` answers `RecipientSuppressed`). An
//! address gets there when mail to it hard-bounces: here, an address
//! under the `.invalid` domain (RFC 2606 reserves it, so no mail provider
//! could deliver to it); a real deployment adds the provider's bounce and
//! complaint reports. Receipts and notices are always sent; only
//! "your parcel is on its way" follows the customer's `shippingUpdates`.
//!
//! Payment events carry no address: it comes from the order's Order
//! events (or the customer's latest order). When none has arrived yet
//! (the receipt of the saga's `charge` can overtake `Order.confirmed`),
//! the handler fails, so that the manifest's retries try again later.
//!
//! The merchandising and sales teams' addresses come from the environment
//! variables [`MERCHANDISING`] and [`SALES`].

use crate::generated::*;
use rt::sql::{self, Connection, OptionalExtension, params};
use svcc_runtime::prelude as rt;

#[path = "shared/tables.rs"]
pub mod tables;
use tables::Tables;

/// The environment variable with the merchandising team's address
/// (`Stock.low`); `merchandising@example.com` when unset.
pub const MERCHANDISING: &str = "SHOP_MERCHANDISING_EMAIL";

/// The environment variable with the sales team's address (large
/// orders); `sales@example.com` when unset.
pub const SALES: &str = "SHOP_SALES_EMAIL";

/// How long sent email (and the addresses of orders) is kept, in
/// milliseconds: 90 days.
const KEEP_FOR_MS: i64 = 90 * 86_400_000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS email_sent (
    id TEXT PRIMARY KEY,
    recipient_id TEXT,
    order_id TEXT,
    template TEXT NOT NULL,
    created INTEGER NOT NULL,
    email TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS email_sent_created ON email_sent (created);
CREATE INDEX IF NOT EXISTS email_sent_order ON email_sent (order_id, template);
CREATE TABLE IF NOT EXISTS email_recipients (
    order_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    address TEXT NOT NULL,
    updated INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS email_recipients_customer ON email_recipients (customer_id, updated);
CREATE TABLE IF NOT EXISTS email_preferences (
    customer_id TEXT PRIMARY KEY,
    marketing INTEGER NOT NULL,
    shipping_updates INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS email_suppressions (
    address TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    since TEXT NOT NULL
);
";

/// EmailService's handlers. Email lives in the database; the handlers
/// keep the teams' addresses.
#[derive(Debug)]
pub struct Handlers {
    tables: Tables,
    /// Where `Stock.low` alerts go.
    merchandising: String,
    /// Where large-order alerts go.
    sales: String,
}

impl Default for Handlers {
    fn default() -> Self {
        let address = |var: &str, default: &str| {
            std::env::var(var)
                .ok()
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        Handlers {
            tables: Tables::new(SCHEMA),
            merchandising: address(MERCHANDISING, "merchandising@example.com"),
            sales: address(SALES, "sales@example.com"),
        }
    }
}

/// An email to send: what it is, to whom, about what.
struct Draft {
    recipient_id: Option<rt::Uuid>,
    to: String,
    template: EmailTemplate,
    subject: String,
    order_id: Option<rt::Uuid>,
}

impl Draft {
    /// An email to the customer of an order.
    fn to_customer(
        to: String,
        customer_id: rt::Uuid,
        order_id: rt::Uuid,
        template: EmailTemplate,
        subject: String,
    ) -> Self {
        Draft {
            recipient_id: Some(customer_id),
            to,
            template,
            subject,
            order_id: Some(order_id),
        }
    }
}

/// Why nothing is sent to an address, if it is suppressed.
fn suppressed(c: &Connection, address: &str) -> sql::Result<Option<RecipientSuppressedReason>> {
    let reason: Option<String> = c
        .prepare_cached("SELECT reason FROM email_suppressions WHERE address = ?1")?
        .query_row([address.to_lowercase()], |r| r.get(0))
        .optional()?;
    // Written from the type, so it reads back (else: no reason known).
    Ok(reason.map(|r| {
        r.parse::<RecipientSuppressedReason>()
            .unwrap_or(RecipientSuppressedReason::HardBounce)
    }))
}

/// Whether mail to an address bounces: an address under `.invalid`, which
/// no mail provider could deliver to.
fn bounces(address: &str) -> bool {
    address
        .rsplit_once('@')
        .is_some_and(|(_, domain)| domain.to_lowercase().ends_with(".invalid"))
}

/// "Sends" an email to an address that is not suppressed: logs what a
/// mail provider would get and records it, as `sent`, or as `bounced` when
/// the address cannot receive mail, which suppresses it from now on.
fn deliver(c: &Connection, draft: Draft) -> sql::Result<SentEmail> {
    let now = rt::DateTime::now();
    let status = if bounces(&draft.to) {
        c.execute(
            "INSERT OR IGNORE INTO email_suppressions (address, reason, since) VALUES (?1, ?2, ?3)",
            params![
                draft.to.to_lowercase(),
                RecipientSuppressedReason::HardBounce.as_str(),
                now.to_string()
            ],
        )?;
        SentEmailStatus::Bounced
    } else {
        SentEmailStatus::Sent
    };
    let email = SentEmail {
        id: rt::Uuid::new_v4(),
        recipient_id: draft.recipient_id,
        to: draft.to,
        template: draft.template,
        subject: draft.subject,
        order_id: draft.order_id,
        status,
        sent_at: Some(now),
    };
    c.prepare_cached(
        "INSERT INTO email_sent (id, recipient_id, order_id, template, created, email)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        email.id.to_string(),
        email.recipient_id.map(|r| r.to_string()),
        email.order_id.map(|o| o.to_string()),
        email.template.as_str(),
        now.as_millisecond(),
        tables::to_json(&email)?
    ])?;
    // The address is personal data: the log names the email, not it.
    rt::tracing::info!(email_id = %email.id, template = %email.template, status = %email.status, subject = %email.subject, "email handed to the (log) mail transport");
    Ok(email)
}

/// One sent email.
fn email(c: &Connection, id: rt::Uuid) -> sql::Result<Option<SentEmail>> {
    c.prepare_cached("SELECT email FROM email_sent WHERE id = ?1")?
        .query_row([id.to_string()], |r| tables::json(r, 0))
        .optional()
}

/// Keeps the address an Order event carries.
fn remember(c: &Connection, order: &Order) -> sql::Result<()> {
    c.prepare_cached(
        "INSERT INTO email_recipients (order_id, customer_id, address, updated) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (order_id) DO UPDATE SET address = excluded.address, updated = excluded.updated",
    )?
    .execute(params![
        order.id.to_string(),
        order.customer_id.to_string(),
        order.email,
        rt::DateTime::now().as_millisecond()
    ])?;
    Ok(())
}

/// The address to write to about an order: the order's, else the
/// customer's latest.
fn address_for(
    c: &Connection,
    order_id: rt::Uuid,
    customer_id: rt::Uuid,
) -> sql::Result<Option<String>> {
    c.prepare_cached(
        "SELECT address FROM email_recipients WHERE order_id = ?1 OR customer_id = ?2
         ORDER BY order_id = ?1 DESC, updated DESC LIMIT 1",
    )?
    .query_row([order_id.to_string(), customer_id.to_string()], |r| {
        r.get(0)
    })
    .optional()
}

/// A customer's preferences: stored, or the manifest's defaults.
fn preferences(c: &Connection, customer_id: rt::Uuid) -> sql::Result<EmailPreferences> {
    let stored = c
        .prepare_cached(
            "SELECT marketing, shipping_updates FROM email_preferences WHERE customer_id = ?1",
        )?
        .query_row([customer_id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (marketing, shipping_updates) = stored.unwrap_or((false, true));
    Ok(EmailPreferences {
        customer_id,
        marketing,
        shipping_updates,
    })
}

fn not_found(id: rt::Uuid) -> rt::Problem {
    rt::Problem::not_found(format!("there is no email {id}"))
}

fn money(m: &Money) -> String {
    format!("{} {}", m.amount, m.currency)
}

impl Handlers {
    /// Sends an email for an event, unless its address is suppressed
    /// (logged and skipped: retrying would not change it).
    async fn notify(&self, ctx: &rt::Context, draft: Draft) -> Result<(), rt::Problem> {
        let tx = self.tables.tx(ctx).await?;
        tx.with_conn(|c| {
            if let Some(reason) = suppressed(c, &draft.to)? {
                rt::tracing::info!(handler = ctx.operation(), template = %draft.template, %reason, "the address is suppressed: nothing sent");
                return Ok(());
            }
            deliver(c, draft).map(drop)
        })
    }

    /// Keeps the address of an Order event and writes to its customer.
    async fn order_email(
        &self,
        ctx: &rt::Context,
        order: Order,
        template: EmailTemplate,
        subject: String,
    ) -> Result<(), rt::Problem> {
        self.tables
            .tx(ctx)
            .await?
            .with_conn(|c| remember(c, &order))?;
        let draft = Draft::to_customer(order.email, order.customer_id, order.id, template, subject);
        self.notify(ctx, draft).await
    }

    /// Writes to the customer of a payment, at the address of its order.
    async fn payment_email(
        &self,
        ctx: &rt::Context,
        payment: &Payment,
        template: EmailTemplate,
        subject: String,
    ) -> Result<(), rt::Problem> {
        let (order_id, customer_id) = (payment.order_id, payment.customer_id);
        let to = self
            .tables
            .tx(ctx)
            .await?
            .with_conn(|c| address_for(c, order_id, customer_id))?
            .ok_or_else(|| {
                rt::Problem::internal(format!(
                    "no address known for order {order_id} yet (its Order events have not arrived): retried later"
                ))
            })?;
        let draft = Draft::to_customer(to, customer_id, order_id, template, subject);
        self.notify(ctx, draft).await
    }
}

impl EmailServiceHandlers for Handlers {
    async fn list_emails(
        &self,
        ctx: list_emails::Context,
        input: list_emails::Input,
    ) -> Result<Vec<SentEmail>, list_emails::Error> {
        let recipient = input.recipient_id.map(|r| r.to_string());
        let order = input.order_id.map(|o| o.to_string());
        let template = input.template.map(EmailTemplate::as_str);
        Ok(self
            .tables
            .read(&ctx, |c| {
                c.prepare_cached(
                    "SELECT email FROM email_sent
                     WHERE (?1 IS NULL OR recipient_id = ?1) AND (?2 IS NULL OR order_id = ?2)
                       AND (?3 IS NULL OR template = ?3)
                     ORDER BY created DESC, rowid DESC LIMIT ?4",
                )?
                .query_map(params![recipient, order, template, input.limit], |r| {
                    tables::json(r, 0)
                })?
                .collect()
            })
            .await?)
    }

    async fn get_email(
        &self,
        ctx: get_email::Context,
        input: get_email::Input,
    ) -> Result<SentEmail, get_email::Error> {
        // A customer may read email sent to them only: the runtime
        // compares the answer's recipientId with the caller.
        self.tables
            .read(&ctx, |c| email(c, input.id))
            .await?
            .ok_or_else(|| not_found(input.id).into())
    }

    async fn resend_email(
        &self,
        ctx: resend_email::Context,
        input: resend_email::Input,
    ) -> Result<SentEmail, resend_email::Error> {
        let tx = self.tables.tx(&ctx).await?;
        let first = tx
            .with_conn(|c| email(c, input.id))?
            .ok_or_else(|| not_found(input.id))?;
        if let Some(reason) = tx.with_conn(|c| suppressed(c, &first.to))? {
            return Err(resend_email::Error::RecipientSuppressed(
                errors::RecipientSuppressed { reason },
            ));
        }
        let draft = Draft {
            recipient_id: first.recipient_id,
            to: first.to,
            template: first.template,
            subject: first.subject,
            order_id: first.order_id,
        };
        Ok(tx.with_conn(|c| deliver(c, draft))?)
    }

    async fn alert_large_order(
        &self,
        ctx: alert_large_order::Context,
        input: alert_large_order::Input,
    ) -> Result<SentEmail, alert_large_order::Error> {
        let order = input.body;
        let template = EmailTemplate::LargeOrderAlert;
        let tx = self.tables.tx(&ctx).await?;
        let sent: Option<SentEmail> = tx.with_conn(|c| {
            c.prepare_cached("SELECT email FROM email_sent WHERE order_id = ?1 AND template = ?2")?
                .query_row(params![order.id.to_string(), template.as_str()], |r| {
                    tables::json(r, 0)
                })
                .optional()
        })?;
        if let Some(sent) = sent {
            rt::tracing::info!(order_id = %order.id, email_id = %sent.id, "the order was alerted before: returned as it is");
            return Ok(sent);
        }
        if let Some(reason) = tx.with_conn(|c| suppressed(c, &self.sales))? {
            return Err(rt::Problem::internal(format!(
                "the sales team's address ({SALES}) is suppressed ({reason}): no alert can go out"
            ))
            .into());
        }
        let draft = Draft {
            recipient_id: None,
            to: self.sales.clone(),
            template,
            subject: format!(
                "Large order {}: {}, {} lines, to check before it ships",
                order.id,
                money(&order.total),
                order.items.len()
            ),
            order_id: Some(order.id),
        };
        Ok(tx.with_conn(|c| deliver(c, draft))?)
    }

    async fn get_preferences(
        &self,
        ctx: get_preferences::Context,
        input: get_preferences::Input,
    ) -> Result<EmailPreferences, get_preferences::Error> {
        Ok(self
            .tables
            .read(&ctx, |c| preferences(c, input.customer_id))
            .await?)
    }

    async fn update_preferences(
        &self,
        ctx: update_preferences::Context,
        input: update_preferences::Input,
    ) -> Result<EmailPreferences, update_preferences::Error> {
        let customer_id = input.customer_id;
        // Before anything changes: the runtime's check of the answer comes
        // too late for a write.
        ctx.require_owner(&customer_id.to_string())?;
        let changes = input.body;
        let tx = self.tables.tx(&ctx).await?;
        Ok(tx.with_conn(|c| {
            let current = preferences(c, customer_id)?;
            let new = EmailPreferences {
                customer_id,
                marketing: changes.marketing.unwrap_or(current.marketing),
                shipping_updates: changes.shipping_updates.unwrap_or(current.shipping_updates),
            };
            c.prepare_cached(
                "INSERT INTO email_preferences (customer_id, marketing, shipping_updates) VALUES (?1, ?2, ?3)
                 ON CONFLICT (customer_id) DO UPDATE SET marketing = excluded.marketing,
                     shipping_updates = excluded.shipping_updates",
            )?
            .execute(params![customer_id.to_string(), new.marketing, new.shipping_updates])?;
            Ok(new)
        })?)
    }

    async fn send_order_confirmation(
        &self,
        ctx: rt::Context,
        event: rt::Event<Order>,
    ) -> Result<(), rt::Problem> {
        let order = event.payload;
        let subject = format!("Your order {} is confirmed", order.id);
        self.order_email(&ctx, order, EmailTemplate::OrderConfirmed, subject)
            .await
    }

    async fn send_cancellation_notice(
        &self,
        ctx: rt::Context,
        event: rt::Event<Order>,
    ) -> Result<(), rt::Problem> {
        let order = event.payload;
        let subject = format!("Your order {} was cancelled", order.id);
        self.order_email(&ctx, order, EmailTemplate::OrderCancelled, subject)
            .await
    }

    async fn send_delivery_notice(
        &self,
        ctx: rt::Context,
        event: rt::Event<Order>,
    ) -> Result<(), rt::Problem> {
        let order = event.payload;
        let subject = format!("Your order {} has been delivered", order.id);
        self.order_email(&ctx, order, EmailTemplate::OrderDelivered, subject)
            .await
    }

    async fn send_payment_receipt(
        &self,
        ctx: rt::Context,
        event: rt::Event<Payment>,
    ) -> Result<(), rt::Problem> {
        let p = event.payload;
        let subject = format!("We received your payment of {}", money(&p.amount));
        self.payment_email(&ctx, &p, EmailTemplate::PaymentReceived, subject)
            .await
    }

    async fn send_payment_failed_notice(
        &self,
        ctx: rt::Context,
        event: rt::Event<Payment>,
    ) -> Result<(), rt::Problem> {
        let p = event.payload;
        let subject = format!("Your payment for order {} did not go through", p.order_id);
        self.payment_email(&ctx, &p, EmailTemplate::PaymentFailed, subject)
            .await
    }

    async fn send_refund_notice(
        &self,
        ctx: rt::Context,
        event: rt::Event<Payment>,
    ) -> Result<(), rt::Problem> {
        let p = event.payload;
        let refunded = p.refunded_amount.as_ref().unwrap_or(&p.amount);
        let subject = format!("We refunded {} for order {}", money(refunded), p.order_id);
        self.payment_email(&ctx, &p, EmailTemplate::PaymentRefunded, subject)
            .await
    }

    async fn send_shipping_notice(
        &self,
        ctx: rt::Context,
        event: rt::Event<Shipment>,
    ) -> Result<(), rt::Problem> {
        let s = event.payload;
        let tx = self.tables.tx(&ctx).await?;
        if !tx
            .with_conn(|c| preferences(c, s.customer_id))?
            .shipping_updates
        {
            rt::tracing::info!(shipment_id = %s.id, "the customer wants no shipping updates: nothing sent");
            return Ok(());
        }
        let Some(to) = tx.with_conn(|c| address_for(c, s.order_id, s.customer_id))? else {
            return Err(rt::Problem::internal(format!(
                "no address known for order {} yet: retried later",
                s.order_id
            )));
        };
        let tracking = match (&s.carrier, &s.tracking_number) {
            (Some(carrier), Some(number)) => format!(" ({carrier} {number})"),
            _ => String::new(),
        };
        let subject = format!(
            "Your parcel for order {} is on its way{tracking}",
            s.order_id
        );
        let draft = Draft::to_customer(
            to,
            s.customer_id,
            s.order_id,
            EmailTemplate::ShipmentDispatched,
            subject,
        );
        self.notify(&ctx, draft).await
    }

    async fn alert_merchandising(
        &self,
        ctx: rt::Context,
        event: rt::Event<StockItem>,
    ) -> Result<(), rt::Problem> {
        let s = event.payload;
        let draft = Draft {
            recipient_id: None,
            to: self.merchandising.clone(),
            template: EmailTemplate::LowStockAlert,
            subject: format!(
                "Low stock: {} has {} available (threshold {})",
                s.sku,
                s.on_hand - s.reserved,
                s.low_stock_threshold
            ),
            order_id: None,
        };
        self.notify(&ctx, draft).await
    }

    async fn purge_old_emails(&self, ctx: rt::Context) -> Result<(), rt::Problem> {
        let before = rt::DateTime::now().as_millisecond() - KEEP_FOR_MS;
        let tx = self.tables.tx(&ctx).await?;
        let (emails, addresses) = tx.with_conn(|c| {
            let emails = c.execute("DELETE FROM email_sent WHERE created < ?1", [before])?;
            let addresses =
                c.execute("DELETE FROM email_recipients WHERE updated < ?1", [before])?;
            Ok((emails, addresses))
        })?;
        rt::tracing::info!(
            emails,
            addresses,
            "purgeOldEmails: email and order addresses older than 90 days deleted"
        );
        Ok(())
    }
}
