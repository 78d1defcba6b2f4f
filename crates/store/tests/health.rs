//! Readiness of the store as its callers see it: a ping succeeds while the
//! database is open and fails once it is closed.

use store::HealthStore;

#[tokio::test]
async fn ping_answers_until_the_store_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let store = store::SqlStore::open_sqlite(&dir.path().join("health.db")).await.unwrap();
    store.ping().await.expect("an open store answers");
    store.close().await;
    assert!(store.ping().await.is_err(), "a closed store must not look healthy");
}
