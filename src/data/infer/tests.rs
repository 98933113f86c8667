use super::*;

/// A column named `c` of `cells`, inferred as `mode` says.
fn infer(cells: &[Cell<'_>], mode: InferMode) -> (ColumnSchema, Vec<String>) {
    let mut column = InferredColumn::new("c");
    for &cell in cells {
        column.add(cell);
    }
    column.infer(mode)
}

fn floats(values: &[f64]) -> Vec<Cell<'static>> {
    values.iter().map(|&x| Cell::Float(x)).collect()
}

fn ints(values: &[i64]) -> Vec<Cell<'static>> {
    values.iter().map(|&i| Cell::Int(i)).collect()
}

fn bounds_of(cells: &[Cell<'_>], mode: InferMode) -> (Option<f64>, Option<f64>) {
    let (column, _) = infer(cells, mode);
    (column.min, column.max)
}

#[test]
fn types_join_to_the_narrowest_that_holds_both() {
    use ColumnType as T;
    assert_eq!(join(T::Integer, T::Float), T::Float);
    assert_eq!(join(T::Date, T::Timestamp), T::Timestamp);
    assert_eq!(join(T::Integer, T::Boolean), T::String);
    assert_eq!(join(T::Date, T::Float), T::String);
}

#[test]
fn bounds_widen_by_each_extremes_distance_to_the_median() {
    // Median 1: down 11 from -10, up 29 from 30.
    let cells = floats(&[-10.0, 0.0, 1.0, 2.0, 30.0]);
    assert_eq!(
        bounds_of(&cells, InferMode::Widened),
        (Some(-21.0), Some(59.0))
    );
    let (_, notes) = infer(&cells, InferMode::Widened);
    assert_eq!(
        notes,
        [
            "c: 5 values, observed -10.00 to 30.00 (median 1.00)",
            "enforced -21 to 59: the observed range widened by its spread about the median"
        ]
    );
    // Strict keeps what was seen.
    assert_eq!(
        bounds_of(&cells, InferMode::Strict),
        (Some(-10.0), Some(30.0))
    );
}

#[test]
fn a_positive_skewed_column_grows_by_a_factor_at_the_top() {
    // Median 3: 100 + 97 = 197 by steps, 100·√(100/3) = 577.35 by a factor.
    let cells = floats(&[1.0, 2.0, 4.0, 100.0]);
    let (column, notes) = infer(&cells, InferMode::Widened);
    assert_eq!((column.min, column.max), (Some(0.0), Some(577.4)));
    assert!(
        notes[1].contains("the top by a factor (every value positive), not below 0"),
        "{notes:?}"
    );
    // With a value at 0 the factor rule has no ground: by steps only.
    let cells = floats(&[0.0, 2.0, 4.0, 100.0]);
    assert_eq!(
        bounds_of(&cells, InferMode::Widened),
        (Some(0.0), Some(197.0))
    );
}

#[test]
fn only_a_column_never_negative_is_kept_at_or_above_zero() {
    // Median 10.5: 1 - 9.5 would be below 0, where no value was.
    assert_eq!(
        bounds_of(&ints(&[1, 10, 11, 12]), InferMode::Widened).0,
        Some(0.0)
    );
    // One negative value: the lower bound goes where the spread says.
    assert_eq!(
        bounds_of(&ints(&[-1, 10, 11, 12]), InferMode::Widened).0,
        Some(-13.0)
    );
}

#[test]
fn integer_date_and_timestamp_bounds_round_outwards_to_whole_units() {
    // Median -2.5: -6 - 3.5 = -9.5 and -1 + 1.5 = 0.5.
    assert_eq!(
        bounds_of(&ints(&[-6, -3, -2, -1]), InferMode::Widened),
        (Some(-10.0), Some(1.0))
    );
    // Days d, d+1, d+2, d+4: median d+1.5, so d-1.5 and d+6.5.
    let days = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-05"];
    let cells: Vec<Cell<'_>> = days.iter().map(|&d| Cell::Text(d)).collect();
    let (column, notes) = infer(&cells, InferMode::Widened);
    let day = |d: &str| parse_date(d).map(|d| d as f64);
    assert_eq!(
        (column.min, column.max),
        (day("2023-12-30"), day("2024-01-08"))
    );
    assert_eq!(
        notes[0],
        "c: 4 values, observed 2024-01-01 to 2024-01-05 (median 2024-01-03)"
    );
    // Seconds 0.5, 1 and 2.25 past t: median 1, so t + 0 and t + 3.5.
    let times = [
        "2024-01-01T00:00:00.5Z",
        "2024-01-01T00:00:01Z",
        "2024-01-01T00:00:02.25Z",
    ];
    let cells: Vec<Cell<'_>> = times.iter().map(|&t| Cell::Text(t)).collect();
    let t = parse_timestamp("2024-01-01T00:00:00Z").unwrap();
    assert_eq!(
        bounds_of(&cells, InferMode::Widened),
        (Some(t), Some(t + 4.0))
    );
}

#[test]
fn float_bounds_round_outwards_to_a_short_decimal() {
    assert_eq!(to_power_of_ten(107.712, -1, true), 107.8);
    assert_eq!(to_power_of_ten(-7.512, -1, false), -7.6);
    assert_eq!(to_power_of_ten(1234.5, 2, true), 1300.0);
    assert_eq!(to_power_of_ten(-1234.5, 2, true), -1200.0);
    // Never inwards, and always as short as the step.
    for i in 0..1000 {
        let x = f64::from(i) * 0.0137 - 3.0;
        let (down, up) = (to_power_of_ten(x, -2, false), to_power_of_ten(x, -2, true));
        assert!(down <= x && x <= up, "{x}: {down} {up}");
        assert!(format!("{up}").len() <= 5, "{up}");
    }
    // Not a finite range: nothing to round to.
    assert_eq!(float_step(Some(0.0), Some(f64::INFINITY)), None);
    assert_eq!(float_step(Some(1.0), Some(1.0)), None);
    assert_eq!(float_step(Some(0.0), Some(115.3)), Some(-1));
}

#[test]
fn one_value_gives_no_bounds_unless_strict() {
    let cells = floats(&[4.5]);
    let (column, notes) = infer(&cells, InferMode::Widened);
    assert_eq!((column.min, column.max), (None, None));
    assert_eq!(
        notes,
        ["c: 1 value, observed 4.5 to 4.5 (median 4.5); too few to tell a spread, so no bounds"]
    );
    assert_eq!(bounds_of(&cells, InferMode::Strict), (Some(4.5), Some(4.5)));
    // Infinities are observed but never written.
    let cells = floats(&[f64::NEG_INFINITY, 1.0, f64::INFINITY]);
    let (column, notes) = infer(&cells, InferMode::Widened);
    assert_eq!((column.min, column.max), (None, None));
    assert!(
        notes[1].ends_with("none past what a schema can write"),
        "{notes:?}"
    );
}

#[test]
fn the_median_is_the_middle_value_or_the_mean_of_the_two() {
    assert_eq!(median(&[]), None);
    assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
}

fn texts(counts: &[(&'static str, usize)]) -> Vec<Cell<'static>> {
    counts
        .iter()
        .flat_map(|&(text, n)| std::iter::repeat_n(Cell::Text(text), n))
        .collect()
}

#[test]
fn allowed_is_written_only_for_a_list_seen_whole_unless_strict() {
    let closed = texts(&[("a", 9), ("b", 5), ("c", 30)]);
    let (column, notes) = infer(&closed, InferMode::Widened);
    assert_eq!(
        column.allowed,
        Some(vec!["a".to_string(), "b".to_string(), "c".to_string()])
    );
    assert_eq!(
        notes,
        ["c: 3 values, each seen at least 5 times: closed, so allowed"]
    );
    // `b` seen four times: the next sample may bring a value not yet seen.
    let open = texts(&[("a", 9), ("b", 4), ("c", 30)]);
    let (column, notes) = infer(&open, InferMode::Widened);
    assert_eq!(column.allowed, None);
    assert_eq!(
        notes,
        [
            "c: 3 values, `b` seen 4 times: not closed, no allowed list (add one when the list is complete)"
        ]
    );
    let (column, notes) = infer(&texts(&[("a", 1), ("b", 1)]), InferMode::Strict);
    assert_eq!(column.allowed, Some(vec!["a".to_string(), "b".to_string()]));
    assert_eq!(notes, ["c: 2 values: allowed as observed (--strict)"]);
    // Too many values is no list, however often each was seen.
    let names: Vec<String> = (0..=MAX_ALLOWED_VALUES).map(|i| format!("v{i}")).collect();
    let many: Vec<Cell<'_>> = names
        .iter()
        .flat_map(|name| std::iter::repeat_n(Cell::Text(name), 10))
        .collect();
    for mode in [InferMode::Widened, InferMode::Strict] {
        let (column, notes) = infer(&many, mode);
        assert_eq!(column.allowed, None);
        assert_eq!(notes, ["c: more than 20 values: no allowed list"]);
    }
}

#[test]
fn a_column_that_turned_text_after_numbers_gets_no_allowed_list() {
    // `1` was read as a number before `x` made the column text: a list
    // of [true, x] would refuse the `1` it came from.
    let cells = texts(&[("1", 5), ("true", 5), ("x", 5)]);
    let (column, notes) = infer(&cells, InferMode::Strict);
    assert_eq!(column.kind, ColumnType::String);
    assert_eq!(column.allowed, None);
    assert_eq!(
        notes,
        ["c: numbers or dates mixed with text: no allowed list"]
    );
}

#[test]
fn an_inferred_schema_round_trips_through_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.csv");
    std::fs::write(
        &path,
        "n,x,s,b,d,t,id,empty,\"line\nbreak\"\n1,1.5,a b,true,2024-01-02,2024-01-02T03:04:05Z,k1,,\"x\u{85}y\"\n2,,\"null\",false,2024-02-01,2024-01-03,k2,,\"x\u{85}y\"\n3,2,a b,TRUE,2024-01-01,2024-01-02T00:00:00+02:00,k3,,z\n",
    )
    .unwrap();
    let strict = infer_schema_with_notes(&path, None, InferMode::Strict).unwrap();
    let schema = &strict.schema;
    let kinds: Vec<ColumnType> = schema.columns.iter().map(|c| c.kind).collect();
    use ColumnType as T;
    assert_eq!(
        kinds,
        [
            T::Integer,
            T::Float,
            T::String,
            T::Boolean,
            T::Date,
            T::Timestamp,
            T::String,
            T::String,
            T::String
        ]
    );
    let x = schema.column("x").unwrap();
    assert!(x.nullable);
    assert_eq!((x.min, x.max), (Some(1.5), Some(2.0)));
    assert_eq!(
        schema.column("s").unwrap().allowed,
        Some(vec!["a b".to_string(), "null".to_string()])
    );
    assert_eq!(
        schema.column("d").unwrap().min,
        parse_date("2024-01-01").map(|d| d as f64)
    );
    assert_eq!(
        schema.column("t").unwrap().min,
        parse_timestamp("2024-01-01T22:00:00Z")
    );
    assert!(schema.column("empty").unwrap().nullable);
    // Strict or widened, with notes that hold a line break and a NEL
    // from the data, the schema reads back as written and passes its data.
    let widened = infer_schema_with_notes(&path, None, InferMode::Widened).unwrap();
    assert_eq!(
        widened.notes.last().map(Vec::as_slice),
        Some(
            &["line\nbreak: 2 values, `z` seen once: not closed, no allowed list (add one when the list is complete)".to_string()][..]
        )
    );
    for inferred in [strict, widened] {
        let yaml = inferred
            .schema
            .to_yaml_with_notes("a header\nof two lines", &inferred.notes);
        assert!(yaml.starts_with("# a header\n# of two lines\n"), "{yaml}");
        assert!(yaml.contains("  # line\\nbreak: 2 values"), "{yaml}");
        let back = Schema::parse(Path::new("s.yml"), &yaml).unwrap();
        assert_eq!(back, inferred.schema, "{yaml}");
        let validation = crate::data::validate(&path, &back, None).unwrap();
        assert!(validation.passed(), "{validation}\n{yaml}");
    }
}
