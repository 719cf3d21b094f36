//! ShipmentService's handlers: one parcel per order, from the saga's
//! `ship` step to the customer's door.
//!
//! `svcc build` compiles this file as the `handlers` module of the
//! generated crate (`gen/rust/shipment-service`), through `[rust]
//! handlers = "handlers"` in `svcc.toml`. A parcel is the Shipment of the
//! manifest's state machine, kept by the generated `state` module
//! (`preparing` -> `dispatched` -> `delivered`, or `preparing` ->
//! `cancelled`); beside it, in the unit of work of the same request or
//! delivery, three tables of the service's own:
//!
//! | table | holds |
//! |---|---|
//! | `shipment_parcels` | the parcel of each order (one: `createShipment` for an order that has one returns it), and since when it is on the warehouse's pick list |
//! | `shipment_tracking` | which parcel a carrier's tracking number belongs to |
//! | `shipment_carrier_updates` | every tracking update the carriers pushed |
//!
//! A parcel goes on the pick list only when its order's fulfilment has
//! succeeded (`Order.fulfilled`): until then the saga may still undo the
//! order, so `dispatchShipment` refuses a parcel that is not on it.
//! `Order.cancelled` and the saga's compensation (`cancel`) withdraw a
//! parcel that has not left; a carrier's `delivered` applies `deliver`.
//!
//! A transition hook receives only the entity, not the request that asked
//! for it, so `dispatchShipment` saves the carrier and tracking number
//! first and the `dispatch` hook stamps the time; `applyCarrierUpdate`
//! does the same with the delivery time.

use crate::generated::*;
use rt::sql::{Connection, OptionalExtension, params};
use svcc_runtime::prelude as rt;

#[path = "shared/tables.rs"]
pub mod tables;
use tables::Tables;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS shipment_parcels (
    order_id TEXT PRIMARY KEY,
    shipment_id TEXT NOT NULL UNIQUE,
    on_pick_list_since TEXT
);
CREATE TABLE IF NOT EXISTS shipment_tracking (
    carrier TEXT NOT NULL,
    tracking_number TEXT NOT NULL,
    shipment_id TEXT NOT NULL,
    PRIMARY KEY (carrier, tracking_number)
);
CREATE TABLE IF NOT EXISTS shipment_carrier_updates (
    shipment_id TEXT NOT NULL,
    event TEXT NOT NULL,
    location TEXT,
    occurred_at TEXT NOT NULL,
    received_at TEXT NOT NULL
);
";

/// ShipmentService's handlers. Parcels live in the database; the handlers
/// keep only whether its tables exist.
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

/// The parcel of an order, if it has one.
fn parcel_of(c: &Connection, order_id: rt::Uuid) -> rt::sql::Result<Option<rt::Uuid>> {
    c.prepare_cached("SELECT shipment_id FROM shipment_parcels WHERE order_id = ?1")?
        .query_row([order_id.to_string()], |r| tables::parsed(r, 0))
        .optional()
}

/// Whether a parcel is on the warehouse's pick list.
fn on_pick_list(c: &Connection, id: rt::Uuid) -> rt::sql::Result<bool> {
    c.prepare_cached(
        "SELECT on_pick_list_since IS NOT NULL FROM shipment_parcels WHERE shipment_id = ?1",
    )?
    .query_row([id.to_string()], |r| r.get(0))
    .optional()
    .map(|listed| listed.unwrap_or(false))
}

/// The parcel a carrier's tracking number belongs to.
fn tracked(c: &Connection, carrier: Carrier, number: &str) -> rt::sql::Result<Option<rt::Uuid>> {
    c.prepare_cached(
        "SELECT shipment_id FROM shipment_tracking WHERE carrier = ?1 AND tracking_number = ?2",
    )?
    .query_row(params![carrier.as_str(), number], |r| tables::parsed(r, 0))
    .optional()
}

fn not_found(id: rt::Uuid) -> rt::Problem {
    rt::Problem::not_found(format!("there is no shipment {id}"))
}

impl Handlers {
    /// The parcel of the order an event is about. An order with no parcel,
    /// or one whose parcel is past `preparing` (it left, or was withdrawn),
    /// is logged and left alone: neither gets better by retrying.
    async fn preparing_parcel(
        &self,
        ctx: &rt::Context,
        order_id: rt::Uuid,
    ) -> Result<Option<Shipment>, rt::Problem> {
        let tx = self.tables.tx(ctx).await?;
        let Some(id) = tx.with_conn(|c| parcel_of(c, order_id))? else {
            rt::tracing::info!(%order_id, handler = ctx.operation(), "the order has no parcel: event ignored");
            return Ok(None);
        };
        let Some(shipment) = state::get(ctx, id).await? else {
            rt::tracing::warn!(%order_id, shipment_id = %id, handler = ctx.operation(), "the order's parcel is missing: event ignored");
            return Ok(None);
        };
        if shipment.status != ShipmentStatus::Preparing {
            rt::tracing::info!(%order_id, shipment_id = %id, status = %shipment.status, handler = ctx.operation(), "the parcel is past preparing: event ignored");
            return Ok(None);
        }
        Ok(Some(shipment))
    }
}

impl ShipmentServiceHandlers for Handlers {
    async fn list_shipments(
        &self,
        ctx: list_shipments::Context,
        input: list_shipments::Input,
    ) -> Result<Vec<Shipment>, list_shipments::Error> {
        let mut list: Vec<Shipment> = state::list(&ctx)
            .await?
            .into_iter()
            .filter(|s| input.order_id.is_none_or(|o| s.order_id == o))
            .filter(|s| input.status.is_none_or(|st| s.status == st))
            .collect();
        list.truncate(usize::try_from(input.limit).unwrap_or(0));
        Ok(list)
    }

    async fn create_shipment(
        &self,
        ctx: create_shipment::Context,
        input: create_shipment::Input,
    ) -> Result<Shipment, create_shipment::Error> {
        let order = input.body;
        let tx = self.tables.tx(&ctx).await?;
        if let Some(id) = tx.with_conn(|c| parcel_of(c, order.id))? {
            let shipment = state::get(&ctx, id).await?.ok_or_else(|| not_found(id))?;
            rt::tracing::info!(order_id = %order.id, shipment_id = %id, "the order has a parcel: returned as it is");
            return Ok(shipment);
        }
        let shipment = Shipment {
            id: rt::Uuid::new_v4(),
            order_id: order.id,
            customer_id: order.customer_id,
            address: order.shipping_address,
            status: ShipmentStatus::Preparing,
            carrier: None,
            tracking_number: None,
            dispatched_at: None,
            delivered_at: None,
        };
        let shipment = state::create(&ctx, shipment.id, &shipment).await?;
        tx.with_conn(|c| {
            c.execute(
                "INSERT INTO shipment_parcels (order_id, shipment_id) VALUES (?1, ?2)",
                params![order.id.to_string(), shipment.id.to_string()],
            )
        })?;
        Ok(shipment)
    }

    async fn get_shipment(
        &self,
        ctx: get_shipment::Context,
        input: get_shipment::Input,
    ) -> Result<Shipment, get_shipment::Error> {
        // A customer asking for someone else's parcel gets a 403: the
        // runtime compares the answer's customerId with the caller.
        state::get(&ctx, input.id)
            .await?
            .ok_or_else(|| not_found(input.id).into())
    }

    async fn dispatch_shipment(
        &self,
        ctx: dispatch_shipment::Context,
        input: dispatch_shipment::Input,
    ) -> Result<Shipment, dispatch_shipment::Error> {
        let id = input.id;
        let details = input.body;
        let tx = self.tables.tx(&ctx).await?;
        let shipment = state::get(&ctx, id).await?.ok_or_else(|| not_found(id))?;
        if shipment.status != ShipmentStatus::Preparing {
            return Err(dispatch_shipment::Error::ShipmentNotReady(
                errors::ShipmentNotReady {
                    shipment_status: shipment.status,
                },
            ));
        }
        if !tx.with_conn(|c| on_pick_list(c, id))? {
            return Err(rt::Problem::conflict(
                "the parcel is not on the pick list: its order's fulfilment has not finished",
            )
            .into());
        }
        let carrier = details.carrier;
        let number = details.tracking_number;
        if let Some(other) = tx.with_conn(|c| tracked(c, carrier, &number))? {
            return Err(rt::Problem::conflict(format!(
                "{carrier} tracking number {number} belongs to shipment {other}"
            ))
            .into());
        }
        tx.with_conn(|c| {
            c.execute(
                "INSERT INTO shipment_tracking (carrier, tracking_number, shipment_id) VALUES (?1, ?2, ?3)",
                params![carrier.as_str(), number, id.to_string()],
            )
        })?;
        let shipment = Shipment {
            carrier: Some(carrier),
            tracking_number: Some(number),
            ..shipment
        };
        state::save(&ctx, id, &shipment).await?;
        // `Shipment.dispatched` commits with it.
        Ok(state::dispatch(self, &ctx, id).await?)
    }

    async fn release_to_warehouse(
        &self,
        ctx: rt::Context,
        event: rt::Event<Order>,
    ) -> Result<(), rt::Problem> {
        let Some(shipment) = self.preparing_parcel(&ctx, event.payload.id).await? else {
            return Ok(());
        };
        let tx = self.tables.tx(&ctx).await?;
        tx.with_conn(|c| {
            c.execute(
                "UPDATE shipment_parcels SET on_pick_list_since = COALESCE(on_pick_list_since, ?2)
                 WHERE shipment_id = ?1",
                params![shipment.id.to_string(), rt::DateTime::now().to_string()],
            )
        })?;
        rt::tracing::info!(order_id = %shipment.order_id, shipment_id = %shipment.id, "the parcel is on the pick list");
        Ok(())
    }

    async fn withdraw_shipment(
        &self,
        ctx: rt::Context,
        event: rt::Event<Order>,
    ) -> Result<(), rt::Problem> {
        if let Some(shipment) = self.preparing_parcel(&ctx, event.payload.id).await? {
            state::cancel(self, &ctx, shipment.id).await?;
        }
        Ok(())
    }

    async fn apply_carrier_update(
        &self,
        ctx: rt::Context,
        event: rt::Event<CarrierUpdate>,
    ) -> Result<(), rt::Problem> {
        let update = event.payload;
        let tx = self.tables.tx(&ctx).await?;
        let Some(id) = tx.with_conn(|c| tracked(c, update.carrier, &update.tracking_number))?
        else {
            rt::tracing::warn!(carrier = %update.carrier, tracking_number = %update.tracking_number, "a carrier update for no parcel of ours: ignored");
            return Ok(());
        };
        tx.with_conn(|c| {
            c.execute(
                "INSERT INTO shipment_carrier_updates (shipment_id, event, location, occurred_at, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    id.to_string(),
                    update.event.as_str(),
                    update.location,
                    update.occurred_at.to_string(),
                    rt::DateTime::now().to_string()
                ],
            )
        })?;
        let shipment = state::get(&ctx, id).await?.ok_or_else(|| not_found(id))?;
        match update.event {
            CarrierUpdateEvent::Delivered if shipment.status == ShipmentStatus::Dispatched => {
                let shipment = Shipment {
                    delivered_at: Some(update.occurred_at),
                    ..shipment
                };
                state::save(&ctx, id, &shipment).await?;
                state::deliver(self, &ctx, id).await?;
            }
            CarrierUpdateEvent::Delivered => {
                rt::tracing::warn!(shipment_id = %id, status = %shipment.status, "the carrier says delivered, but the parcel is not out: left as it is");
            }
            CarrierUpdateEvent::Exception => {
                rt::tracing::warn!(shipment_id = %id, location = ?update.location, "the carrier reports a problem with the parcel");
            }
            other => {
                rt::tracing::info!(shipment_id = %id, event = %other, location = ?update.location, "carrier update recorded");
            }
        }
        Ok(())
    }

    async fn poll_carrier_tracking(&self, ctx: rt::Context) -> Result<(), rt::Problem> {
        let out: Vec<Shipment> = state::list(&ctx)
            .await?
            .into_iter()
            .filter(|s| s.status == ShipmentStatus::Dispatched)
            .collect();
        for carrier in Carrier::ALL {
            let n = out.iter().filter(|s| s.carrier == Some(carrier)).count();
            if n > 0 {
                rt::tracing::info!(
                    %carrier,
                    parcels = n,
                    "pollCarrierTracking: this deployment has no carrier API to ask; a real one \
                     asks the carrier for each of these parcels' tracking and applies what the \
                     push integration missed"
                );
            }
        }
        rt::tracing::info!(out = out.len(), "pollCarrierTracking: parcels on their way");
        Ok(())
    }

    async fn dispatch(&self, _ctx: rt::Context, entity: Shipment) -> Result<Shipment, rt::Problem> {
        if entity.carrier.is_none() || entity.tracking_number.is_none() {
            return Err(rt::Problem::conflict(
                "a parcel leaves with its carrier and tracking number: POST /shipments/{id}/dispatch",
            ));
        }
        Ok(Shipment {
            dispatched_at: Some(entity.dispatched_at.unwrap_or_else(rt::DateTime::now)),
            ..entity
        })
    }

    async fn deliver(&self, _ctx: rt::Context, entity: Shipment) -> Result<Shipment, rt::Problem> {
        Ok(Shipment {
            delivered_at: Some(entity.delivered_at.unwrap_or_else(rt::DateTime::now)),
            ..entity
        })
    }

    async fn cancel(&self, ctx: rt::Context, entity: Shipment) -> Result<Shipment, rt::Problem> {
        // Off the pick list: the warehouse must not pack it any more.
        let tx = self.tables.tx(&ctx).await?;
        tx.with_conn(|c| {
            c.execute(
                "UPDATE shipment_parcels SET on_pick_list_since = NULL WHERE shipment_id = ?1",
                [entity.id.to_string()],
            )
        })?;
        rt::tracing::info!(shipment_id = %entity.id, order_id = %entity.order_id, "parcel withdrawn");
        Ok(entity)
    }
}
