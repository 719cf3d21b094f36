//! Transactions, the outbox and state transitions.

use crate::{count, store};
use serde_json::json;
use svcc_runtime::Problem;
use svcc_runtime::durable::{Machine, Store, StoreOptions, outbox};
use svcc_runtime::spec::TransitionSpec;

static TRANSITIONS: [TransitionSpec; 3] = [
    TransitionSpec {
        name: "confirm",
        from: &["pending"],
        to: "confirmed",
        emits: Some("Order.confirmed"),
    },
    TransitionSpec {
        name: "ship",
        from: &["confirmed"],
        to: "shipped",
        emits: None,
    },
    TransitionSpec {
        name: "cancel",
        from: &["pending", "confirmed"],
        to: "cancelled",
        emits: Some("Order.cancelled"),
    },
];

const ORDER: Machine = Machine {
    entity: "Order",
    field: "status",
    transitions: &TRANSITIONS,
};

#[tokio::test]
async fn schema_is_migrated_once_and_pragmas_hold() {
    let (dir, s) = store();
    let path = dir.path().join("svcc.db");
    drop(s);
    // Reopening does not migrate again.
    let s = Store::open(&path).unwrap();
    assert_eq!(
        count(&s, "SELECT COUNT(*) FROM schema_version").await,
        svcc_runtime::pipeline::store::SCHEMA_VERSION
    );
    let (mode, sync, timeout): (String, i64, i64) = s
        .read(|c| {
            Ok((
                c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?,
                c.query_row("PRAGMA synchronous", [], |r| r.get(0))?,
                c.query_row("PRAGMA busy_timeout", [], |r| r.get(0))?,
            ))
        })
        .await
        .unwrap();
    assert_eq!((mode.as_str(), sync, timeout), ("wal", 1, 5000));
    let full = Store::open_with(
        dir.path().join("full.db"),
        StoreOptions {
            durability: svcc_runtime::durable::Durability::Full,
            ..StoreOptions::default()
        },
    )
    .unwrap();
    let sync: i64 = full
        .read(|c| c.query_row("PRAGMA synchronous", [], |r| r.get(0)))
        .await
        .unwrap();
    assert_eq!(sync, 2);
    s.integrity_check().await.unwrap();
}

#[tokio::test]
async fn commit_shows_entity_and_event_together() {
    let (_dir, s) = store();
    let id = s
        .write(|tx| {
            tx.create_entity(&ORDER, "1", "pending", json!({"id": "1", "total": 5}))?;
            tx.publish("Order.created", Some("Order/1"), &json!({"id": "1"}))
        })
        .await
        .unwrap();
    let events = outbox::list_events(&s).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].id, id);
    assert_eq!(events[0].entity_key.as_deref(), Some("Order/1"));
    let tx = s.begin().await.unwrap();
    let e = tx.entity("Order", "1").unwrap().unwrap();
    assert_eq!(e.state.as_deref(), Some("pending"));
    assert_eq!(e.json["status"], "pending");
    assert_eq!(e.version, 1);
}

#[tokio::test]
async fn err_rollback_drop_and_panic_leave_neither_entity_nor_event() {
    let (_dir, s) = store();
    // An Err from the closure.
    let r: Result<(), Problem> = s
        .write(|tx| {
            tx.create_entity(&ORDER, "1", "pending", json!({"id": "1"}))?;
            tx.publish("Order.created", Some("Order/1"), &json!({"id": "1"}))?;
            Err(Problem::bad_request("no"))
        })
        .await;
    assert_eq!(r.unwrap_err().status, 400);
    // An explicit rollback.
    let tx = s.begin().await.unwrap();
    tx.create_entity(&ORDER, "2", "pending", json!({"id": "2"}))
        .unwrap();
    tx.publish("Order.created", Some("Order/2"), &json!({"id": "2"}))
        .unwrap();
    tx.rollback().unwrap();
    // A transaction dropped without commit.
    {
        let tx = s.begin().await.unwrap();
        tx.create_entity(&ORDER, "3", "pending", json!({"id": "3"}))
            .unwrap();
        tx.publish("Order.created", None, &json!({"id": "3"}))
            .unwrap();
    }
    // A panic inside the closure (on another task, so the test survives).
    let s2 = s.clone();
    let joined = tokio::spawn(async move {
        s2.write(|tx| -> Result<(), Problem> {
            tx.create_entity(&ORDER, "4", "pending", json!({"id": "4"}))?;
            tx.publish("Order.created", None, &json!({"id": "4"}))?;
            panic!("handler bug");
        })
        .await
    })
    .await;
    assert!(joined.unwrap_err().is_panic());
    assert_eq!(count(&s, "SELECT COUNT(*) FROM entities").await, 0);
    assert_eq!(count(&s, "SELECT COUNT(*) FROM outbox").await, 0);
    // The store still works after all that.
    s.write(|tx| tx.create_entity(&ORDER, "5", "pending", json!({"id": "5"})))
        .await
        .unwrap();
    assert_eq!(count(&s, "SELECT COUNT(*) FROM entities").await, 1);
    s.integrity_check().await.unwrap();
}

#[tokio::test]
async fn transition_writes_state_and_event_in_one_transaction() {
    let (_dir, s) = store();
    s.write(|tx| tx.create_entity(&ORDER, "7", "pending", json!({"id": "7", "total": 9})))
        .await
        .unwrap();
    let e = s
        .write(|tx| tx.transition(&ORDER, "confirm", "7"))
        .await
        .unwrap();
    assert_eq!(e.state.as_deref(), Some("confirmed"));
    assert_eq!(e.version, 2);
    let events = outbox::list_events(&s).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].name, "Order.confirmed");
    assert_eq!(events[0].entity_key.as_deref(), Some("Order/7"));
    assert_eq!(
        events[0].payload,
        json!({"id": "7", "total": 9, "status": "confirmed"})
    );
    // `ship` emits nothing.
    s.write(|tx| tx.transition(&ORDER, "ship", "7"))
        .await
        .unwrap();
    assert_eq!(count(&s, "SELECT COUNT(*) FROM outbox").await, 1);
}

#[tokio::test]
async fn wrong_state_is_409_naming_current_and_allowed_states() {
    let (_dir, s) = store();
    s.write(|tx| tx.create_entity(&ORDER, "8", "pending", json!({"id": "8"})))
        .await
        .unwrap();
    s.write(|tx| tx.transition(&ORDER, "cancel", "8"))
        .await
        .unwrap();
    let p = s
        .write(|tx| tx.transition(&ORDER, "confirm", "8"))
        .await
        .unwrap_err();
    assert_eq!(p.status, 409);
    assert_eq!(p.kind, "urn:svcc:problem:invalid-transition");
    assert_eq!(p.extensions["currentState"], "cancelled");
    assert_eq!(p.extensions["allowedFrom"], json!(["pending"]));
    let detail = p.detail.clone().unwrap();
    assert!(
        detail.contains("cancelled") && detail.contains("pending"),
        "{detail}"
    );
    // Nothing was written by the refused transition.
    let tx = s.begin().await.unwrap();
    let e = tx.entity("Order", "8").unwrap().unwrap();
    assert_eq!((e.state.as_deref(), e.version), (Some("cancelled"), 2));
    drop(tx);
    assert_eq!(count(&s, "SELECT COUNT(*) FROM outbox").await, 1);
    // Unknown entity: 404; creating twice: 409.
    let p = s
        .write(|tx| tx.transition(&ORDER, "confirm", "nope"))
        .await
        .unwrap_err();
    assert_eq!(p.status, 404);
    let p = s
        .write(|tx| tx.create_entity(&ORDER, "8", "pending", json!({"id": "8"})))
        .await
        .unwrap_err();
    assert_eq!(p.status, 409);
}

#[tokio::test]
async fn context_publish_through_tx_sink_commits_with_the_transaction() {
    use std::sync::Arc;
    use svcc_runtime::events::{EventSink, OutgoingEvent};
    let (_dir, s) = store();
    let event = |n: &str| OutgoingEvent {
        id: uuid::Uuid::new_v4(),
        event: "Order.created",
        source: "createOrder",
        request_id: "r1".into(),
        trace_id: "t1".into(),
        payload: json!({"id": n}),
        sensitive: &[],
    };
    let tx = s.begin().await.unwrap();
    let sink: Arc<dyn EventSink> = Arc::new(svcc_runtime::durable::TxSink::new(tx.clone()));
    sink.publish(event("1")).unwrap();
    tx.rollback().unwrap();
    assert_eq!(count(&s, "SELECT COUNT(*) FROM outbox").await, 0);
    let tx = s.begin().await.unwrap();
    let sink = svcc_runtime::durable::TxSink::new(tx.clone());
    let e = event("2");
    let id = e.id;
    sink.publish(e).unwrap();
    drop(sink);
    tx.commit().unwrap();
    let events = outbox::list_events(&s).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].id, id);
    assert_eq!(events[0].entity_key.as_deref(), Some("Order/2"));
}
