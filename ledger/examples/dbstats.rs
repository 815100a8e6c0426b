//! Prints redb's page statistics of a store (a maintainer's aid for sizing).

#![allow(clippy::unwrap_used)]
use mindlog_ledger::redb::{self, ReadableDatabase, TableHandle};
fn main() {
    let path = std::env::args().nth(1).expect("path to mind.redb");
    let db = redb::Database::open(&path).expect("open");
    let txn = db.begin_write().expect("txn");
    let stats = txn.stats().expect("stats");
    println!("{stats:#?}");
    drop(txn);
    let r = db.begin_read().unwrap();
    for t in r.list_tables().unwrap() {
        println!("{}", t.name());
    }
}
