//! Entities and their state machines.
//!
//! Why it exists: a core service's entity (MANIFESTS.md `state:`) is the
//! source of truth, and each transition must change its state and write
//! the transition's event in one transaction. Entities are stored as JSON
//! with their state in a column of its own (so the transition check needs
//! no JSON parsing) and a version that counts writes. [`Tx::transition`]
//! applies a [`TransitionSpec`]: a transition from a state it does not
//! leave is refused with a 409 problem that names the current state and the
//! allowed ones, before anything is written.

use super::db::{Tx, now_ms};
use super::outbox::NewEvent;
use crate::Problem;
use crate::spec::TransitionSpec;
use rusqlite::{OptionalExtension, params};
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
        let Some(spec) = machine.transitions.iter().find(|t| t.name == name) else {
            return Err(Problem::internal(format!(
                "{} has no transition `{name}`",
                machine.entity
            )));
        };
        let Some(mut entity) = self.entity(machine.entity, id)? else {
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
        set_field(&mut entity.json, machine.field, spec.to)?;
        entity.version = self.put_entity(machine.entity, id, Some(spec.to), &entity.json)?;
        entity.state = Some(spec.to.to_string());
        if let Some(event) = spec.emits {
            let key = entity.key();
            self.append(NewEvent {
                name: event,
                entity_key: Some(&key),
                payload: &entity.json,
                source: Some(name),
                request_id: None,
                trace_id: None,
            })?;
        }
        Ok(entity)
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
