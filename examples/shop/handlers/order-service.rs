//! OrderService's handlers: the shop's orders, kept in the service's
//! SQLite database by the runtime.
//!
//! `svcc build` finds this file through `[rust] handlers = "handlers"` in
//! `svcc.toml` and compiles it as the `handlers` module of the generated
//! crate (`gen/rust/order-service`), instead of writing a stub there.
//!
//! The runtime has already done everything the manifest declares before a
//! method runs (authentication, roles and plans, rate limits, the request
//! checked against its schema, idempotency keys) and checks `:own`
//! ownership of every order that goes out. What is left here is the
//! business: prices and totals, the stock check, and which transition of
//! the state machine a request or an event means. Orders are stored with
//! the generated `state` functions: a request's writes and the events it
//! publishes commit in one transaction when the method returns `Ok` (none
//! of it when it fails), and an event handler's writes commit with the
//! mark that it ran, so a redelivered event changes nothing twice.

use crate::generated::*;
use svcc_runtime::prelude as rt;

/// The currency of every price (the pricing manifest's).
const CURRENCY: &str = "EUR";

/// The price list by SKU; every other SKU costs [`LIST_PRICE`]. A real
/// shop reads its catalogue here.
const CATALOGUE: &[(&str, &str)] = &[
    ("TSHIRT-BLK-M", "19.99"),
    ("TSHIRT-WHT-M", "19.99"),
    ("HOODIE-GRY-L", "49.90"),
    ("MUG-LOGO", "9.50"),
];

/// The price of a SKU that is not in [`CATALOGUE`].
const LIST_PRICE: &str = "10.00";

/// The longest export, in days, both ends included (`ExportRangeTooLarge`).
const EXPORT_MAX_DAYS: i64 = 92;

/// How long an order may wait for its payment before `cancelUnpaidOrders`
/// cancels it, in seconds.
const UNPAID_FOR: i64 = 3600;

/// OrderService's handlers. Orders live in the database; the handlers
/// keep only their settings.
#[derive(Debug)]
pub struct Handlers {
    /// How long an order may wait for its payment, in seconds.
    unpaid_for: i64,
}

impl Default for Handlers {
    fn default() -> Self {
        Handlers {
            unpaid_for: UNPAID_FOR,
        }
    }
}

/// Loads an order for a change on behalf of the caller, inside the
/// operation's transaction (begun here, so that nothing changes the order
/// between this read and the write): 404 when there is none, 403 when the
/// caller may only touch its own orders and this is not one, and
/// `InvalidOrderState` once it has shipped.
async fn unshipped_order(
    ctx: &rt::Context,
    id: rt::Uuid,
) -> Result<Order, Result<errors::InvalidOrderState, rt::Problem>> {
    ctx.tx().await.map_err(Err)?;
    let order = state::get(ctx, id)
        .await
        .map_err(Err)?
        .ok_or_else(|| Err(not_found(id)))?;
    // Before anything changes: the runtime's check of the answer comes
    // too late for a write.
    ctx.require_owner(&order.customer_id.to_string())
        .map_err(Err)?;
    if !not_shipped(order.status) {
        return Err(Ok(errors::InvalidOrderState {
            order_status: order.status,
        }));
    }
    Ok(order)
}

/// Whether an event about an order applies: the order exists and is in
/// one of `from`. An unknown order, or one already past the change (an
/// event that lost a race with a cancellation), is logged and left alone:
/// neither gets better by retrying.
async fn applies(
    ctx: &rt::Context,
    id: rt::Uuid,
    from: &[OrderStatus],
) -> Result<bool, rt::Problem> {
    let Some(order) = state::get(ctx, id).await? else {
        rt::tracing::warn!(order_id = %id, handler = ctx.operation(), "no such order: event ignored");
        return Ok(false);
    };
    if !from.contains(&order.status) {
        rt::tracing::info!(
            order_id = %id,
            handler = ctx.operation(),
            status = %order.status,
            "the order is past this change: event ignored"
        );
        return Ok(false);
    }
    Ok(true)
}

/// An order that has not shipped yet: the states the `cancel` transition
/// leaves, and those in which the shipping address may still change.
const NOT_SHIPPED: &[OrderStatus] = &[OrderStatus::Pending, OrderStatus::Confirmed];

fn not_shipped(status: OrderStatus) -> bool {
    NOT_SHIPPED.contains(&status)
}

fn not_found(id: rt::Uuid) -> rt::Problem {
    rt::Problem::not_found(format!("there is no order {id}"))
}

/// The unit price of a SKU.
fn price(sku: &str) -> Result<Money, rt::Problem> {
    let amount = CATALOGUE
        .iter()
        .find(|(s, _)| *s == sku)
        .map_or(LIST_PRICE, |(_, p)| p);
    Ok(Money {
        amount: amount.parse().map_err(rt::Problem::internal)?,
        currency: CURRENCY.to_string(),
    })
}

/// Days since 1970-01-01 (UTC) of an instant.
fn day_of(t: rt::DateTime) -> i64 {
    t.as_second().div_euclid(86_400)
}

/// Days since 1970-01-01 of a date.
fn day_number(d: rt::Date) -> i64 {
    rt::Date::constant(1970, 1, 1).duration_until(d).as_secs() / 86_400
}

impl OrderServiceHandlers for Handlers {
    async fn create_order(
        &self,
        ctx: create_order::Context,
        input: create_order::Input,
    ) -> Result<Order, create_order::Error> {
        let body = input.body;
        // The order belongs to the caller; `:own` checks compare this id
        // with the token's subject.
        let customer_id = ctx
            .subject()
            .and_then(|s| s.parse::<rt::Uuid>().ok())
            .ok_or_else(|| {
                rt::Problem::forbidden(
                    "orders belong to a customer id: the caller's subject must be a UUID",
                )
            })?;
        if ctx.clients().base("InventoryService").is_some() {
            let check = calls::inventory_service::check_stock(
                &ctx,
                calls::inventory_service::check_stock::Input {
                    body: CheckStockInput {
                        items: body.items.clone(),
                    },
                },
            )
            .await?;
            if !check.available {
                let short = check.shortages.first();
                let product_id = short
                    .map(|s| s.product_id)
                    .or_else(|| body.items.first().map(|i| i.product_id))
                    .unwrap_or_default();
                let available = short.map_or(0, |s| (s.on_hand - s.reserved).max(0));
                return Err(create_order::Error::OutOfStock(errors::OutOfStock {
                    product_id,
                    available,
                }));
            }
        } else {
            rt::tracing::warn!(
                request_id = ctx.request_id(),
                "SVCC_INVENTORY_SERVICE_URL is not set: the order is taken without a stock check"
            );
        }
        let items = body
            .items
            .into_iter()
            .map(|i| {
                Ok(OrderItem {
                    unit_price: price(&i.sku)?,
                    product_id: i.product_id,
                    sku: i.sku,
                    quantity: i.quantity,
                })
            })
            .collect::<Result<Vec<_>, rt::Problem>>()?;
        let total = Money {
            amount: items
                .iter()
                .map(|i| i.unit_price.amount * rt::Decimal::from(i.quantity))
                .sum(),
            currency: CURRENCY.to_string(),
        };
        let order = Order {
            id: rt::Uuid::new_v4(),
            customer_id,
            email: body.email,
            items,
            total,
            status: OrderStatus::Pending,
            shipping_address: body.shipping_address,
            note: body.note,
            created_at: rt::DateTime::now(),
        };
        // Stored and published together: both commit when this returns.
        state::create(&ctx, order.id, &order).await?;
        ctx.publish_order_created(&order)?;
        Ok(order)
    }

    async fn list_orders(
        &self,
        ctx: list_orders::Context,
        input: list_orders::Input,
    ) -> Result<Vec<Order>, list_orders::Error> {
        let mut list: Vec<Order> = state::list(&ctx)
            .await?
            .into_iter()
            .filter(|o| input.status.is_none_or(|s| o.status == s))
            .filter(|o| input.customer_id.is_none_or(|c| o.customer_id == c))
            .filter(|o| input.placed_after.is_none_or(|t| o.created_at > t))
            .collect();
        list.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        list.truncate(usize::try_from(input.limit).unwrap_or(0));
        Ok(list)
    }

    async fn export_orders(
        &self,
        ctx: export_orders::Context,
        input: export_orders::Input,
    ) -> Result<Vec<Order>, export_orders::Error> {
        let (from, to) = (day_number(input.from), day_number(input.to));
        // Both ends are included: 1 July to 30 September is 92 days.
        if to - from + 1 > EXPORT_MAX_DAYS {
            return Err(export_orders::Error::ExportRangeTooLarge(
                errors::ExportRangeTooLarge {
                    max_days: EXPORT_MAX_DAYS,
                },
            ));
        }
        // A range that ends before it starts holds no order.
        let mut list: Vec<Order> = state::list(&ctx)
            .await?
            .into_iter()
            .filter(|o| (from..=to).contains(&day_of(o.created_at)))
            .filter(|o| input.status.is_none_or(|s| o.status == s))
            .collect();
        list.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(list)
    }

    async fn get_order(
        &self,
        ctx: get_order::Context,
        input: get_order::Input,
    ) -> Result<Order, get_order::Error> {
        // A customer asking for someone else's order gets a 403: the
        // runtime compares the answer's customerId with the caller.
        state::get(&ctx, input.id)
            .await?
            .ok_or_else(|| not_found(input.id).into())
    }

    async fn change_shipping_address(
        &self,
        ctx: change_shipping_address::Context,
        input: change_shipping_address::Input,
    ) -> Result<Order, change_shipping_address::Error> {
        let order = unshipped_order(&ctx, input.id).await.map_err(|e| match e {
            Ok(s) => change_shipping_address::Error::InvalidOrderState(s),
            Err(p) => p.into(),
        })?;
        let order = Order {
            shipping_address: input.body,
            ..order
        };
        Ok(state::save(&ctx, order.id, &order).await?)
    }

    async fn cancel_order(
        &self,
        ctx: cancel_order::Context,
        input: cancel_order::Input,
    ) -> Result<Order, cancel_order::Error> {
        unshipped_order(&ctx, input.id).await.map_err(|e| match e {
            Ok(s) => cancel_order::Error::InvalidOrderState(s),
            Err(p) => p.into(),
        })?;
        // The transition writes `cancelled` and Order.cancelled together.
        let order = state::cancel(self, &ctx, input.id).await?;
        rt::tracing::info!(
            request_id = ctx.request_id(),
            order_id = %order.id,
            reason = %input.body.reason,
            "order cancelled"
        );
        Ok(order)
    }

    async fn cancel_order_legacy(
        &self,
        ctx: cancel_order_legacy::Context,
        input: cancel_order_legacy::Input,
    ) -> Result<Order, cancel_order_legacy::Error> {
        unshipped_order(&ctx, input.id).await.map_err(|e| match e {
            Ok(s) => cancel_order_legacy::Error::InvalidOrderState(s),
            Err(p) => p.into(),
        })?;
        Ok(state::cancel(self, &ctx, input.id).await?)
    }

    async fn cancel_unfulfillable(
        &self,
        ctx: rt::Context,
        event: rt::Event<Order>,
    ) -> Result<(), rt::Problem> {
        // The saga undid its steps; the customer hears of it through
        // Order.cancelled.
        let id = event.payload.id;
        if applies(&ctx, id, NOT_SHIPPED).await? {
            state::cancel(self, &ctx, id).await?;
        }
        Ok(())
    }

    async fn mark_shipped(
        &self,
        ctx: rt::Context,
        event: rt::Event<Shipment>,
    ) -> Result<(), rt::Problem> {
        let id = event.payload.order_id;
        if applies(&ctx, id, &[OrderStatus::Confirmed]).await? {
            state::ship(self, &ctx, id).await?;
        }
        Ok(())
    }

    async fn mark_delivered(
        &self,
        ctx: rt::Context,
        event: rt::Event<Shipment>,
    ) -> Result<(), rt::Problem> {
        let id = event.payload.order_id;
        if applies(&ctx, id, &[OrderStatus::Shipped]).await? {
            state::deliver(self, &ctx, id).await?;
        }
        Ok(())
    }

    async fn cancel_unpaid_orders(&self, ctx: rt::Context) -> Result<(), rt::Problem> {
        let now = rt::DateTime::now();
        let mut cancelled = 0usize;
        for order in state::list(&ctx).await? {
            let age = now.duration_since(order.created_at).as_secs();
            if order.status == OrderStatus::Pending && age > self.unpaid_for {
                state::cancel(self, &ctx, order.id).await?;
                cancelled += 1;
            }
        }
        rt::tracing::info!(cancelled, "cancelUnpaidOrders: unpaid orders cancelled");
        Ok(())
    }
}
