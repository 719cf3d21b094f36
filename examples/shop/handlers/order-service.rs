//! OrderService's handlers: the shop's orders, kept in memory.
//!
//! `svcc build` finds this file through `[rust] handlers = "handlers"` in
//! `svcc.toml` and compiles it as the `handlers` module of the generated
//! crate (`gen/rust/order-service`), instead of writing a stub there.
//!
//! The runtime has already done everything the manifest declares before a
//! method runs (authentication, roles and plans, rate limits, the request
//! checked against its schema, idempotency keys) and checks `:own`
//! ownership of every order that goes out. What is left here is the
//! business: prices and totals, the stock check, the state machine and the
//! events. The store is a map behind a mutex, so orders live as long as
//! the process; the durable runtime will keep them in SQLite.

use crate::generated::*;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
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

/// The service's state: every order by id.
#[derive(Debug, Default)]
pub struct Handlers {
    orders: Mutex<BTreeMap<rt::Uuid, Order>>,
}

impl Handlers {
    /// The store. A panic while it was held leaves the orders as they
    /// were (every change below is one assignment), so a poisoned lock is
    /// taken over rather than failing every later request.
    fn store(&self) -> MutexGuard<'_, BTreeMap<rt::Uuid, Order>> {
        self.orders.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A transition as the state machine runs it: the stored order
    /// becomes `entity` (with the changes the caller made) in state `to`,
    /// or the call fails with 404, or `InvalidOrderState` when the stored
    /// order is not in one of `from`.
    fn transition(
        &self,
        entity: Order,
        from: &[OrderStatus],
        to: OrderStatus,
    ) -> Result<Order, rt::Problem> {
        let mut orders = self.store();
        let stored = orders
            .get_mut(&entity.id)
            .ok_or_else(|| not_found(entity.id))?;
        if !from.contains(&stored.status) {
            return Err(errors::InvalidOrderState {
                order_status: stored.status,
            }
            .into());
        }
        *stored = Order {
            status: to,
            ..entity
        };
        Ok(stored.clone())
    }

    /// What an event handler does with an event about an order: moves it
    /// from one of `from` to `to` and publishes the transition's event
    /// (when that fails, the order keeps its state). An order this process
    /// does not know (the store is in memory) or one already past the
    /// change (a redelivered event) is logged and left alone: neither gets
    /// better by retrying.
    fn react(
        &self,
        ctx: &rt::Context,
        id: rt::Uuid,
        from: &[OrderStatus],
        to: OrderStatus,
        emits: &'static str,
    ) -> Result<(), rt::Problem> {
        let mut orders = self.store();
        let Some(order) = orders.get_mut(&id) else {
            rt::tracing::warn!(order_id = %id, handler = ctx.operation(), "no such order: event ignored");
            return Ok(());
        };
        if !from.contains(&order.status) {
            rt::tracing::info!(
                order_id = %id,
                handler = ctx.operation(),
                status = %order.status,
                "the order is past this change: event ignored"
            );
            return Ok(());
        }
        let before = order.status;
        order.status = to;
        if let Err(p) = ctx.publish(emits, &*order) {
            order.status = before;
            return Err(p);
        }
        Ok(())
    }

    /// Cancels an order for a route: 404 when there is none, 403 when the
    /// caller may only cancel its own and this is not one, 409 once it has
    /// shipped. `publish` writes `Order.cancelled`; when it fails, the
    /// order keeps its state (the change and its event go together).
    fn cancel_for(
        &self,
        ctx: &rt::Context,
        id: rt::Uuid,
        publish: impl FnOnce(&Order) -> Result<(), rt::Problem>,
    ) -> Result<Order, CancelError> {
        let mut orders = self.store();
        let order = orders.get_mut(&id).ok_or_else(|| not_found(id))?;
        ctx.require_owner(&order.customer_id.to_string())?;
        if !not_shipped(order.status) {
            return Err(CancelError::State(errors::InvalidOrderState {
                order_status: order.status,
            }));
        }
        let before = order.status;
        order.status = OrderStatus::Cancelled;
        if let Err(p) = publish(order) {
            order.status = before;
            return Err(p.into());
        }
        Ok(order.clone())
    }
}

/// Why an order could not be cancelled (both cancel routes map it to their
/// own error type).
enum CancelError {
    State(errors::InvalidOrderState),
    Problem(rt::Problem),
}

impl From<rt::Problem> for CancelError {
    fn from(p: rt::Problem) -> Self {
        CancelError::Problem(p)
    }
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
        // Stored and published together: an order whose event could not
        // be written is not kept.
        let mut orders = self.store();
        ctx.publish_order_created(&order)?;
        orders.insert(order.id, order.clone());
        Ok(order)
    }

    async fn list_orders(
        &self,
        _ctx: list_orders::Context,
        input: list_orders::Input,
    ) -> Result<Vec<Order>, list_orders::Error> {
        let mut list: Vec<Order> = self
            .store()
            .values()
            .filter(|o| input.status.is_none_or(|s| o.status == s))
            .filter(|o| input.customer_id.is_none_or(|c| o.customer_id == c))
            .filter(|o| input.placed_after.is_none_or(|t| o.created_at > t))
            .cloned()
            .collect();
        list.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        list.truncate(usize::try_from(input.limit).unwrap_or(0));
        Ok(list)
    }

    async fn export_orders(
        &self,
        _ctx: export_orders::Context,
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
        let mut list: Vec<Order> = self
            .store()
            .values()
            .filter(|o| (from..=to).contains(&day_of(o.created_at)))
            .filter(|o| input.status.is_none_or(|s| o.status == s))
            .cloned()
            .collect();
        list.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(list)
    }

    async fn get_order(
        &self,
        _ctx: get_order::Context,
        input: get_order::Input,
    ) -> Result<Order, get_order::Error> {
        // A customer asking for someone else's order gets a 403: the
        // runtime compares the answer's customerId with the caller.
        self.store()
            .get(&input.id)
            .cloned()
            .ok_or_else(|| not_found(input.id).into())
    }

    async fn change_shipping_address(
        &self,
        ctx: change_shipping_address::Context,
        input: change_shipping_address::Input,
    ) -> Result<Order, change_shipping_address::Error> {
        let mut orders = self.store();
        let order = orders
            .get_mut(&input.id)
            .ok_or_else(|| not_found(input.id))?;
        // Before anything changes: the runtime's check of the answer comes
        // too late for a write.
        ctx.require_owner(&order.customer_id.to_string())?;
        if !not_shipped(order.status) {
            return Err(change_shipping_address::Error::InvalidOrderState(
                errors::InvalidOrderState {
                    order_status: order.status,
                },
            ));
        }
        order.shipping_address = input.body;
        Ok(order.clone())
    }

    async fn cancel_order(
        &self,
        ctx: cancel_order::Context,
        input: cancel_order::Input,
    ) -> Result<Order, cancel_order::Error> {
        let reason = input.body.reason;
        let order = self
            .cancel_for(&ctx, input.id, |o| ctx.publish_order_cancelled(o))
            .map_err(|e| match e {
                CancelError::State(s) => cancel_order::Error::InvalidOrderState(s),
                CancelError::Problem(p) => p.into(),
            })?;
        rt::tracing::info!(
            request_id = ctx.request_id(),
            order_id = %order.id,
            reason = %reason,
            "order cancelled"
        );
        Ok(order)
    }

    async fn cancel_order_legacy(
        &self,
        ctx: cancel_order_legacy::Context,
        input: cancel_order_legacy::Input,
    ) -> Result<Order, cancel_order_legacy::Error> {
        self.cancel_for(&ctx, input.id, |o| ctx.publish_order_cancelled(o))
            .map_err(|e| match e {
                CancelError::State(s) => cancel_order_legacy::Error::InvalidOrderState(s),
                CancelError::Problem(p) => p.into(),
            })
    }

    async fn cancel_unfulfillable(
        &self,
        ctx: rt::Context,
        event: rt::Event<Order>,
    ) -> Result<(), rt::Problem> {
        // The saga undid its steps; the customer hears of it through
        // Order.cancelled.
        self.react(
            &ctx,
            event.payload.id,
            NOT_SHIPPED,
            OrderStatus::Cancelled,
            "Order.cancelled",
        )
    }

    async fn mark_shipped(
        &self,
        ctx: rt::Context,
        event: rt::Event<Shipment>,
    ) -> Result<(), rt::Problem> {
        self.react(
            &ctx,
            event.payload.order_id,
            &[OrderStatus::Confirmed],
            OrderStatus::Shipped,
            "Order.shipped",
        )
    }

    async fn mark_delivered(
        &self,
        ctx: rt::Context,
        event: rt::Event<Shipment>,
    ) -> Result<(), rt::Problem> {
        self.react(
            &ctx,
            event.payload.order_id,
            &[OrderStatus::Shipped],
            OrderStatus::Delivered,
            "Order.delivered",
        )
    }

    async fn cancel_unpaid_orders(&self, ctx: rt::Context) -> Result<(), rt::Problem> {
        let now = rt::DateTime::now();
        let mut orders = self.store();
        let mut cancelled = 0usize;
        for order in orders.values_mut() {
            let age = now.duration_since(order.created_at).as_secs();
            if order.status == OrderStatus::Pending && age > UNPAID_FOR {
                order.status = OrderStatus::Cancelled;
                if let Err(p) = ctx.publish("Order.cancelled", &*order) {
                    // Left pending: the next run tries again.
                    order.status = OrderStatus::Pending;
                    return Err(p);
                }
                cancelled += 1;
            }
        }
        rt::tracing::info!(cancelled, "cancelUnpaidOrders: unpaid orders cancelled");
        Ok(())
    }

    async fn confirm(&self, _ctx: rt::Context, entity: Order) -> Result<Order, rt::Problem> {
        self.transition(entity, &[OrderStatus::Pending], OrderStatus::Confirmed)
    }

    async fn ship(&self, _ctx: rt::Context, entity: Order) -> Result<Order, rt::Problem> {
        self.transition(entity, &[OrderStatus::Confirmed], OrderStatus::Shipped)
    }

    async fn deliver(&self, _ctx: rt::Context, entity: Order) -> Result<Order, rt::Problem> {
        self.transition(entity, &[OrderStatus::Shipped], OrderStatus::Delivered)
    }

    async fn cancel(&self, _ctx: rt::Context, entity: Order) -> Result<Order, rt::Problem> {
        self.transition(entity, NOT_SHIPPED, OrderStatus::Cancelled)
    }
}
