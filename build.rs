//! Rebuilds when a migration is added: `embed_migrations!` reads the migration folders at
//! compile time, and cargo tracks the files it read, not a new folder beside them, so without
//! this a build after adding a migration kept the binary without it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
