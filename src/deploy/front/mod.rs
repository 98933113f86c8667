//! The front of a Docker deployment: the reverse proxy that owns the
//! deployment's port and sends each request to a model server, run as
//! `mlci __deploy-front` in a container of its own beside them.
//!
//! - A switch replaces the routing table at once (`PUT /routes` on the
//!   control port, which listens on the container's loopback only, so it is
//!   reached through `docker exec`); requests already on their way finish
//!   where they went, and the old server is stopped once none is in flight
//!   to it (`GET /state` counts them). So a switch loses no request.
//! - A request whose server cannot be reached (it was just stopped, it
//!   crashed) is sent to the next route; a prediction is safe to repeat.
//! - Answers carry `x-mlci-model-version`, and sampled predictions go to the
//!   request log (`request_log`) for monitoring.
//! - The table is kept in the state directory, so a restarted front serves
//!   what it served before.

mod request_log;
mod routes;

pub use request_log::{MAX_LOG_BYTES, REQUEST_LOG};
pub use routes::{Picker, Route, Routes};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use request_log::{RequestLog, Served};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// The file of the routing table, in the state directory.
pub const ROUTES_FILE: &str = "routes.json";
/// The header that names the version that answered.
pub const VERSION_HEADER: &str = "x-mlci-model-version";
/// A request body larger than this is refused (413) rather than buffered.
const MAX_REQUEST_BYTES: usize = 64 << 20;
/// How long a model server may take to answer one request.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the front listens and keeps its state.
#[derive(Clone, Debug)]
pub struct FrontOptions {
    pub listen: SocketAddr,
    pub control: SocketAddr,
    pub state_dir: PathBuf,
    /// The table to start with when the state directory has none.
    pub initial: Routes,
}

/// Requests in flight and served, per model server.
#[derive(Debug, Default)]
struct Counters {
    in_flight: AtomicU64,
    served: AtomicU64,
    failed: AtomicU64,
}

struct Front {
    routes: RwLock<Arc<Routes>>,
    picker: Mutex<Picker>,
    counters: Mutex<BTreeMap<String, Arc<Counters>>>,
    client: Client<HttpConnector, Full<Bytes>>,
    log: Arc<RequestLog>,
    state_dir: PathBuf,
    sampled: AtomicU64,
}

/// Runs the front until SIGTERM or SIGINT, then lets requests in flight
/// finish (at most 10 s).
pub async fn serve(options: FrontOptions) -> std::io::Result<()> {
    std::fs::create_dir_all(&options.state_dir)?;
    let routes = read_routes(&options.state_dir).unwrap_or(options.initial.clone());
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(2)));
    let front = Arc::new(Front {
        picker: Mutex::new(Picker::new(&routes)),
        routes: RwLock::new(Arc::new(routes)),
        counters: Mutex::default(),
        client: Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector),
        log: RequestLog::start(&options.state_dir),
        state_dir: options.state_dir.clone(),
        sampled: AtomicU64::new(0),
    });
    let public = tokio::net::TcpListener::bind(options.listen).await?;
    let control = tokio::net::TcpListener::bind(options.control).await?;
    eprintln!(
        "mlci front: serving {} (control on {})",
        options.listen, options.control
    );
    tokio::spawn(accept(control, front.clone(), true));
    let serving = tokio::spawn(accept(public, front.clone(), false));
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    serving.abort();
    let deadline = Instant::now() + Duration::from_secs(10);
    while front.in_flight() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn accept(listener: tokio::net::TcpListener, front: Arc<Front>, control: bool) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let front = front.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let front = front.clone();
                async move {
                    let response = if control {
                        front.control(request).await
                    } else {
                        front.forward(request).await
                    };
                    Ok::<_, std::convert::Infallible>(response)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn answer(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn error_answer(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    answer(
        status,
        serde_json::json!({ "error_code": "MLCI_FRONT", "message": message }).to_string(),
    )
}

/// Headers that belong to one connection, not to the request (RFC 9110 §7.6.1).
fn hop_by_hop(name: &hyper::header::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
    )
}

impl Front {
    fn counters(&self, upstream: &str) -> Arc<Counters> {
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        counters.entry(upstream.to_string()).or_default().clone()
    }

    fn in_flight(&self) -> u64 {
        let counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        counters
            .values()
            .map(|c| c.in_flight.load(Ordering::Relaxed))
            .sum()
    }

    async fn forward(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        let body = match Limited::new(body, MAX_REQUEST_BYTES).collect().await {
            Ok(body) => body.to_bytes(),
            Err(_) => {
                return error_answer(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the request body is larger than 64 MiB, or it was cut off",
                );
            }
        };
        let routes = self
            .routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let order = self
            .picker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .order();
        if order.is_empty() {
            return error_answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "no model version is deployed behind this front",
            );
        }
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let mut last_error = String::new();
        for index in order {
            let Some(route) = routes.routes.get(index) else {
                continue;
            };
            let counters = self.counters(&route.upstream);
            counters.in_flight.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let result = self.send(&parts, path, &body, &route.upstream).await;
            counters.in_flight.fetch_sub(1, Ordering::Relaxed);
            match result {
                Ok((status, headers, answer_body)) => {
                    counters.served.fetch_add(1, Ordering::Relaxed);
                    if parts.uri.path() == "/invocations" && self.sampled(routes.sample) {
                        self.log.record(&Served {
                            version: route.version,
                            status: status.as_u16(),
                            latency_ms: started.elapsed().as_secs_f64() * 1000.0,
                            request: &body,
                            response: &answer_body,
                        });
                    }
                    let mut response = Response::new(Full::new(answer_body));
                    *response.status_mut() = status;
                    for (name, value) in headers.iter().filter(|(n, _)| !hop_by_hop(n)) {
                        response.headers_mut().append(name.clone(), value.clone());
                    }
                    if let Ok(value) = route.version.to_string().parse() {
                        response.headers_mut().insert(VERSION_HEADER, value);
                    }
                    return response;
                }
                Err(error) => {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    last_error = format!("{}: {error}", route.upstream);
                }
            }
        }
        error_answer(
            StatusCode::BAD_GATEWAY,
            &format!("no model server answered ({last_error})"),
        )
    }

    /// One try against one model server: its status, headers and whole body.
    async fn send(
        &self,
        parts: &hyper::http::request::Parts,
        path: &str,
        body: &Bytes,
        upstream: &str,
    ) -> Result<(StatusCode, hyper::HeaderMap, Bytes), String> {
        let uri: hyper::Uri = format!("http://{upstream}{path}")
            .parse()
            .map_err(|e| format!("{e}"))?;
        let mut builder = Request::builder().method(parts.method.clone()).uri(uri);
        for (name, value) in parts.headers.iter().filter(|(n, _)| !hop_by_hop(n)) {
            builder = builder.header(name, value);
        }
        let request = builder
            .body(Full::new(body.clone()))
            .map_err(|e| e.to_string())?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| format!("{e:?}"))?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
            Ok::<_, String>((parts.status, parts.headers, body))
        };
        tokio::time::timeout(UPSTREAM_TIMEOUT, exchange)
            .await
            .map_err(|_| format!("no answer within {} s", UPSTREAM_TIMEOUT.as_secs()))?
    }

    fn sampled(&self, rate: f64) -> bool {
        if rate >= 1.0 {
            return true;
        }
        if rate <= 0.0 {
            return false;
        }
        // Every request adds `rate` to a running total; one is kept each time it passes a whole number.
        let n = self.sampled.fetch_add(1, Ordering::Relaxed) as f64;
        ((n + 1.0) * rate).floor() > (n * rate).floor()
    }

    async fn control(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        match (request.method().as_str(), request.uri().path()) {
            ("GET", "/state") => answer(StatusCode::OK, self.state().to_string()),
            ("PUT", "/routes") => {
                let body = match Limited::new(request.into_body(), 1 << 20).collect().await {
                    Ok(body) => body.to_bytes(),
                    Err(_) => return error_answer(StatusCode::BAD_REQUEST, "body too large"),
                };
                let routes: Routes = match serde_json::from_slice(&body) {
                    Ok(routes) => routes,
                    Err(error) => {
                        return error_answer(StatusCode::BAD_REQUEST, &error.to_string());
                    }
                };
                if let Err(error) = write_routes(&self.state_dir, &routes) {
                    return error_answer(StatusCode::INTERNAL_SERVER_ERROR, &error.to_string());
                }
                *self.picker.lock().unwrap_or_else(|e| e.into_inner()) = Picker::new(&routes);
                *self.routes.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(routes);
                answer(StatusCode::OK, self.state().to_string())
            }
            _ => error_answer(StatusCode::NOT_FOUND, "GET /state, PUT /routes"),
        }
    }

    fn state(&self) -> serde_json::Value {
        let routes = self
            .routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        let upstreams: serde_json::Map<String, serde_json::Value> = counters
            .iter()
            .map(|(name, c)| {
                (
                    name.clone(),
                    serde_json::json!({
                        "in_flight": c.in_flight.load(Ordering::Relaxed),
                        "served": c.served.load(Ordering::Relaxed),
                        "failed": c.failed.load(Ordering::Relaxed),
                    }),
                )
            })
            .collect();
        serde_json::json!({
            "routes": &*routes,
            "upstreams": upstreams,
            "logged": self.log.written.load(Ordering::Relaxed),
            "log_dropped": self.log.dropped.load(Ordering::Relaxed),
        })
    }
}

fn read_routes(dir: &Path) -> Option<Routes> {
    let text = std::fs::read(dir.join(ROUTES_FILE)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Writes the table to a temporary file and renames it over the old one:
/// a front killed halfway keeps a whole table.
fn write_routes(dir: &Path, routes: &Routes) -> std::io::Result<()> {
    let temporary = dir.join(format!("{ROUTES_FILE}.new"));
    std::fs::write(&temporary, serde_json::to_vec_pretty(routes)?)?;
    std::fs::rename(temporary, dir.join(ROUTES_FILE))
}
