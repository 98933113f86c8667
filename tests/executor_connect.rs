//! A missing engine is one sentence that says what to do. (Its own test
//! binary: it changes DOCKER_HOST for the whole process.)

use mlci::executor::docker::DockerBackend;

#[tokio::test]
async fn unreachable_engine_says_what_to_do() {
    // SAFETY: the only test in this process; nothing else reads the environment concurrently.
    unsafe { std::env::set_var("DOCKER_HOST", "unix:///nonexistent/mlci-docker.sock") };
    let err = DockerBackend::connect().await.unwrap_err().to_string();
    assert!(
        err.starts_with("cannot reach the Docker engine at unix:///nonexistent/mlci-docker.sock: is Docker running? Start it (systemctl start docker) or set DOCKER_HOST"),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
}
