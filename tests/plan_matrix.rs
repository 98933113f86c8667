//! Matrix expansion against GitHub's documented examples and parser rules.

use mlci::expr::{Object, Value};
use mlci::plan::matrix::{
    Combination, MatrixError, MatrixSpec, expand, expand_configurations, instance_name,
};

fn s(v: &str) -> Value {
    Value::str(v)
}

fn n(v: f64) -> Value {
    Value::Number(v)
}

fn combo(pairs: &[(&str, Value)]) -> Combination {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn spec(dims: &[(&str, Vec<Value>)]) -> MatrixSpec {
    MatrixSpec {
        dimensions: dims
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        include: vec![],
        exclude: vec![],
    }
}

/// Renders combinations compactly, keys in order, to compare with the docs.
fn show(combos: &[Combination]) -> Vec<String> {
    combos
        .iter()
        .map(|c| {
            let inner: Vec<String> = c
                .iter()
                .map(|(k, v)| format!("{k}: {}", v.to_json()))
                .collect();
            format!("{{{}}}", inner.join(", "))
        })
        .collect()
}

#[test]
fn cross_product_first_dimension_varies_slowest() {
    // "Using a matrix strategy": version [10, 12, 14] × os [ubuntu, windows].
    let m = spec(&[
        ("version", vec![n(10.0), n(12.0), n(14.0)]),
        ("os", vec![s("ubuntu-latest"), s("windows-latest")]),
    ]);
    assert_eq!(
        show(&expand(&m).unwrap()),
        vec![
            r#"{version: 10, os: "ubuntu-latest"}"#,
            r#"{version: 10, os: "windows-latest"}"#,
            r#"{version: 12, os: "ubuntu-latest"}"#,
            r#"{version: 12, os: "windows-latest"}"#,
            r#"{version: 14, os: "ubuntu-latest"}"#,
            r#"{version: 14, os: "windows-latest"}"#,
        ]
    );
}

#[test]
fn documented_fruit_animal_include_example() {
    let mut m = spec(&[
        ("fruit", vec![s("apple"), s("pear")]),
        ("animal", vec![s("cat"), s("dog")]),
    ]);
    m.include = vec![
        combo(&[("color", s("green"))]),
        combo(&[("color", s("pink")), ("animal", s("cat"))]),
        combo(&[("fruit", s("apple")), ("shape", s("circle"))]),
        combo(&[("fruit", s("banana"))]),
        combo(&[("fruit", s("banana")), ("animal", s("cat"))]),
    ];
    assert_eq!(
        show(&expand(&m).unwrap()),
        vec![
            r#"{fruit: "apple", animal: "cat", color: "pink", shape: "circle"}"#,
            r#"{fruit: "apple", animal: "dog", color: "green", shape: "circle"}"#,
            r#"{fruit: "pear", animal: "cat", color: "pink"}"#,
            r#"{fruit: "pear", animal: "dog", color: "green"}"#,
            r#"{fruit: "banana"}"#,
            r#"{fruit: "banana", animal: "cat"}"#,
        ]
    );
}

#[test]
fn documented_expand_with_include_adds_npm_to_one_combination() {
    let mut m = spec(&[
        ("os", vec![s("windows-latest"), s("ubuntu-latest")]),
        ("node", vec![n(12.0), n(14.0), n(16.0)]),
    ]);
    m.include = vec![combo(&[
        ("os", s("windows-latest")),
        ("node", n(16.0)),
        ("npm", n(6.0)),
    ])];
    let out = expand(&m).unwrap();
    assert_eq!(out.len(), 6);
    let with_npm: Vec<_> = out.iter().filter(|c| c.contains_key("npm")).collect();
    assert_eq!(
        show(&with_npm.into_iter().cloned().collect::<Vec<_>>()),
        vec![r#"{os: "windows-latest", node: 16, npm: 6}"#]
    );
}

#[test]
fn documented_add_with_include_makes_ten_jobs() {
    let mut m = spec(&[
        (
            "os",
            vec![s("macos-latest"), s("windows-latest"), s("ubuntu-latest")],
        ),
        ("version", vec![n(12.0), n(14.0), n(16.0)]),
    ]);
    m.include = vec![combo(&[("os", s("windows-latest")), ("version", n(17.0))])];
    let out = expand(&m).unwrap();
    assert_eq!(out.len(), 10);
    assert_eq!(
        show(&out[9..]),
        vec![r#"{os: "windows-latest", version: 17}"#]
    );
}

#[test]
fn documented_perl_example_makes_seven_jobs() {
    let mut m = spec(&[
        ("os", vec![s("ubuntu-latest")]),
        (
            "perl",
            vec![s("5.16"), s("5.20"), s("5.26"), s("5.30"), s("latest")],
        ),
    ]);
    m.include = vec![
        combo(&[("os", s("macos-latest")), ("perl", s("5.26"))]),
        combo(&[("os", s("macos-latest")), ("perl", s("latest"))]),
    ];
    let out = expand(&m).unwrap();
    assert_eq!(out.len(), 7);
    assert_eq!(
        show(&out[5..]),
        vec![
            r#"{os: "macos-latest", perl: "5.26"}"#,
            r#"{os: "macos-latest", perl: "latest"}"#,
        ]
    );
}

#[test]
fn include_only_matrix_runs_each_entry() {
    let m = MatrixSpec {
        include: vec![
            combo(&[("site", s("production")), ("datacenter", s("site-a"))]),
            combo(&[("site", s("staging")), ("datacenter", s("site-b"))]),
        ],
        ..MatrixSpec::default()
    };
    assert_eq!(
        show(&expand(&m).unwrap()),
        vec![
            r#"{site: "production", datacenter: "site-a"}"#,
            r#"{site: "staging", datacenter: "site-b"}"#,
        ]
    );
}

#[test]
fn documented_exclude_example_runs_nine_jobs() {
    let mut m = spec(&[
        ("os", vec![s("macos-latest"), s("windows-latest")]),
        ("version", vec![n(12.0), n(14.0), n(16.0)]),
        ("environment", vec![s("staging"), s("production")]),
    ]);
    m.exclude = vec![
        combo(&[
            ("os", s("macos-latest")),
            ("version", n(12.0)),
            ("environment", s("production")),
        ]),
        combo(&[("os", s("windows-latest")), ("version", n(16.0))]),
    ];
    let out = expand(&m).unwrap();
    assert_eq!(out.len(), 9);
    let removed = |os: &str, v: f64| !out.iter().any(|c| c["os"] == s(os) && c["version"] == n(v));
    assert!(removed("windows-latest", 16.0));
    assert!(!out.iter().any(|c| c["os"] == s("macos-latest")
        && c["version"] == n(12.0)
        && c["environment"] == s("production")));
    assert!(
        !removed("macos-latest", 12.0),
        "only production was excluded"
    );
}

#[test]
fn include_adds_back_an_excluded_combination_at_the_end() {
    let mut m = spec(&[("os", vec![s("a"), s("b")]), ("v", vec![n(1.0), n(2.0)])]);
    m.exclude = vec![combo(&[("os", s("a")), ("v", n(1.0))])];
    m.include = vec![combo(&[("os", s("a")), ("v", n(1.0))])];
    assert_eq!(
        show(&expand(&m).unwrap()),
        vec![
            r#"{os: "a", v: 2}"#,
            r#"{os: "b", v: 1}"#,
            r#"{os: "b", v: 2}"#,
            r#"{os: "a", v: 1}"#,
        ]
    );
}

#[test]
fn excluding_everything_without_include_is_an_error() {
    let mut m = spec(&[("os", vec![s("a"), s("b")])]);
    m.exclude = vec![combo(&[("os", s("a"))]), combo(&[("os", s("b"))])];
    let err = expand(&m).unwrap_err();
    assert_eq!(err, MatrixError::NoCombinations);
    assert!(err.to_string().contains("produces no job"));
}

#[test]
fn excluding_everything_then_including_gives_only_the_includes() {
    let mut m = spec(&[("os", vec![s("a")])]);
    m.exclude = vec![combo(&[("os", s("a"))])];
    m.include = vec![combo(&[("os", s("z")), ("extra", Value::Bool(true))])];
    assert_eq!(
        show(&expand(&m).unwrap()),
        vec![r#"{os: "z", extra: true}"#]
    );
}

#[test]
fn later_include_overwrites_added_value_but_never_an_original() {
    let mut m = spec(&[("os", vec![s("linux"), s("mac")])]);
    m.include = vec![
        combo(&[("cache", s("small"))]),
        combo(&[("os", s("linux")), ("cache", s("large"))]),
        // Would overwrite the original os value: becomes a new combination.
        combo(&[("os", s("windows")), ("cache", s("none"))]),
    ];
    assert_eq!(
        show(&expand(&m).unwrap()),
        vec![
            r#"{os: "linux", cache: "large"}"#,
            r#"{os: "mac", cache: "small"}"#,
            r#"{os: "windows", cache: "none"}"#,
        ]
    );
}

#[test]
fn unmatched_include_puts_dimension_keys_first() {
    // GitHub builds the new combination from the filter pairs, then extras.
    let mut m = spec(&[("animal", vec![s("dog")])]);
    m.include = vec![combo(&[("color", s("pink")), ("animal", s("cat"))])];
    assert_eq!(
        show(&expand(&m).unwrap())[1..].to_vec(),
        vec![r#"{animal: "cat", color: "pink"}"#]
    );
}

#[test]
fn matching_ignores_case_and_coerces_like_the_expression_language() {
    let mut m = spec(&[
        ("os", vec![s("Ubuntu-Latest"), s("windows")]),
        ("node", vec![n(16.0), n(18.0)]),
    ]);
    // 'ubuntu-latest' == 'Ubuntu-Latest', '16' == 16, key OS == os.
    m.exclude = vec![combo(&[("OS", s("ubuntu-latest")), ("node", s("16"))])];
    m.include = vec![combo(&[("Node", s("18")), ("lts", Value::Bool(true))])];
    let out = expand(&m).unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(
        show(&out),
        vec![
            r#"{os: "Ubuntu-Latest", node: 18, lts: true}"#,
            r#"{os: "windows", node: 16}"#,
            r#"{os: "windows", node: 18, lts: true}"#,
        ]
    );
}

#[test]
fn null_filter_matches_empty_string_and_null() {
    let mut m = spec(&[("a", vec![s("x"), s(""), Value::Null])]);
    m.exclude = vec![combo(&[("a", Value::Null)])];
    assert_eq!(show(&expand(&m).unwrap()), vec![r#"{a: "x"}"#]);
}

fn obj(pairs: &[(&str, Value)]) -> Value {
    let mut o = Object::new();
    for (k, v) in pairs {
        o.insert(*k, v.clone());
    }
    Value::Object(o)
}

#[test]
fn nested_object_values_match_leaf_by_leaf() {
    let cfg_a = obj(&[("python", s("3.10")), ("torch", s("2.1"))]);
    let cfg_b = obj(&[("python", s("3.11")), ("torch", s("2.3"))]);
    let mut m = spec(&[
        ("cfg", vec![cfg_a.clone(), cfg_b.clone()]),
        ("gpu", vec![Value::Bool(false), Value::Bool(true)]),
    ]);
    // Partial nested match: every combination whose cfg.python is 3.10.
    m.exclude = vec![combo(&[("cfg", obj(&[("python", s("3.10"))]))])];
    m.include = vec![combo(&[
        ("cfg", obj(&[("torch", s("2.3"))])),
        ("gpu", Value::Bool(true)),
        ("image", s("cuda")),
    ])];
    let out = expand(&m).unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(out[0]["cfg"], cfg_b);
    assert!(!out[0].contains_key("image"));
    assert_eq!(out[1]["image"], s("cuda"));
}

#[test]
fn nested_arrays_match_by_position() {
    let mut m = spec(&[(
        "shape",
        vec![
            Value::Array(vec![n(1.0), n(2.0)]),
            Value::Array(vec![n(3.0), n(4.0)]),
        ],
    )]);
    m.exclude = vec![combo(&[("shape", Value::Array(vec![n(3.0)]))])];
    assert_eq!(show(&expand(&m).unwrap()), vec!["{shape: [1,2]}"]);
}

#[test]
fn errors_name_the_problem() {
    assert_eq!(
        expand(&MatrixSpec::default()).unwrap_err(),
        MatrixError::NoDimensions
    );
    let empty_dim = spec(&[("os", vec![s("a")]), ("model", vec![])]);
    let err = expand(&empty_dim).unwrap_err();
    assert_eq!(
        err,
        MatrixError::EmptyDimension {
            name: "model".into()
        }
    );
    assert!(err.to_string().contains("'model'"));

    let mut bad_exclude = spec(&[("os", vec![s("a")])]);
    bad_exclude.exclude = vec![combo(&[("arch", s("x"))])];
    let err = expand(&bad_exclude).unwrap_err();
    assert_eq!(
        err,
        MatrixError::UnknownExcludeKey {
            index: 0,
            key: "arch".into()
        }
    );
    assert!(err.to_string().contains("'arch'"));

    let mut empty_exclude = spec(&[("os", vec![s("a")])]);
    empty_exclude.exclude = vec![Combination::new()];
    assert_eq!(
        expand(&empty_exclude).unwrap_err(),
        MatrixError::EmptyExclude { index: 0 }
    );

    let mut empty_include = spec(&[("os", vec![s("a")])]);
    empty_include.include = vec![Combination::new()];
    assert_eq!(
        expand(&empty_include).unwrap_err(),
        MatrixError::EmptyInclude { index: 0 }
    );
}

#[test]
fn at_most_256_jobs() {
    let values = |k: usize| (0..k).map(|i| n(i as f64)).collect::<Vec<_>>();
    assert_eq!(
        expand(&spec(&[("a", values(16)), ("b", values(16))]))
            .unwrap()
            .len(),
        256
    );
    let mut over = spec(&[("a", values(16)), ("b", values(16))]);
    over.include = vec![combo(&[("a", n(99.0))])];
    let err = expand(&over).unwrap_err();
    assert_eq!(err, MatrixError::TooManyCombinations { count: 257 });
    assert!(err.to_string().contains("at most 256 jobs"));

    // Exclude brings a large product back under the limit.
    let mut trimmed = spec(&[("a", values(20)), ("b", values(20))]);
    trimmed.exclude = (10..20).map(|i| combo(&[("a", n(i as f64))])).collect();
    assert_eq!(expand(&trimmed).unwrap().len(), 200);

    // A huge product is refused without enumerating it.
    let huge = spec(&[("a", values(100)), ("b", values(100)), ("c", values(100))]);
    assert!(matches!(
        expand(&huge).unwrap_err(),
        MatrixError::CrossProductTooLarge { size: 1_000_000 }
    ));
}

#[test]
fn names_use_dimension_values_like_github() {
    let mut m = spec(&[("model", vec![s("tree")]), ("lr", vec![n(0.1), n(3.1)])]);
    m.include = vec![combo(&[("epochs", n(10.0))])];
    let configs = expand_configurations(&m).unwrap();
    // The added epochs value is in the matrix but not in the name.
    assert_eq!(configs[0].matrix["epochs"], n(10.0));
    assert_eq!(configs[0].name("fit"), "fit (tree, 0.1)");
    assert_eq!(configs[1].name("fit"), "fit (tree, 3.1)");
    assert_eq!(
        instance_name("fit", &configs[0].matrix),
        "fit (tree, 0.1, 10)"
    );
}

/// GitHub's own answer for values that `include` adds to a combination
/// (issue 20 said they are in the name): 8398a7/action-slack#137 built the
/// name `deploy (macos-latest, prod, hello macos)` from every matrix value of
/// this matrix and found no such job on GitHub, and ChristopherHX/
/// runner.server names such a job from the matrix's own keys only
/// (src/Sdk/Actions/StrategyUtils.cs). Unmatched entries use all values.
#[test]
fn values_that_include_adds_to_a_combination_stay_out_of_its_name() {
    let mut m = spec(&[
        ("os", vec![s("ubuntu-latest"), s("macos-latest")]),
        ("flavor", vec![s("dev"), s("stg"), s("prod")]),
    ]);
    m.include = vec![
        combo(&[("os", s("ubuntu-latest")), ("text", s("hello ubuntu"))]),
        combo(&[("os", s("macos-latest")), ("text", s("hello macos"))]),
    ];
    let configs = expand_configurations(&m).unwrap();
    assert_eq!(configs.len(), 6);
    assert_eq!(configs[5].matrix["text"], s("hello macos"));
    assert_eq!(configs[5].name("deploy"), "deploy (macos-latest, prod)");
}

#[test]
fn names_of_unmatched_includes_use_all_their_values() {
    let mut m = spec(&[("fruit", vec![s("apple")])]);
    m.include = vec![combo(&[("fruit", s("banana")), ("animal", s("cat"))])];
    let configs = expand_configurations(&m).unwrap();
    assert_eq!(configs[1].name("test"), "test (banana, cat)");
}

#[test]
fn names_flatten_nested_values_and_skip_empty_ones() {
    let c = combo(&[
        (
            "cfg",
            obj(&[("python", n(3.1)), ("cuda", Value::Bool(true))]),
        ),
        (
            "tags",
            Value::Array(vec![s("a"), s(""), Value::Null, n(2.0)]),
        ),
        ("empty", s("")),
        ("none", Value::Null),
        ("big", n(1e15)),
    ]);
    assert_eq!(instance_name("job", &c), "job (3.1, true, a, 2, 1E+15)");
    assert_eq!(instance_name("job", &combo(&[("x", s(""))])), "job");
}

#[test]
fn long_names_are_cut_to_100_characters() {
    let long = "x".repeat(150);
    let name = instance_name("build", &combo(&[("v", s(&long))]));
    assert_eq!(name.chars().count(), 100);
    assert!(name.starts_with("build (xxx"));
    assert!(name.ends_with("..."));
}
