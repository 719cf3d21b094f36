//! InventoryService's handlers: how many units of each product the
//! warehouse holds, and the stock held for open orders.
//!
//! `svcc build` compiles this file as the `handlers` module of the
//! generated crate (`gen/rust/inventory-service`), through `[rust]
//! handlers = "handlers"` in `svcc.toml`. The runtime has already
//! authenticated the caller, checked the permission and the body, and
//! answers a repeated `Idempotency-Key` itself; what is left here is the
//! warehouse's arithmetic, in two tables of the service's database
//! (`inventory_stock`, `inventory_reservations`), written in the unit of
//! work of the request, delivery or job run: the levels, the reservation,
//! the `Stock.low` events and the idempotency answer commit together, or
//! none of them.
//!
//! - **Products.** The warehouse carries the products that have a row in
//!   `inventory_stock`. The first use seeds OrderService's catalogue
//!   ([`SCHEMA`]: its four SKUs, 100 units each). An order's line names its
//!   product by SKU, the warehouse's key (`importStock` counts by SKU
//!   too); a line whose SKU has no row is `UnknownProduct`. The manifest
//!   has no route that adds a product (`setStock` has no SKU, `importStock`
//!   reports the SKUs it does not know), so a new product is a row an
//!   operator inserts.
//! - **Units.** `onHand` counts the units in the building, `reserved` those
//!   held for orders; the difference is what can still be sold. `reserve`
//!   holds units, `release` (and `Order.cancelled`, and the expiry job)
//!   gives them back, `Order.shipped` takes them out of both. `Stock.low`
//!   is published whenever a change lowers the units available and leaves
//!   them under the product's threshold, so the next sale after a missed
//!   alert raises it again.
//! - **Reservations.** An order has at most one (the table is keyed by
//!   order id): `reserve` for an order that has one returns it as it is,
//!   whatever the `Idempotency-Key`, and holds nothing more; a
//!   reservation no longer held (released, expired, committed) is never
//!   held again. A reservation is all or nothing: when any SKU is short,
//!   `InsufficientStock` lists the lines that cannot be held and nothing
//!   is written.

use crate::generated::*;
use rt::sql::{self, Connection, OptionalExtension, params};
use std::collections::{BTreeMap, BTreeSet};
use svcc_runtime::prelude as rt;

#[path = "shared/tables.rs"]
pub mod tables;
use tables::Tables;

/// The service's tables, and the products the warehouse starts with:
/// OrderService's catalogue by SKU, 100 units each (the product ids are
/// the storefront's; `TSHIRT-BLK-M`'s is the one of the README's order).
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS inventory_stock (
    product_id TEXT PRIMARY KEY,
    sku TEXT NOT NULL UNIQUE,
    on_hand INTEGER NOT NULL,
    reserved INTEGER NOT NULL,
    low_stock_threshold INTEGER NOT NULL,
    version INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS inventory_reservations (
    order_id TEXT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    reservation TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS inventory_reservations_due
    ON inventory_reservations (status, expires_at);
INSERT OR IGNORE INTO inventory_stock VALUES
    ('2b7e1c1e-3f1a-4f8e-9c55-0d6b1a2f4c11', 'TSHIRT-BLK-M', 100, 0, 5, 1, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    ('5a0d7c3e-9b1f-4e2a-8c6d-3f4b5a6c7d81', 'TSHIRT-WHT-M', 100, 0, 5, 1, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    ('8e2f4a6b-1c3d-4e5f-9a7b-2c4d6e8f0a12', 'HOODIE-GRY-L', 100, 0, 5, 1, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    ('c4d5e6f7-8a9b-4c0d-8e1f-2a3b4c5d6e73', 'MUG-LOGO', 100, 0, 5, 1, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
";

/// How long a reservation holds its stock, in seconds: long enough for a
/// confirmed order to ship, short enough that stock whose release was
/// lost (a dead-lettered `Order.cancelled`) comes back within the week.
const HOLD_FOR: i64 = 7 * 86_400;

/// InventoryService's handlers. Stock and reservations live in the
/// database; the handlers keep only whether its tables exist.
#[derive(Debug)]
pub struct Handlers {
    tables: Tables,
}

impl Default for Handlers {
    fn default() -> Self {
        Handlers {
            tables: Tables::new(SCHEMA),
        }
    }
}

/// Every column of a stock row, in the order [`stock_row`] reads them.
const STOCK: &str = "SELECT product_id, sku, on_hand, reserved, low_stock_threshold, version, updated_at FROM inventory_stock";

fn stock_row(r: &sql::Row<'_>) -> sql::Result<StockItem> {
    Ok(StockItem {
        product_id: tables::parsed(r, 0)?,
        sku: r.get(1)?,
        on_hand: r.get(2)?,
        reserved: r.get(3)?,
        low_stock_threshold: r.get(4)?,
        version: r.get(5)?,
        updated_at: tables::parsed(r, 6)?,
    })
}

/// The stock of one product, by a column (`product_id` or `sku`).
fn stock_where(c: &Connection, column: &str, value: &str) -> sql::Result<Option<StockItem>> {
    c.prepare_cached(&format!("{STOCK} WHERE {column} = ?1"))?
        .query_row([value], stock_row)
        .optional()
}

/// Units that can still be sold.
fn available(s: &StockItem) -> i64 {
    s.on_hand - s.reserved
}

/// A product's levels after a change, and whether the change took its
/// available units under its threshold (`Stock.low`).
struct Changed {
    item: StockItem,
    low: bool,
}

/// Applies `f` to a product's levels and writes them as a new version.
fn change(
    c: &Connection,
    before: StockItem,
    f: impl FnOnce(&mut StockItem),
) -> sql::Result<Changed> {
    let mut item = before.clone();
    f(&mut item);
    item.version += 1;
    item.updated_at = rt::DateTime::now();
    c.prepare_cached(
        "UPDATE inventory_stock SET on_hand = ?2, reserved = ?3, low_stock_threshold = ?4,
         version = ?5, updated_at = ?6 WHERE product_id = ?1",
    )?
    .execute(params![
        item.product_id.to_string(),
        item.on_hand,
        item.reserved,
        item.low_stock_threshold,
        item.version,
        item.updated_at.to_string()
    ])?;
    let low = available(&item) < available(&before) && available(&item) < item.low_stock_threshold;
    Ok(Changed { item, low })
}

/// Units asked for by SKU: a SKU may stand on several lines.
fn wanted<'a>(lines: impl IntoIterator<Item = (&'a str, i64)>) -> BTreeMap<&'a str, i64> {
    let mut units = BTreeMap::new();
    for (sku, quantity) in lines {
        *units.entry(sku).or_insert(0) += quantity;
    }
    units
}

/// The stock of every SKU asked for, or the product of the first line
/// whose SKU the warehouse does not carry.
fn stock_of<'a>(
    c: &Connection,
    lines: &[(&'a str, rt::Uuid)],
) -> sql::Result<Result<BTreeMap<&'a str, StockItem>, rt::Uuid>> {
    let mut stock = BTreeMap::new();
    for &(sku, product_id) in lines {
        match stock_where(c, "sku", sku)? {
            Some(item) => {
                if item.product_id != product_id {
                    rt::tracing::warn!(sku, %product_id, stocked_as = %item.product_id, "a line's product id is not the warehouse's for its SKU: the SKU counts");
                }
                stock.insert(sku, item);
            }
            None => return Ok(Err(product_id)),
        }
    }
    Ok(Ok(stock))
}

/// The SKUs of which fewer units are available than asked for.
fn short(units: &BTreeMap<&str, i64>, stock: &BTreeMap<&str, StockItem>) -> BTreeSet<String> {
    units
        .iter()
        .filter(|(sku, n)| stock.get(*sku).is_none_or(|s| available(s) < **n))
        .map(|(sku, _)| (*sku).to_string())
        .collect()
}

/// The reservation of an order, or with an id.
fn reservation_where(
    c: &Connection,
    column: &str,
    id: rt::Uuid,
) -> sql::Result<Option<Reservation>> {
    c.prepare_cached(&format!(
        "SELECT reservation FROM inventory_reservations WHERE {column} = ?1"
    ))?
    .query_row([id.to_string()], |r| tables::json(r, 0))
    .optional()
}

fn put_reservation(c: &Connection, r: &Reservation) -> sql::Result<()> {
    c.prepare_cached(
        "INSERT INTO inventory_reservations (order_id, id, status, expires_at, reservation)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (order_id) DO UPDATE SET status = excluded.status,
             expires_at = excluded.expires_at, reservation = excluded.reservation",
    )?
    .execute(params![
        r.order_id.to_string(),
        r.id.to_string(),
        r.status.as_str(),
        r.expires_at.as_second(),
        tables::to_json(r)?
    ])?;
    Ok(())
}

/// Ends a held reservation as `status` (released, expired or committed):
/// its units are no longer reserved, and a committed one's have left the
/// building too.
fn end_hold(
    c: &Connection,
    mut r: Reservation,
    status: ReservationStatus,
) -> sql::Result<Reservation> {
    let lines = r.items.iter().map(|i| (i.sku.as_str(), i.quantity));
    for (sku, units) in wanted(lines) {
        let Some(item) = stock_where(c, "sku", sku)? else {
            rt::tracing::warn!(sku, order_id = %r.order_id, "a held SKU is no longer stocked: nothing to give back");
            continue;
        };
        change(c, item, |s| {
            s.reserved = (s.reserved - units).max(0);
            if status == ReservationStatus::Committed {
                s.on_hand = (s.on_hand - units).max(0);
            }
        })?;
    }
    r.status = status;
    put_reservation(c, &r)?;
    Ok(r)
}

/// The version an `If-Match` header names (`3`, `"3"`, `W/"3"`), or
/// `None` for `*` (any version).
fn if_match(header: &str) -> Result<Option<i64>, rt::Problem> {
    let v = header.trim();
    if v == "*" {
        return Ok(None);
    }
    let v = v.strip_prefix("W/").unwrap_or(v).trim_matches('"');
    v.parse().map(Some).map_err(|_| {
        rt::Problem::bad_request(format!(
            "If-Match must be the stock's version (its `version`), not `{header}`"
        ))
    })
}

fn no_product(id: rt::Uuid) -> rt::Problem {
    rt::Problem::not_found(format!("the warehouse does not carry product {id}"))
}

impl Handlers {
    /// Ends the held reservation of an order for an event. An order with
    /// no reservation, or one no longer held, is logged and left alone:
    /// neither gets better by retrying.
    async fn end_for_event(
        &self,
        ctx: &rt::Context,
        order_id: rt::Uuid,
        status: ReservationStatus,
    ) -> Result<(), rt::Problem> {
        let tx = self.tables.tx(ctx).await?;
        tx.with_conn(|c| {
            match reservation_where(c, "order_id", order_id)? {
                Some(r) if r.status == ReservationStatus::Held => {
                    end_hold(c, r, status)?;
                    rt::tracing::info!(%order_id, handler = ctx.operation(), %status, "reservation ended");
                }
                Some(r) => {
                    rt::tracing::info!(%order_id, handler = ctx.operation(), status = %r.status, "the reservation is not held: event ignored");
                }
                None => {
                    rt::tracing::info!(%order_id, handler = ctx.operation(), "the order has no reservation: event ignored");
                }
            }
            Ok(())
        })
    }
}

impl InventoryServiceHandlers for Handlers {
    async fn list_stock(
        &self,
        ctx: list_stock::Context,
        input: list_stock::Input,
    ) -> Result<Vec<StockItem>, list_stock::Error> {
        let filter = if input.below_threshold {
            " WHERE on_hand - reserved < low_stock_threshold"
        } else {
            ""
        };
        Ok(self
            .tables
            .read(&ctx, |c| {
                c.prepare_cached(&format!("{STOCK}{filter} ORDER BY sku LIMIT ?1"))?
                    .query_map([input.limit], stock_row)?
                    .collect()
            })
            .await?)
    }

    async fn get_stock(
        &self,
        ctx: get_stock::Context,
        input: get_stock::Input,
    ) -> Result<StockItem, get_stock::Error> {
        let id = input.product_id;
        self.tables
            .read(&ctx, |c| stock_where(c, "product_id", &id.to_string()))
            .await?
            .ok_or_else(|| no_product(id).into())
    }

    async fn set_stock(
        &self,
        ctx: set_stock::Context,
        input: set_stock::Input,
    ) -> Result<StockItem, set_stock::Error> {
        let expected = if_match(&input.if_match)?;
        let id = input.product_id;
        let tx = self.tables.tx(&ctx).await?;
        let item = tx
            .with_conn(|c| stock_where(c, "product_id", &id.to_string()))?
            .ok_or_else(|| no_product(id))?;
        if expected.is_some_and(|v| v != item.version) {
            return Err(set_stock::Error::VersionConflict(errors::VersionConflict {
                current_version: item.version,
            }));
        }
        let level = input.body;
        let changed = tx.with_conn(|c| {
            change(c, item, |s| {
                s.on_hand = level.on_hand;
                s.low_stock_threshold = level.low_stock_threshold.unwrap_or(s.low_stock_threshold);
            })
        })?;
        if changed.low {
            ctx.publish_stock_low(&changed.item)?;
        }
        Ok(changed.item)
    }

    async fn check_stock(
        &self,
        ctx: check_stock::Context,
        input: check_stock::Input,
    ) -> Result<StockCheck, check_stock::Error> {
        let items = input.body.items;
        let lines: Vec<(&str, rt::Uuid)> = items
            .iter()
            .map(|i| (i.sku.as_str(), i.product_id))
            .collect();
        let stock = self.tables.read(&ctx, |c| stock_of(c, &lines)).await?;
        let stock = stock.map_err(|product_id| {
            check_stock::Error::UnknownProduct(errors::UnknownProduct { product_id })
        })?;
        let units = wanted(items.iter().map(|i| (i.sku.as_str(), i.quantity)));
        let short = short(&units, &stock);
        Ok(StockCheck {
            available: short.is_empty(),
            shortages: stock
                .into_values()
                .filter(|s| short.contains(&s.sku))
                .collect(),
        })
    }

    async fn import_stock(
        &self,
        ctx: import_stock::Context,
        input: import_stock::Input,
    ) -> Result<StockImportResult, import_stock::Error> {
        let levels = input.body.levels;
        if let Some((sku, n)) = levels.iter().find(|(_, n)| **n < 0) {
            return Err(rt::Problem::bad_request(format!(
                "a count is never negative: {sku} has {n}"
            ))
            .into());
        }
        let tx = self.tables.tx(&ctx).await?;
        let (changed, unknown_skus) = tx.with_conn(|c| {
            let (mut changed, mut unknown) = (Vec::new(), Vec::new());
            for (sku, units) in &levels {
                match stock_where(c, "sku", sku)? {
                    Some(item) => changed.push(change(c, item, |s| s.on_hand = *units)?),
                    None => unknown.push(sku.clone()),
                }
            }
            Ok((changed, unknown))
        })?;
        let carried: i64 = tx
            .with_conn(|c| c.query_row("SELECT COUNT(*) FROM inventory_stock", [], |r| r.get(0)))?;
        let updated = i64::try_from(changed.len()).unwrap_or(i64::MAX);
        if carried > updated {
            rt::tracing::info!(
                not_counted = carried - updated,
                "importStock: products the count does not name keep their levels"
            );
        }
        for c in changed.iter().filter(|c| c.low) {
            ctx.publish_stock_low(&c.item)?;
        }
        Ok(StockImportResult {
            updated,
            unknown_skus,
        })
    }

    async fn reserve(
        &self,
        ctx: reserve::Context,
        input: reserve::Input,
    ) -> Result<Reservation, reserve::Error> {
        let order = input.body;
        let tx = self.tables.tx(&ctx).await?;
        if let Some(r) = tx.with_conn(|c| reservation_where(c, "order_id", order.id))? {
            rt::tracing::info!(order_id = %order.id, status = %r.status, "the order has a reservation: returned as it is");
            return Ok(r);
        }
        let lines: Vec<(&str, rt::Uuid)> = order
            .items
            .iter()
            .map(|i| (i.sku.as_str(), i.product_id))
            .collect();
        let stock = tx
            .with_conn(|c| stock_of(c, &lines))?
            .map_err(|product_id| {
                reserve::Error::UnknownProduct(errors::UnknownProduct { product_id })
            })?;
        let units = wanted(order.items.iter().map(|i| (i.sku.as_str(), i.quantity)));
        let short = short(&units, &stock);
        if !short.is_empty() {
            let shortages = order
                .items
                .iter()
                .filter(|i| short.contains(&i.sku))
                .cloned()
                .collect();
            return Err(reserve::Error::InsufficientStock(
                errors::InsufficientStock { shortages },
            ));
        }
        let expires_at = rt::DateTime::now()
            .checked_add(rt::Duration::from_secs(HOLD_FOR))
            .map_err(|e| rt::Problem::internal(e.to_string()))?;
        let reservation = Reservation {
            id: rt::Uuid::new_v4(),
            order_id: order.id,
            items: order.items.clone(),
            status: ReservationStatus::Held,
            shortages: Vec::new(),
            expires_at,
        };
        let low = tx.with_conn(|c| {
            let mut low = Vec::new();
            for (sku, item) in stock {
                let n = units.get(sku).copied().unwrap_or(0);
                let changed = change(c, item, |s| s.reserved += n)?;
                if changed.low {
                    low.push(changed.item);
                }
            }
            put_reservation(c, &reservation)?;
            Ok(low)
        })?;
        for item in &low {
            ctx.publish_stock_low(item)?;
        }
        Ok(reservation)
    }

    async fn release(
        &self,
        ctx: release::Context,
        input: release::Input,
    ) -> Result<Reservation, release::Error> {
        // Reservation.id is the runtime's to set: found by the order.
        let order_id = input.body.order_id;
        let tx = self.tables.tx(&ctx).await?;
        let r = tx
            .with_conn(|c| reservation_where(c, "order_id", order_id))?
            .ok_or_else(|| {
                rt::Problem::not_found(format!("order {order_id} has no reservation"))
            })?;
        if r.status != ReservationStatus::Held {
            rt::tracing::info!(%order_id, status = %r.status, "the reservation is not held: nothing to give back");
            return Ok(r);
        }
        Ok(tx.with_conn(|c| end_hold(c, r, ReservationStatus::Released))?)
    }

    async fn get_reservation(
        &self,
        ctx: get_reservation::Context,
        input: get_reservation::Input,
    ) -> Result<Reservation, get_reservation::Error> {
        let id = input.id;
        self.tables
            .read(&ctx, |c| reservation_where(c, "id", id))
            .await?
            .ok_or_else(|| rt::Problem::not_found(format!("there is no reservation {id}")).into())
    }

    async fn release_stock(
        &self,
        ctx: rt::Context,
        event: rt::Event<Order>,
    ) -> Result<(), rt::Problem> {
        self.end_for_event(&ctx, event.payload.id, ReservationStatus::Released)
            .await
    }

    async fn commit_stock(
        &self,
        ctx: rt::Context,
        event: rt::Event<Order>,
    ) -> Result<(), rt::Problem> {
        self.end_for_event(&ctx, event.payload.id, ReservationStatus::Committed)
            .await
    }

    async fn release_expired_reservations(&self, ctx: rt::Context) -> Result<(), rt::Problem> {
        let now = rt::DateTime::now().as_second();
        let tx = self.tables.tx(&ctx).await?;
        let expired = tx.with_conn(|c| {
            let due: Vec<Reservation> = c
                .prepare_cached(
                    "SELECT reservation FROM inventory_reservations
                     WHERE status = 'held' AND expires_at <= ?1",
                )?
                .query_map([now], |r| tables::json(r, 0))?
                .collect::<sql::Result<_>>()?;
            let n = due.len();
            for r in due {
                end_hold(c, r, ReservationStatus::Expired)?;
            }
            Ok(n)
        })?;
        rt::tracing::info!(
            expired,
            "releaseExpiredReservations: held stock past its expiry given back"
        );
        Ok(())
    }
}
