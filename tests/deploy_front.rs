//! The deployment front (`mlci __deploy-front`) in-process, over real HTTP,
//! against two small model servers: the routing table it is given, the
//! exact canary share, the retry past a server that is gone, the version
//! header, the request log, and the table kept across a restart.

use bytes::Bytes;
use http_body_util::Full;
use mlci::deploy::front::{FrontOptions, REQUEST_LOG, Route, Routes, serve};
use std::net::SocketAddr;
use std::time::Duration;

/// A model server that answers every request with `{"predictions": [N]}`.
async fn model_server(n: u32) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_request| async move {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from(
                        format!("{{\"predictions\": [{n}]}}"),
                    ))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
}

fn free_address() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

struct Front {
    public: SocketAddr,
    control: SocketAddr,
    client: reqwest::Client,
}

impl Front {
    async fn start(state_dir: &std::path::Path) -> Front {
        let (public, control) = (free_address(), free_address());
        tokio::spawn(serve(FrontOptions {
            listen: public,
            control,
            state_dir: state_dir.to_path_buf(),
            initial: Routes::default(),
        }));
        // reqwest is built without a TLS provider of its own; these requests are plain HTTP.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if client
                .get(format!("http://{control}/state"))
                .send()
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Front {
            public,
            control,
            client,
        }
    }

    async fn route(&self, routes: &[(i64, SocketAddr, u32)]) -> serde_json::Value {
        let routes = Routes {
            generation: 1,
            routes: routes
                .iter()
                .map(|(version, address, weight)| Route {
                    version: *version,
                    upstream: address.to_string(),
                    weight: *weight,
                })
                .collect(),
            sample: 1.0,
        };
        let answer = self
            .client
            .put(format!("http://{}/routes", self.control))
            .body(serde_json::to_string(&routes).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        serde_json::from_str(&answer.text().await.unwrap()).unwrap()
    }

    /// POST /invocations: status, x-mlci-model-version, body.
    async fn predict(&self) -> (u16, String, String) {
        let answer = self
            .client
            .post(format!("http://{}/invocations", self.public))
            .header("content-type", "application/json")
            .body(r#"{"inputs": [[1, 2]]}"#)
            .send()
            .await
            .unwrap();
        let version = answer
            .headers()
            .get("x-mlci-model-version")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (
            answer.status().as_u16(),
            version,
            answer.text().await.unwrap(),
        )
    }
}

#[tokio::test]
async fn the_front_routes_splits_retries_records_and_keeps_its_table() {
    let state = tempfile::tempdir().unwrap();
    let front = Front::start(state.path()).await;
    let (one, two) = (model_server(1).await, model_server(2).await);

    // Nothing deployed yet: a clear 503, not a hang.
    let (status, _, body) = front.predict().await;
    assert_eq!(status, 503);
    assert!(body.contains("no model version is deployed"), "{body}");

    front.route(&[(1, one, 100)]).await;
    assert_eq!(
        front.predict().await,
        (200, "1".into(), r#"{"predictions": [1]}"#.into())
    );

    // A canary of 20 % gets exactly 2 requests in 10.
    front.route(&[(1, one, 80), (2, two, 20)]).await;
    let mut versions = Vec::new();
    for _ in 0..10 {
        versions.push(front.predict().await.1);
    }
    assert_eq!(
        versions.iter().filter(|v| *v == "2").count(),
        2,
        "{versions:?}"
    );

    // A server that is gone: its requests go to the other route, none fails.
    let gone = free_address();
    let state_now = front.route(&[(3, gone, 50), (2, two, 50)]).await;
    assert_eq!(state_now["routes"]["routes"][0]["version"], 3);
    for _ in 0..6 {
        let (status, version, _) = front.predict().await;
        assert_eq!((status, version.as_str()), (200, "2"));
    }
    let counts = front
        .client
        .get(format!("http://{}/state", front.control))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let counts: serde_json::Value = serde_json::from_str(&counts).unwrap();
    assert_eq!(counts["upstreams"][gone.to_string()]["failed"], 3);
    assert_eq!(counts["upstreams"][gone.to_string()]["in_flight"], 0);

    // Every prediction is in the request log, with its version and bodies.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = std::fs::read_to_string(state.path().join(REQUEST_LOG)).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1 + 10 + 6);
    assert_eq!(lines[0]["version"], 1);
    assert_eq!(lines[0]["request"]["inputs"][0][1], 2);
    assert_eq!(lines[0]["response"]["predictions"][0], 1);
    assert_eq!(lines[0]["status"], 200);

    // A front started again on the same state serves the same table.
    front.route(&[(2, two, 100)]).await;
    let again = Front::start(state.path()).await;
    assert_eq!(again.predict().await.1, "2");
}
