//! Hostile workflow and schema files (issue 20): each one is answered by the
//! real `mlci` binary within 2 s and 256 MB, with exit 2 and a diagnostic
//! that says where, never a panic; `validate` refuses what `run` refuses.

mod common;

use std::process::Command;
use std::time::Duration;

use common::measure::{Measured, mlci};

/// Asserts the bound: exit 2, no panic, 2 s of CPU, 256 MB.
fn assert_refused(answer: &Measured, what: &str) {
    assert_eq!(
        answer.code,
        Some(2),
        "{what}: expected exit 2, got {:?}\n{}",
        answer.code,
        answer.stderr
    );
    assert!(
        !answer.stderr.contains("panicked"),
        "{what}: panicked\n{}",
        answer.stderr
    );
    assert!(
        answer.cpu < Duration::from_secs(2) && answer.elapsed < Duration::from_secs(10),
        "{what}: took {:?} of CPU, {:?} in all",
        answer.cpu,
        answer.elapsed
    );
    assert!(
        answer.max_rss_kib < 256 * 1024,
        "{what}: used {} MiB",
        answer.max_rss_kib / 1024
    );
}

const JOB: &str = "jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n";

/// Nine aliases of nine aliases, nine levels deep: 9^9 nodes from 600 bytes.
fn alias_bomb(indent: &str) -> String {
    let mut text = format!("{indent}a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
    for level in 1..10 {
        let aliases = vec![format!("*a{}", level - 1); 9].join(", ");
        text.push_str(&format!("{indent}a{level}: &a{level} [{aliases}]\n"));
    }
    text
}

#[test]
fn an_alias_bomb_in_a_workflow_is_refused_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("on: push\nx-bomb:\n{}{JOB}", alias_bomb("  "));
    std::fs::write(dir.path().join("bomb.yml"), text).unwrap();
    let answer = mlci(dir.path(), &["validate", "bomb.yml"]);
    assert_refused(&answer, "alias bomb");
    assert!(
        answer
            .stderr
            .contains("bomb.yml:7:7: error: invalid YAML: anchors and aliases copy more than"),
        "{}",
        answer.stderr
    );
}

#[test]
fn one_large_value_aliased_many_times_is_refused_at_the_alias() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = format!("on: push\nx-big: &big \"{}\"\nx-list:\n", "v".repeat(65536));
    for _ in 0..20_000 {
        text.push_str("  - *big\n");
    }
    text.push_str(JOB);
    std::fs::write(dir.path().join("linear.yml"), text).unwrap();
    let answer = mlci(dir.path(), &["validate", "linear.yml"]);
    assert_refused(&answer, "linear alias");
    // 10 MB of text is 160 copies of 64 KB: the 161st alias, on line 163.
    assert!(
        answer
            .stderr
            .contains("linear.yml:163:5: error: invalid YAML: anchors and aliases copy"),
        "{}",
        answer.stderr
    );
}

#[test]
fn an_alias_bomb_in_a_data_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let schema = format!("columns:\n  a:\n    type: int\nx:\n{}", alias_bomb("  "));
    std::fs::write(dir.path().join("schema.yml"), schema).unwrap();
    std::fs::write(dir.path().join("data.csv"), "a\n1\n").unwrap();
    let answer = mlci(
        dir.path(),
        &["data", "validate", "data.csv", "--schema", "schema.yml"],
    );
    assert_refused(&answer, "schema alias bomb");
    assert!(
        answer
            .stderr
            .contains("schema.yml:9:7: error: invalid YAML: anchors and aliases copy more than"),
        "{}",
        answer.stderr
    );
}

#[test]
fn many_keys_are_checked_for_duplicates_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    // 40 000 keys took 35 s when each was compared with every earlier one.
    let mut text = String::from("on: push\nenv:\n");
    for i in 0..40_000 {
        text.push_str(&format!("  K{i}: v\n"));
    }
    text.push_str("  k7: again\n");
    text.push_str(JOB);
    std::fs::write(dir.path().join("keys.yml"), text).unwrap();
    let answer = mlci(dir.path(), &["validate", "keys.yml"]);
    assert_refused(&answer, "40 000 keys");
    assert!(
        answer.stderr.contains(
            "keys.yml:40003:3: error: duplicate key `k7` (first defined on line 10; keys are compared ignoring case)"
        ),
        "{}",
        answer.stderr
    );
}

/// Containers that the engine created for a run since `since` (a Unix
/// time): what `docker events` saw, so that one created and removed counts.
fn containers_created(run_id: &str, since: u64) -> Vec<String> {
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let output = Command::new("docker")
        .args(["events", "--since", &since.to_string(), "--until"])
        .arg(until.to_string())
        .args(["--filter", "type=container", "--filter"])
        .arg(format!("label=dev.mlci.run={run_id}"))
        .args(["--format", "{{.Action}} {{.Actor.ID}}"])
        .output()
        .expect("the docker CLI");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// `path:line:column: error: …`, the first line of a rendered diagnostic.
fn first_diagnostic(stderr: &str) -> Option<&str> {
    stderr
        .lines()
        .map(|line| line.strip_prefix("error: ").unwrap_or(line))
        .find(|line| line.starts_with("wf.yml:") && line.contains(": error: "))
}

/// One job, `python-ml`, with these job keys and these steps.
fn workflow(job_keys: &str, steps: &str) -> String {
    format!("on: push\njobs:\n  a:\n    runs-on: python-ml\n{job_keys}    steps:\n{steps}")
}

#[test]
fn validate_refuses_what_run_refuses_with_the_same_message_before_any_container() {
    let echo = "      - run: echo hi\n";
    let blowup = "format('{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}', ";
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "a matrix of 10^20 combinations",
            workflow(
                &format!(
                    "    strategy:\n      matrix:\n{}",
                    (0..20)
                        .map(|i| format!("        k{i}: [0,1,2,3,4,5,6,7,8,9]\n"))
                        .collect::<String>()
                ),
                echo,
            ),
            "wf.yml:7:9: error: job `a`: the matrix has 100000000000000000000 combinations",
        ),
        (
            "a matrix of 300 jobs",
            workflow(
                &format!(
                    "    strategy:\n      matrix:\n        n: [{}]\n",
                    (0..300)
                        .map(|i| i.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                echo,
            ),
            "but a matrix may produce at most 256 jobs",
        ),
        (
            "format() past the memory budget in a step",
            workflow(
                "",
                &format!(
                    "      - run: echo ${{{{ {}'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx')))) }}}}\n",
                    blowup.repeat(4)
                ),
            ),
            "wf.yml:6:22: error: cannot evaluate this expression: The maximum allowed memory size was exceeded",
        ),
        (
            "toJSON() past the memory budget in a job name",
            workflow(
                // 262 144 quotes fit the budget; toJSON doubles them.
                &format!(
                    "    name: ${{{{ toJSON({}'{}'))) ) }}}}\n",
                    blowup.repeat(3),
                    "\"".repeat(64)
                ),
                echo,
            ),
            "wf.yml:5:14: error: cannot evaluate this expression: The maximum allowed memory size was exceeded",
        ),
        (
            "fromJSON() 5 000 levels deep",
            workflow(
                "",
                &format!(
                    "      - run: echo ${{{{ fromJSON('{}{}') }}}}\n",
                    "[".repeat(5000),
                    "]".repeat(5000)
                ),
            ),
            "wf.yml:6:22: error: cannot evaluate this expression: Error parsing JSON when evaluating fromJson: recursion limit exceeded",
        ),
        (
            "uses: /etc",
            workflow("", "      - uses: /etc\n"),
            "wf.yml:6:15: error: `uses: /etc` is not a valid action reference: a local action starts with `./`",
        ),
        (
            "uses: without a version",
            workflow("", "      - uses: someone/something\n"),
            "wf.yml:6:15: error: `uses: someone/something` has no version: write `someone/something@v1`",
        ),
        (
            "outputs: [../..]",
            workflow(
                "",
                "      - run: echo hi\n        inputs: [x]\n        outputs: [../..]\n",
            ),
            "wf.yml:8:19: error: `outputs`: `../..` leaves the workspace through `..`",
        ),
        (
            "a job's timeout-minutes: .inf",
            workflow("    timeout-minutes: .inf\n", echo),
            "wf.yml:5:22: error: `timeout-minutes` must be a number from 0 to 50400",
        ),
        (
            "a job's timeout-minutes: 1e308",
            workflow("    timeout-minutes: 1e308\n", echo),
            "wf.yml:5:22: error: `timeout-minutes` must be a number from 0 to 50400",
        ),
        (
            "a step's timeout-minutes: -1",
            workflow("", "      - run: echo hi\n        timeout-minutes: -1\n"),
            "wf.yml:7:26: error: `timeout-minutes` must be a number from 0 to 50400",
        ),
    ];
    let mut failures = Vec::new();
    for (index, (what, text, expected)) in cases.iter().enumerate() {
        let dir = common::git_repo(&[("wf.yml", text)]);
        let validated = mlci(dir.path(), &["validate", "wf.yml"]);
        let run_id = format!("hostile-{}-{index}", std::process::id());
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let ran = Command::new(common::mlci_bin())
            .args(["run", "wf.yml"])
            .current_dir(dir.path())
            .env("CI", "true")
            .env("MLCI_RUN_ID", &run_id)
            .output()
            .unwrap();
        let ran_stderr = String::from_utf8_lossy(&ran.stderr);
        let from_validate = first_diagnostic(&validated.stderr);
        let from_run = first_diagnostic(&ran_stderr);
        let created = containers_created(&run_id, since);
        if validated.code != Some(2)
            || ran.status.code() != Some(2)
            || from_validate.is_none()
            || from_validate != from_run
            || !from_validate.is_some_and(|d| d.contains(expected))
            || !created.is_empty()
        {
            failures.push(format!(
                "{what}: validate exited {:?}, run {:?}; expected both 2 with {expected:?}\nvalidate: {from_validate:?}\nrun:      {from_run:?}\ncontainers: {created:?}",
                validated.code,
                ran.status.code()
            ));
        }
        assert!(
            !validated.stderr.contains("panicked") && !ran_stderr.contains("panicked"),
            "{what} panicked"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_timeout_from_an_expression_too_large_for_a_duration_runs_the_job() {
    common::ensure_runner_image();
    // 1e308 minutes overflowed the job's deadline and panicked its task,
    // and the run passed without the job.
    let text = workflow(
        "    timeout-minutes: ${{ fromJSON('1e308') }}\n",
        "      - run: echo job-ran\n",
    );
    let dir = common::git_repo(&[("wf.yml", &text)]);
    let run_id = format!("hostile-timeout-{}", std::process::id());
    let ran = Command::new(common::mlci_bin())
        .args(["run", "wf.yml"])
        .current_dir(dir.path())
        .env("CI", "true")
        .env("MLCI_RUN_ID", &run_id)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&ran.stdout);
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert_eq!(ran.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stdout.contains("job-ran"), "{stdout}\n{stderr}");
    assert!(
        stdout.lines().any(
            |l| l.split_whitespace().collect::<Vec<_>>() == ["a", "success"]
                || l.trim_start().starts_with("a ") && l.contains("success")
        ),
        "the job is missing from the summary:\n{stdout}"
    );
    assert!(common::run_leftovers(&run_id).is_empty());
}

#[test]
fn files_that_are_not_utf8_are_refused_with_where() {
    let dir = tempfile::tempdir().unwrap();
    let mut latin1 =
        b"on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo caf".to_vec();
    latin1.extend([0xE9, b'\n']);
    std::fs::write(dir.path().join("latin1.yml"), latin1).unwrap();
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend("on: push\n".encode_utf16().flat_map(u16::to_le_bytes));
    std::fs::write(dir.path().join("utf16.yml"), utf16).unwrap();
    std::fs::write(dir.path().join("schema.yml"), [b'c', 0xFF, b'\n']).unwrap();
    std::fs::write(dir.path().join("data.csv"), "a\n1\n").unwrap();

    let answer = mlci(dir.path(), &["validate", "latin1.yml"]);
    assert_refused(&answer, "Latin-1 workflow");
    assert!(
        answer.stderr.contains(
            "cannot read latin1.yml: invalid UTF-8 at line 6, column 22 (byte 67); workflow files must be UTF-8"
        ),
        "{}",
        answer.stderr
    );
    let answer = mlci(dir.path(), &["validate", "utf16.yml"]);
    assert_refused(&answer, "UTF-16 workflow");
    assert!(
        answer
            .stderr
            .contains("cannot read utf16.yml: the file is UTF-16; workflow files must be UTF-8"),
        "{}",
        answer.stderr
    );
    let answer = mlci(
        dir.path(),
        &["data", "validate", "data.csv", "--schema", "schema.yml"],
    );
    assert_refused(&answer, "schema that is not UTF-8");
    assert!(
        answer
            .stderr
            .contains("invalid UTF-8 at line 1, column 2 (byte 1); schema files must be UTF-8"),
        "{}",
        answer.stderr
    );
}

#[test]
fn a_workflow_file_over_1_mib_is_refused_without_being_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("on: push\njobs:\n");
    let mut i = 0;
    while text.len() <= 1024 * 1024 {
        text.push_str(&format!(
            "  j{i}:\n    runs-on: x\n    steps: [{{run: x}}]\n"
        ));
        i += 1;
    }
    std::fs::write(dir.path().join("big.yml"), text).unwrap();
    let answer = mlci(dir.path(), &["validate", "big.yml"]);
    assert_refused(&answer, "a 1 MiB workflow");
    assert!(
        answer.stderr.contains(
            "cannot read big.yml: the file is larger than 1 MiB, the limit for workflow files"
        ),
        "{}",
        answer.stderr
    );
}

#[test]
fn an_error_on_a_long_line_shows_a_window_of_the_line() {
    let dir = tempfile::tempdir().unwrap();
    // As long a line as a workflow file may hold (1 MiB), after a bad key.
    let long = "x".repeat(1_000_000);
    let text = workflow(
        "",
        &format!("      - run: echo\n        bogus: \"{long}\"\n"),
    );
    std::fs::write(dir.path().join("wf.yml"), text).unwrap();
    let answer = mlci(dir.path(), &["validate", "wf.yml"]);
    assert_refused(&answer, "a 1 MB line");
    // The whole line was printed (a 10 MB one printed 20 MB): now a window.
    assert!(
        answer.stderr.len() < 2000,
        "{} bytes: {}",
        answer.stderr.len(),
        &answer.stderr[..2000.min(answer.stderr.len())]
    );
    assert!(
        answer.stderr.contains(&format!(
            "7 |         bogus: \"{}…\n  |         ^^^^^",
            "x".repeat(200 - 16)
        )),
        "{}",
        answer.stderr
    );
}

#[test]
fn a_span_over_several_lines_draws_its_caret_under_the_first_line_only() {
    let dir = tempfile::tempdir().unwrap();
    let text = workflow(
        "    strategy:\n      matrix:\n        a: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]\n        b: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]\n",
        "      - run: echo\n",
    );
    std::fs::write(dir.path().join("wf.yml"), text).unwrap();
    // `list` plans as `run` and `validate` do; its caret ran to the end of the file.
    let answer = mlci(dir.path(), &["list", "wf.yml"]);
    assert_refused(&answer, "a matrix of 289 jobs");
    let first = "a: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]";
    let expected = format!(
        "7 |         {first}\n  |         {}\n",
        "^".repeat(first.len())
    );
    assert!(answer.stderr.contains(&expected), "{}", answer.stderr);
}

#[test]
fn thousands_of_jobs_that_need_missing_jobs_are_answered_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    // Each error looked its job up by a scan and compared the missing name
    // with every job id for a hint: 15 000 such jobs took minutes.
    let mut text = String::from("on: push\njobs:\n");
    for i in 0..15_000 {
        text.push_str(&format!(
            "  j{i}:\n    needs: nope{i}\n    runs-on: x\n    steps: [{{run: x}}]\n"
        ));
    }
    std::fs::write(dir.path().join("needs.yml"), text).unwrap();
    let answer = mlci(dir.path(), &["validate", "needs.yml"]);
    assert_refused(&answer, "15 000 missing needs");
    assert!(
        answer
            .stderr
            .contains("needs.yml:4:12: error: job `j0` needs `nope0`, which does not exist"),
        "{}",
        &answer.stderr[..2000.min(answer.stderr.len())]
    );
    assert!(
        answer
            .stderr
            .contains("job `j14999` needs `nope14999`, which does not exist"),
    );
}

#[test]
fn a_bad_second_workflow_is_refused_before_the_first_starts() {
    // `mlci run` on a directory planned each file just before running it, so
    // a refused second file came after the first had run its containers.
    let good = workflow("", "      - run: echo first-ran\n");
    let bad = workflow(
        &format!(
            "    strategy:\n      matrix:\n        n: [{}]\n",
            (0..300)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(",")
        ),
        "      - run: echo hi\n",
    );
    let dir = common::git_repo(&[
        (".github/workflows/a.yml", &good),
        (".github/workflows/b.yml", &bad),
    ]);
    let run_id = format!("hostile-second-{}", std::process::id());
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let ran = Command::new(common::mlci_bin())
        .args(["run", ".github/workflows"])
        .current_dir(dir.path())
        .env("CI", "true")
        .env("MLCI_RUN_ID", &run_id)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&ran.stdout);
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert_eq!(ran.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("b.yml") && stderr.contains("at most 256 jobs"),
        "{stderr}"
    );
    assert!(!stdout.contains("first-ran") && !stderr.contains("first-ran"));
    assert_eq!(containers_created(&run_id, since), Vec::<String>::new());
}
