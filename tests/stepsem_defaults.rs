//! Default environment variables, checked against GitHub's "Default
//! environment variables" docs.

use mlci::run::defaults::*;

fn input() -> DefaultEnvInput {
    DefaultEnvInput {
        workflow: "CI".into(),
        workflow_ref: None,
        workflow_sha: None,
        run_id: 1234,
        run_number: 7,
        run_attempt: 1,
        job: "train".into(),
        action: action_name(None, None, 1),
        actor: "octocat".into(),
        triggering_actor: None,
        repository: "octo-org/ml".into(),
        event_name: "push".into(),
        event_path: "/github/workflow/event.json".into(),
        workspace: "/__w/ml/ml".into(),
        sha: "ffac537e6cbbf934b08745a378932722df287a53".into(),
        git_ref: "refs/heads/main".into(),
        head_ref: None,
        base_ref: None,
        server_url: "https://github.com".into(),
        files: FileCommandPaths {
            output: "/__w/_temp/_runner_file_commands/set_output_1".into(),
            env: "/__w/_temp/_runner_file_commands/set_env_1".into(),
            path: "/__w/_temp/_runner_file_commands/add_path_1".into(),
            step_summary: "/__w/_temp/_runner_file_commands/step_summary_1".into(),
            state: "/__w/_temp/_runner_file_commands/save_state_1".into(),
        },
        runner_arch: runner_arch("x86_64").into(),
        runner_name: "mlci".into(),
        runner_temp: "/__w/_temp".into(),
        runner_tool_cache: "/__t".into(),
        runner_environment: "self-hosted".into(),
        debug: false,
        home: Some("/github/home".into()),
        retention_days: None,
    }
}

#[test]
fn all_documented_variables() {
    let env = default_env(&input());
    let get = |k: &str| env.get(k).map(String::as_str);
    assert_eq!(get("CI"), Some("true"));
    assert_eq!(get("GITHUB_ACTIONS"), Some("true"));
    assert_eq!(get("GITHUB_WORKFLOW"), Some("CI"));
    assert_eq!(get("GITHUB_RUN_ID"), Some("1234"));
    assert_eq!(get("GITHUB_RUN_NUMBER"), Some("7"));
    assert_eq!(get("GITHUB_RUN_ATTEMPT"), Some("1"));
    assert_eq!(get("GITHUB_JOB"), Some("train"));
    assert_eq!(get("GITHUB_ACTION"), Some("__run"));
    assert_eq!(get("GITHUB_ACTOR"), Some("octocat"));
    assert_eq!(get("GITHUB_TRIGGERING_ACTOR"), Some("octocat"));
    assert_eq!(get("GITHUB_REPOSITORY"), Some("octo-org/ml"));
    assert_eq!(get("GITHUB_REPOSITORY_OWNER"), Some("octo-org"));
    assert_eq!(get("GITHUB_EVENT_NAME"), Some("push"));
    assert_eq!(
        get("GITHUB_EVENT_PATH"),
        Some("/github/workflow/event.json")
    );
    assert_eq!(get("GITHUB_WORKSPACE"), Some("/__w/ml/ml"));
    assert_eq!(
        get("GITHUB_SHA"),
        Some("ffac537e6cbbf934b08745a378932722df287a53")
    );
    assert_eq!(get("GITHUB_REF"), Some("refs/heads/main"));
    assert_eq!(get("GITHUB_REF_NAME"), Some("main"));
    assert_eq!(get("GITHUB_REF_TYPE"), Some("branch"));
    assert_eq!(get("GITHUB_HEAD_REF"), Some(""));
    assert_eq!(get("GITHUB_BASE_REF"), Some(""));
    assert_eq!(get("GITHUB_SERVER_URL"), Some("https://github.com"));
    assert_eq!(get("GITHUB_API_URL"), Some("https://api.github.com"));
    assert_eq!(
        get("GITHUB_GRAPHQL_URL"),
        Some("https://api.github.com/graphql")
    );
    assert!(get("GITHUB_OUTPUT").unwrap().contains("set_output_"));
    assert!(get("GITHUB_ENV").unwrap().contains("set_env_"));
    assert!(get("GITHUB_PATH").unwrap().contains("add_path_"));
    assert!(
        get("GITHUB_STEP_SUMMARY")
            .unwrap()
            .contains("step_summary_")
    );
    assert!(get("GITHUB_STATE").unwrap().contains("save_state_"));
    assert_eq!(get("RUNNER_OS"), Some("Linux"));
    assert_eq!(get("RUNNER_ARCH"), Some("X64"));
    assert_eq!(get("RUNNER_NAME"), Some("mlci"));
    assert_eq!(get("RUNNER_TEMP"), Some("/__w/_temp"));
    assert_eq!(get("RUNNER_TOOL_CACHE"), Some("/__t"));
    assert_eq!(get("HOME"), Some("/github/home"));
    assert_eq!(get("RUNNER_DEBUG"), None);
}

#[test]
fn debug_pull_requests_tags_and_enterprise() {
    let mut i = input();
    i.debug = true;
    i.git_ref = "refs/pull/5/merge".into();
    i.head_ref = Some("feature".into());
    i.base_ref = Some("main".into());
    i.server_url = "https://ghe.example.com/".into();
    let env = default_env(&i);
    assert_eq!(env["RUNNER_DEBUG"], "1");
    assert_eq!(env["GITHUB_REF_NAME"], "5/merge");
    assert_eq!(env["GITHUB_HEAD_REF"], "feature");
    assert_eq!(env["GITHUB_BASE_REF"], "main");
    assert_eq!(env["GITHUB_SERVER_URL"], "https://ghe.example.com");
    assert_eq!(env["GITHUB_API_URL"], "https://ghe.example.com/api/v3");
    assert_eq!(
        env["GITHUB_GRAPHQL_URL"],
        "https://ghe.example.com/api/graphql"
    );
    assert_eq!(ref_type("refs/tags/v1.0"), "tag");
    assert_eq!(ref_name("refs/tags/v1.0"), "v1.0");
}

#[test]
fn action_names() {
    assert_eq!(action_name(Some("build"), None, 3), "build");
    assert_eq!(action_name(None, None, 1), "__run");
    assert_eq!(action_name(None, None, 2), "__run_2");
    assert_eq!(
        action_name(None, Some("actions/checkout@v4"), 1),
        "__actions_checkout"
    );
    assert_eq!(runner_arch("aarch64"), "ARM64");
}
