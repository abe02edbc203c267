//! Every migration runs up, down and up again on both databases.

use gongkai::db::{self, DbTarget};

use crate::helpers::{Db, FreshDb};

fn up_down_up(db_kind: Db) {
    let Some(fresh) = FreshDb::new(db_kind) else {
        return;
    };
    let target = DbTarget::parse(&fresh.url).unwrap();
    let manager = db::ConnectionManager::new(target, 5000);
    let mut conn = manager.connect_once().unwrap();
    let up = db::run_migrations(&mut conn).unwrap();
    assert!(!up.is_empty());
    let down = db::revert_all_migrations(&mut conn).unwrap();
    assert_eq!(down.len(), up.len());
    let again = db::run_migrations(&mut conn).unwrap();
    assert_eq!(again, up);
    assert!(
        db::run_migrations(&mut conn).unwrap().is_empty(),
        "nothing left to apply"
    );
}

#[test]
fn migrations_run_up_down_up_on_sqlite() {
    up_down_up(Db::Sqlite);
}

#[test]
fn migrations_run_up_down_up_on_postgres() {
    up_down_up(Db::Postgres);
}

#[test]
fn both_backends_have_the_same_migration_names() {
    let names = |dir: &str| {
        let mut v: Vec<String> =
            std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                .collect();
        v.sort();
        v
    };
    assert_eq!(names("migrations/sqlite"), names("migrations/postgres"));
}
