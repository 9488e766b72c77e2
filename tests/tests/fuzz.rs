//! Property tests: arbitrary text and random mutations of the shipped
//! models never make the compiler panic; every outcome is either a checked
//! model or at least one diagnostic whose spans lie inside the source.

use osm_compiler::compile_with;
use osm_compiler::load::MemLoader;
use proptest::prelude::*;
use std::path::Path;

fn spec(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../specs")
        .join(name);
    std::fs::read_to_string(path).expect("shipped spec")
}

/// The shipped models and their includes, in memory, with `root` replaced.
fn loader_with(root: &str) -> MemLoader {
    MemLoader::default()
        .with("linux-base.osm", &spec("linux-base.osm"))
        .with("linux-common.osm", &spec("linux-common.osm"))
        .with("linux-errno.osm", &spec("linux-errno.osm"))
        .with("linux-generic.osm", &spec("linux-generic.osm"))
        .with("linux-ipc.osm", &spec("linux-ipc.osm"))
        .with(
            "linux-x86_64-syscalls.osm",
            &spec("linux-x86_64-syscalls.osm"),
        )
        .with("linux-arm-syscalls.osm", &spec("linux-arm-syscalls.osm"))
        .with(
            "linux-s390x-syscalls.osm",
            &spec("linux-s390x-syscalls.osm"),
        )
        .with("model.osm", root)
}

fn assert_well_formed(root: &str) {
    let loader = loader_with(root);
    let compilation = compile_with(Path::new("model.osm"), &loader);
    match &compilation.result {
        Ok(model) => assert!(!model.mechanisms.is_empty()),
        Err(diags) => {
            assert!(!diags.is_empty(), "a failure must say why");
            for diag in diags {
                for (span, _) in &diag.labels {
                    let len = compilation.files.get(span.file).text.len() as u32;
                    assert!(
                        span.start <= span.end && span.end <= len,
                        "span {span:?} outside its file"
                    );
                }
            }
            let text = compilation.render_errors();
            assert!(text.contains("error["), "rendered: {text}");
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
    DuplicateLine { line: usize },
    SwapLines { a: usize, b: usize },
    Truncate { at: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let text = prop_oneof![
        "[ -~]{0,8}",
        Just(";".to_string()),
        Just("}".to_string()),
        Just("{".to_string()),
        Just("\"".to_string()),
        Just("0x".to_string()),
        Just("u64[".to_string()),
        Just(" i ".to_string()),
        Just("mask 0x1ffffff".to_string()),
        Just("buf[nothing]".to_string()),
        Just("include \"model.osm\";".to_string()),
        Just("é€\u{0}".to_string()),
    ];
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), text).prop_map(|(at, text)| Mutation::Insert { at, text }),
        any::<usize>().prop_map(|line| Mutation::DuplicateLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn floor_boundary(text: &str, at: usize) -> usize {
    let mut at = at % (text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(text: &str, mutation: &Mutation) -> String {
    match mutation {
        Mutation::Delete { at, len } => {
            let start = floor_boundary(text, *at);
            let end = floor_boundary(text, (start + len).min(text.len()));
            let end = end.max(start);
            format!("{}{}", &text[..start], &text[end..])
        }
        Mutation::Insert { at, text: insert } => {
            let at = floor_boundary(text, *at);
            format!("{}{}{}", &text[..at], insert, &text[at..])
        }
        Mutation::DuplicateLine { line } => {
            let mut lines: Vec<&str> = text.lines().collect();
            let i = line % lines.len().max(1);
            if let Some(copy) = lines.get(i).copied() {
                lines.insert(i, copy);
            }
            lines.join("\n")
        }
        Mutation::SwapLines { a, b } => {
            let mut lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let (a, b) = (a % lines.len(), b % lines.len());
                lines.swap(a, b);
            }
            lines.join("\n")
        }
        Mutation::Truncate { at } => text[..floor_boundary(text, *at)].to_string(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        assert_well_formed(&text);
    }

    #[test]
    fn token_soup_never_panics(words in prop::collection::vec(prop_oneof![
        Just("os"), Just("mechanism"), Just("table"), Just("exit"), Just("resume"), Just("{"), Just("}"),
        Just("("), Just(")"), Just("["), Just("]"), Just(";"), Just(","), Just("="), Just("->"), Just("%"),
        Just("bytes"), Just("insn16"), Just("insn32"), Just("mask"), Just("\"0f 05\""), Just("0xdf00"),
        Just("arch"), Just("x86_64"), Just("rax"), Just("u32"), Just("i"), Just("+"), Just("<<"), Just("-"),
        Just("buf"), Just("ret"), Just("type"), Just("flags"), Just("enum"), Just("errno"), Just("1"),
        Just("insn"), Just("?"), Just(":"), Just("kernel_space"), Just("number"),
    ], 0..60)) {
        assert_well_formed(&words.join(" "));
    }

    #[test]
    fn mutated_x86_64_model_never_panics(mutations in prop::collection::vec(mutation(), 1..4)) {
        let mut text = spec("linux-x86_64.osm");
        for m in &mutations {
            text = apply(&text, m);
        }
        assert_well_formed(&text);
    }

    #[test]
    fn mutated_arm_model_never_panics(mutations in prop::collection::vec(mutation(), 1..4)) {
        let mut text = spec("linux-arm.osm");
        for m in &mutations {
            text = apply(&text, m);
        }
        assert_well_formed(&text);
    }

    // The conditional, `insn` and exit attributes.
    #[test]
    fn mutated_s390x_model_never_panics(mutations in prop::collection::vec(mutation(), 1..4)) {
        let mut text = spec("linux-s390x.osm");
        for m in &mutations {
            text = apply(&text, m);
        }
        assert_well_formed(&text);
    }
}

#[test]
fn unmutated_models_check() {
    assert_well_formed(&spec("linux-x86_64.osm"));
    assert_well_formed(&spec("linux-arm.osm"));
    assert_well_formed(&spec("linux-s390x.osm"));
    let compilation = compile_with(Path::new("model.osm"), &loader_with(&spec("linux-arm.osm")));
    assert!(
        compilation.result.is_ok(),
        "{}",
        compilation.render_errors()
    );
}
