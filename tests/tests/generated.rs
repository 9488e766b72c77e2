//! `generated/` must be exactly what the compiler produces from `specs/`,
//! checked in process. When this fails, run `cargo xtask generate` and
//! review the diff.

#[test]
fn generated_crates_are_current() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the repository");
    let stale = osm_compiler::repo::generate_all(&root, true).expect("every model checks");
    assert!(
        stale.is_empty(),
        "generated/ is out of date: {stale:?}; run `{}` and review the change",
        osm_compiler::repo::GENERATE_COMMAND
    );
}
