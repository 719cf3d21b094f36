//! Entities and their state machines.
//!
//! Why it exists: a core service's entity (compiler/docs/language.md, "State machine") is the
//! source of truth, and each transition must change its state and write
//! the transition's event in one transaction. Entities are stored as JSON
//! with their state in a column of its own (so the transition check needs
//! no JSON parsing) and a version that counts writes. [`Tx::transition`]
//! applies a [`TransitionSpec`]: a transition from a state it does not
//! leave is refused with a 409 problem that names the current state and the
//! allowed ones, before anything is written.

use super::outbox::NewEvent;
use crate::Problem;
use crate::pipeline::store::{Tx, now_ms};
use crate::spec::TransitionSpec;
use crate::sql::{self, OptionalExtension, params};
use serde_json::Value;

/// A stored entity.
#[derive(Clone, Debug, PartialEq)]
pub struct Entity {
    /// The entity type (`Order`).
    pub kind: String,
    /// Its id.
    pub id: String,
    /// Its state-machine state, when the type has one.
    pub state: Option<String>,
    /// The entity itself.
    pub json: Value,
    /// 1 on creation, +1 at each write.
    pub version: i64,
}

impl Entity {
    /// `Order/42`: the entity key its events are ordered by.
    pub fn key(&self) -> String {
        entity_key(&self.kind, &self.id)
    }
}

/// `Order/42`.
pub fn entity_key(kind: &str, id: &str) -> String {
    format!("{kind}/{id}")
}

/// The state machine of a service's entity (`state:` in the manifest).
#[derive(Clone, Copy, Debug)]
pub struct Machine {
    /// The entity type (`Order`).
    pub entity: &'static str,
    /// The enum field holding the state (`status`).
    pub field: &'static str,
    /// The transitions.
    pub transitions: &'static [TransitionSpec],
}

impl Tx {
    /// Reads an entity.
    pub fn entity(&self, kind: &str, id: &str) -> Result<Option<Entity>, Problem> {
        let row = self.with_conn(|c| {
            c.prepare_cached(
                "SELECT state, json, version FROM entities WHERE type = ?1 AND id = ?2",
            )?
            .query_row(params![kind, id], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .optional()
        })?;
        let Some((state, json, version)) = row else {
            return Ok(None);
        };
        let json = serde_json::from_str(&json)
            .map_err(|e| Problem::internal(format!("entity {kind}/{id}: {e}")))?;
        Ok(Some(Entity {
            kind: kind.to_string(),
            id: id.to_string(),
            state,
            json,
            version,
        }))
    }

    /// Writes an entity (creating it or replacing it); returns its new
    /// version.
    pub fn put_entity(
        &self,
        kind: &str,
        id: &str,
        state: Option<&str>,
        json: &Value,
    ) -> Result<i64, Problem> {
        let text = serde_json::to_string(json).map_err(|e| Problem::internal(e.to_string()))?;
        self.with_conn(|c| {
            c.prepare_cached(
                "INSERT INTO entities (type, id, state, json, version, updated)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5)
                 ON CONFLICT (type, id) DO UPDATE SET
                    state = excluded.state, json = excluded.json,
                    version = entities.version + 1, updated = excluded.updated
                 RETURNING version",
            )?
            .query_row(params![kind, id, state, text, now_ms()], |r| r.get(0))
        })
    }

    /// Creates an entity of a state machine in its `initial` state (the
    /// state field of `json` is set to it); 409 when it exists.
    pub fn create_entity(
        &self,
        machine: &Machine,
        id: &str,
        initial: &str,
        mut json: Value,
    ) -> Result<Entity, Problem> {
        if let Some(existing) = self.entity(machine.entity, id)? {
            return Err(
                Problem::conflict(format!("{} {id} already exists", machine.entity))
                    .with("currentState", existing.state),
            );
        }
        set_field(&mut json, machine.field, initial)?;
        let version = self.put_entity(machine.entity, id, Some(initial), &json)?;
        Ok(Entity {
            kind: machine.entity.to_string(),
            id: id.to_string(),
            state: Some(initial.to_string()),
            json,
            version,
        })
    }

    /// Applies the transition `name` to the entity `id`: 404 when there
    /// is no such entity, 409 when its current state is not one the
    /// transition leaves (the problem's `currentState` and `allowedFrom`
    /// members name them), else writes the new state and, when the
    /// transition `emits` an event, appends it with the entity as payload,
    /// both in this transaction. Returns the entity as written.
    pub fn transition(&self, machine: &Machine, name: &str, id: &str) -> Result<Entity, Problem> {
        let entity = self.start_transition(machine, name, id)?;
        self.finish_transition(machine, name, entity, Origin::default())
    }

    /// The first half of [`Tx::transition`]: loads the entity and checks
    /// that `name` may leave its state (404, 409), writing nothing. Between
    /// the two halves the caller may change the entity (a transition's
    /// hook); the transaction keeps anyone else from writing it.
    pub fn start_transition(
        &self,
        machine: &Machine,
        name: &str,
        id: &str,
    ) -> Result<Entity, Problem> {
        let spec = transition_spec(machine, name)?;
        let Some(entity) = self.entity(machine.entity, id)? else {
            return Err(Problem::not_found(format!(
                "{} {id} not found",
                machine.entity
            )));
        };
        let current = entity.state.clone().unwrap_or_default();
        if !spec.from.contains(&current.as_str()) {
            return Err(
                Problem::new(409, "invalid-transition", "Invalid state transition")
                    .with_detail(format!(
                        "cannot {name} {} {id}: it is {current}, and {name} applies only to {}",
                        machine.entity,
                        spec.from.join(", ")
                    ))
                    .with("transition", name)
                    .with("currentState", &current)
                    .with("allowedFrom", spec.from),
            );
        }
        Ok(entity)
    }

    /// The second half of [`Tx::transition`]: writes `entity` (as the
    /// first half returned it, possibly changed) in the transition's target
    /// state, and its event.
    pub fn finish_transition(
        &self,
        machine: &Machine,
        name: &str,
        entity: Entity,
        origin: Origin<'_>,
    ) -> Result<Entity, Problem> {
        let (entity, emits) = self.write_transition(machine, name, entity)?;
        if let Some(event) = emits {
            let key = entity.key();
            self.append(NewEvent {
                name: event,
                entity_key: Some(&key),
                payload: &entity.json,
                source: Some(name),
                request_id: origin.request_id,
                trace_id: origin.trace_id,
            })?;
        }
        Ok(entity)
    }

    /// [`Tx::finish_transition`] without the event: writes the entity in
    /// the target state and returns the event the caller must append (the
    /// request's unit of work appends it with the operation's other
    /// events when it commits).
    pub fn write_transition(
        &self,
        machine: &Machine,
        name: &str,
        mut entity: Entity,
    ) -> Result<(Entity, Option<&'static str>), Problem> {
        let spec = transition_spec(machine, name)?;
        set_field(&mut entity.json, machine.field, spec.to)?;
        entity.version =
            self.put_entity(machine.entity, &entity.id, Some(spec.to), &entity.json)?;
        entity.state = Some(spec.to.to_string());
        Ok((entity, spec.emits))
    }

    /// Replaces an entity's fields, keeping its state: 404 when it does
    /// not exist, 409 when `json` names another state (states change only
    /// through transitions).
    pub fn save_entity(&self, machine: &Machine, id: &str, json: Value) -> Result<Entity, Problem> {
        let Some(stored) = self.entity(machine.entity, id)? else {
            return Err(Problem::not_found(format!(
                "{} {id} not found",
                machine.entity
            )));
        };
        let state = stored.state.clone().unwrap_or_default();
        if let Some(asked) = json.get(machine.field).and_then(Value::as_str)
            && asked != state
        {
            return Err(Problem::new(409, "invalid-transition", "Invalid state transition")
                .with_detail(format!(
                    "{} {id} is {state}: its {} changes only through a transition, not to {asked} by a save",
                    machine.entity, machine.field
                ))
                .with("currentState", &state));
        }
        let mut json = json;
        set_field(&mut json, machine.field, &state)?;
        let version = self.put_entity(machine.entity, id, Some(&state), &json)?;
        Ok(Entity {
            kind: machine.entity.to_string(),
            id: id.to_string(),
            state: Some(state),
            json,
            version,
        })
    }

    /// Every entity of a type, by id.
    pub fn entities(&self, kind: &str) -> Result<Vec<Entity>, Problem> {
        self.with_conn(|c| list_rows(c, kind))?
            .into_iter()
            .map(|row| row.into_entity(kind))
            .collect()
    }
}

/// Where a transition's event came from (the request that caused it).
#[derive(Clone, Copy, Debug, Default)]
pub struct Origin<'a> {
    /// The request id.
    pub request_id: Option<&'a str>,
    /// The trace id.
    pub trace_id: Option<&'a str>,
}

fn transition_spec<'m>(machine: &'m Machine, name: &str) -> Result<&'m TransitionSpec, Problem> {
    machine
        .transitions
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| Problem::internal(format!("{} has no transition `{name}`", machine.entity)))
}

/// An entity row as read.
pub(crate) struct Row {
    id: String,
    state: Option<String>,
    json: String,
    version: i64,
}

impl Row {
    fn into_entity(self, kind: &str) -> Result<Entity, Problem> {
        let json = serde_json::from_str(&self.json)
            .map_err(|e| Problem::internal(format!("entity {kind}/{}: {e}", self.id)))?;
        Ok(Entity {
            kind: kind.to_string(),
            id: self.id,
            state: self.state,
            json,
            version: self.version,
        })
    }
}

fn list_rows(c: &sql::Connection<'_>, kind: &str) -> sql::Result<Vec<Row>> {
    c.prepare_cached("SELECT id, state, json, version FROM entities WHERE type = ?1 ORDER BY id")?
        .query_map(params![kind], |r| {
            Ok(Row {
                id: r.get(0)?,
                state: r.get(1)?,
                json: r.get(2)?,
                version: r.get(3)?,
            })
        })?
        .collect()
}

fn get_row(c: &sql::Connection<'_>, kind: &str, id: &str) -> sql::Result<Option<Row>> {
    c.prepare_cached("SELECT id, state, json, version FROM entities WHERE type = ?1 AND id = ?2")?
        .query_row(params![kind, id], |r| {
            Ok(Row {
                id: r.get(0)?,
                state: r.get(1)?,
                json: r.get(2)?,
                version: r.get(3)?,
            })
        })
        .optional()
}

/// Entities as a handler reaches them, through its [`Context`]: reads use
/// the operation's transaction when it has one, writes begin it. Generated
/// crates wrap these in typed functions (`state::create`, `state::get`,
/// one per transition).
pub mod access {
    use super::*;
    use crate::context::Context;

    /// Reads an entity.
    pub async fn get(ctx: &Context, kind: &str, id: &str) -> Result<Option<Entity>, Problem> {
        let (kind2, id2) = (kind.to_string(), id.to_string());
        ctx.read(move |c| get_row(c, &kind2, &id2))
            .await?
            .map(|row| row.into_entity(kind))
            .transpose()
    }

    /// Every entity of a type, by id.
    pub async fn list(ctx: &Context, kind: &str) -> Result<Vec<Entity>, Problem> {
        let kind2 = kind.to_string();
        ctx.read(move |c| list_rows(c, &kind2))
            .await?
            .into_iter()
            .map(|row| row.into_entity(kind))
            .collect()
    }

    /// Stores a new entity in the machine's `initial` state (409 when it
    /// exists).
    pub async fn create(
        ctx: &Context,
        machine: &Machine,
        initial: &str,
        id: &str,
        json: Value,
    ) -> Result<Entity, Problem> {
        ctx.tx().await?.create_entity(machine, id, initial, json)
    }

    /// Replaces an entity's fields, keeping its state.
    pub async fn save(
        ctx: &Context,
        machine: &Machine,
        id: &str,
        json: Value,
    ) -> Result<Entity, Problem> {
        ctx.tx().await?.save_entity(machine, id, json)
    }

    /// Applies a transition, letting `hook` change the entity between the
    /// state check and the write (the transaction keeps others out).
    pub async fn transition<F, Fut>(
        ctx: &Context,
        machine: &Machine,
        name: &str,
        id: &str,
        hook: F,
    ) -> Result<Entity, Problem>
    where
        F: FnOnce(Value) -> Fut,
        Fut: std::future::Future<Output = Result<Value, Problem>>,
    {
        let tx = ctx.tx().await?;
        let mut entity = tx.start_transition(machine, name, id)?;
        entity.json = hook(entity.json).await?;
        let (entity, emits) = tx.write_transition(machine, name, entity)?;
        // Through the context, so that it commits (and is logged) with
        // the operation's other events, in this transaction.
        if let Some(event) = emits {
            ctx.publish(event, &entity.json)?;
        }
        Ok(entity)
    }

    /// A stored entity as its generated type. Entities are written only
    /// from that type, so a failure means the type changed under stored
    /// data: a 500 naming the entity.
    pub fn decode<T: serde::de::DeserializeOwned>(entity: Entity) -> Result<T, Problem> {
        serde_json::from_value(entity.json).map_err(|e| {
            Problem::internal(format!(
                "stored {} {} does not match its type: {e}",
                entity.kind, entity.id
            ))
        })
    }

    /// [`decode`] of bare JSON (a transition hook's input).
    pub fn from_json<T: serde::de::DeserializeOwned>(json: Value) -> Result<T, Problem> {
        serde_json::from_value(json)
            .map_err(|e| Problem::internal(format!("a stored entity does not match its type: {e}")))
    }

    /// An entity as JSON.
    pub fn to_json<T: serde::Serialize>(entity: &T) -> Result<Value, Problem> {
        serde_json::to_value(entity).map_err(|e| Problem::internal(e.to_string()))
    }
}

fn set_field(json: &mut Value, field: &str, state: &str) -> Result<(), Problem> {
    match json {
        Value::Object(map) => {
            map.insert(field.to_string(), Value::String(state.to_string()));
            Ok(())
        }
        _ => Err(Problem::internal("an entity must be a JSON object")),
    }
}
