//! The stand-in's `apps/v1` Deployments and ReplicaSets, with the
//! controllers behind them, and `core/v1` Services.
//!
//! - Create, get, list, watch, replace (`PUT`, with `resourceVersion` as a
//!   precondition: 409 `Conflict` when it is not the stored one) and delete
//!   of all three. Defaults as the real API server writes them (a
//!   Deployment's `replicas: 1`, `strategy` RollingUpdate 25 %/25 %,
//!   `revisionHistoryLimit: 10`, `progressDeadlineSeconds: 600`; probes'
//!   `timeoutSeconds: 1`, `periodSeconds: 10`, `successThreshold: 1`,
//!   `failureThreshold: 3`; a Service's `ClusterIP` type, an allocated
//!   `clusterIP` in 10.96.0.0/12, `targetPort` = `port`, `protocol: TCP`),
//!   and its validation of what a rollout sends (selector required, matching
//!   the template's labels and immutable; `restartPolicy: Always`; not both
//!   `maxSurge` and `maxUnavailable` 0; a Service's name a DNS-1035 label,
//!   its ports 1–65535 and named when several, its `clusterIP` unchanged).
//!   `metadata.generation` counts changes of `spec`; `status` is kept from
//!   the stored object on a replace (it is a subresource).
//! - The Deployment controller (rolling updates only as the real one does
//!   them, and Recreate): the ReplicaSet whose template equals the
//!   Deployment's (ignoring `pod-template-hash`) is the new one, else one is
//!   made (`<deployment>-<hash>`, FNV-32a of the template, encoded as
//!   `rand.SafeEncodeString` does), numbered `deployment.kubernetes.io/
//!   revision` one past the highest (an old one brought back is renumbered,
//!   its old number kept in `revision-history`); the Deployment carries the
//!   new one's revision. The new ReplicaSet grows up to `replicas +
//!   maxSurge` pods in all, the old ones shrink while `replicas −
//!   maxUnavailable` pods stay available (the unhealthy first). Status:
//!   `observedGeneration`, `replicas`, `updatedReplicas`, `readyReplicas`,
//!   `availableReplicas`, `unavailableReplicas` (zeros left out, as the
//!   API's omitempty does), conditions `Available`
//!   (MinimumReplicasAvailable/Unavailable) and `Progressing`
//!   (NewReplicaSetCreated, FoundNewReplicaSet, ReplicaSetUpdated,
//!   NewReplicaSetAvailable, and `False`/ProgressDeadlineExceeded once no
//!   progress was made for `progressDeadlineSeconds`). Old ReplicaSets at 0
//!   beyond `revisionHistoryLimit` are deleted.
//! - The ReplicaSet controller: pods `<replicaset>-<5 random>` from the
//!   template (owner reference, `generateName`), scaled down not-ready and
//!   newest first; status `replicas` (pods not terminating),
//!   `fullyLabeledReplicas`, `readyReplicas`, `availableReplicas` (ready for
//!   `minReadySeconds`), `observedGeneration`.
//! - The garbage collector: a ReplicaSet or pod whose owning Deployment or
//!   ReplicaSet is gone is deleted (background propagation, the apps/v1
//!   default); Orphan drops the owner references; Foreground keeps the owner
//!   (`deletionTimestamp`, finalizer `foregroundDeletion`) until its
//!   dependents are gone.
//!
//! Pods of a ReplicaSet get a network of their own (Docker's default
//! bridge, not the host's): `status.podIP` is the container's address, so
//! that replicas on the same port do not collide and a test can reach each
//! one. The kubelet probes `readinessProbe.httpGet` there (`port` by number
//! or by name, `initialDelaySeconds`, `periodSeconds`, `timeoutSeconds`,
//! `successThreshold`, `failureThreshold`; 200–399 passes) and sets the
//! pod's and the container's `ready` from it; without one a running
//! container is ready. Liveness and startup probes are not run, and a
//! `preStop` hook is not run (all recorded as ignored). A container that
//! ends is not started again: the pod shows `CrashLoopBackOff` (restartCount
//! 1, `lastState.terminated`) and stays not ready. Controllers run on every
//! change of the state and every 250 ms. Services route nothing (there is no
//! proxy); they are stored, served and garbage-free.

use super::*;

/// The label the Deployment controller adds to a ReplicaSet and its pods.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";
pub const ANNOTATION_REVISION: &str = "deployment.kubernetes.io/revision";
const ANNOTATION_REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
const ANNOTATION_DESIRED: &str = "deployment.kubernetes.io/desired-replicas";
const ANNOTATION_MAX: &str = "deployment.kubernetes.io/max-replicas";
/// How often the controllers look again without a change (progress deadlines).
const RESYNC: Duration = Duration::from_millis(250);

/// The kinds served with PUT.
pub(super) fn replaceable(kind: Kind) -> bool {
    matches!(kind, Kind::Deployment | Kind::ReplicaSet | Kind::Service)
}

/// What the controllers remember of a Deployment between passes.
pub(super) struct DeploymentRuntime {
    last_progress: Instant,
    updated: i64,
    ready: i64,
    available: i64,
    old: i64,
    generation: i64,
}

// ------------------------------------------------------------- admission

fn dns1035(name: &str) -> bool {
    dns_label(name) && name.as_bytes()[0].is_ascii_lowercase()
}

fn int_of(v: &Value, pointer: &str) -> Option<i64> {
    v.pointer(pointer).and_then(Value::as_i64)
}

/// `25%` of `total`, rounded up (surge) or down (unavailable); a number as is.
fn scaled(value: &Value, total: i64, round_up: bool) -> i64 {
    match value {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => match s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) {
            Some(percent) => {
                let exact = total * percent;
                if round_up {
                    (exact + 99) / 100
                } else {
                    exact / 100
                }
            }
            None => s.parse().unwrap_or(0),
        },
        _ => 0,
    }
}

/// maxSurge and maxUnavailable as numbers of pods, as the controller
/// resolves them (both 0 makes unavailable 1).
fn fenceposts(d: &Value) -> (i64, i64) {
    let replicas = int_of(d, "/spec/replicas").unwrap_or(1);
    let rolling = &d["spec"]["strategy"]["rollingUpdate"];
    let surge = scaled(&rolling["maxSurge"], replicas, true);
    let mut unavailable = scaled(&rolling["maxUnavailable"], replicas, false);
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable.min(replicas))
}

fn default_probe(probe: &mut Value) {
    if !probe.is_object() {
        return;
    }
    for (field, value) in [
        ("timeoutSeconds", json!(1)),
        ("periodSeconds", json!(10)),
        ("successThreshold", json!(1)),
        ("failureThreshold", json!(3)),
    ] {
        if probe[field].is_null() {
            probe[field] = value;
        }
    }
    if probe["httpGet"].is_object() && probe["httpGet"]["scheme"].is_null() {
        probe["httpGet"]["scheme"] = json!("HTTP");
    }
}

/// The pod template's defaults beyond the pod's own: probes and ports.
pub(super) fn default_containers(spec: &mut Value) {
    for list in ["containers", "initContainers"] {
        if let Some(containers) = spec[list].as_array_mut() {
            for c in containers {
                for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
                    default_probe(&mut c[probe]);
                }
                if let Some(ports) = c["ports"].as_array_mut() {
                    for p in ports {
                        if p["protocol"].is_null() {
                            p["protocol"] = json!("TCP");
                        }
                    }
                }
            }
        }
    }
}

fn selector_problems(d: &Value, kind: Kind) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let selector = &d["spec"]["selector"];
    let match_labels = selector["matchLabels"].as_object();
    let has_expressions = selector["matchExpressions"]
        .as_array()
        .is_some_and(|e| !e.is_empty());
    if match_labels.is_none_or(|m| m.is_empty()) && !has_expressions {
        problems.push(("spec.selector".into(), "Required value".into()));
        return problems;
    }
    if has_expressions {
        problems.push((
            "spec.selector.matchExpressions".into(),
            "Invalid value: the kube stand-in selects by matchLabels only".into(),
        ));
    }
    let template = labels_of(&d["spec"]["template"]);
    if let Some(m) = match_labels {
        let matches = m
            .iter()
            .all(|(k, v)| template.get(k).map(String::as_str) == v.as_str());
        if !matches {
            problems.push((
                "spec.template.metadata.labels".into(),
                format!(
                    "Invalid value: {}: `selector` does not match template `labels`",
                    json!(template)
                ),
            ));
        }
    }
    let _ = kind;
    problems
}

/// Validates `object` of `kind` and writes the API server's defaults into
/// it; `stored` is what it replaces, if anything.
pub(super) fn admit_problems(
    kind: Kind,
    object: &mut Value,
    stored: Option<&Value>,
) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    match kind {
        Kind::Deployment | Kind::ReplicaSet => {
            let spec = &mut object["spec"];
            if !spec.is_object() {
                problems.push(("spec".into(), "Required value".into()));
                return problems;
            }
            if spec["replicas"].is_null() {
                spec["replicas"] = json!(1);
            }
            if spec["replicas"].as_i64().is_none_or(|r| r < 0) {
                problems.push((
                    "spec.replicas".into(),
                    format!(
                        "Invalid value: {}: must be greater than or equal to 0",
                        spec["replicas"]
                    ),
                ));
            }
            if kind == Kind::Deployment {
                if spec["strategy"]["type"].is_null() {
                    spec["strategy"]["type"] = json!("RollingUpdate");
                }
                match spec["strategy"]["type"].as_str() {
                    Some("RollingUpdate") => {
                        let rolling = &mut spec["strategy"]["rollingUpdate"];
                        for field in ["maxUnavailable", "maxSurge"] {
                            if rolling[field].is_null() {
                                rolling[field] = json!("25%");
                            }
                        }
                        let zero = |v: &Value| {
                            v.as_i64() == Some(0) || v.as_str().is_some_and(|s| s == "0%" || s == "0")
                        };
                        if zero(&rolling["maxUnavailable"]) && zero(&rolling["maxSurge"]) {
                            problems.push((
                                "spec.strategy.rollingUpdate.maxUnavailable".into(),
                                format!(
                                    "Invalid value: {}: may not be 0 when `maxSurge` is 0",
                                    rolling["maxUnavailable"]
                                ),
                            ));
                        }
                    }
                    Some("Recreate") => {
                        if !spec["strategy"]["rollingUpdate"].is_null() {
                            problems.push((
                                "spec.strategy.rollingUpdate".into(),
                                "Forbidden: may not be specified when strategy `type` is 'Recreate'"
                                    .into(),
                            ));
                        }
                    }
                    other => problems.push((
                        "spec.strategy.type".into(),
                        format!(
                            "Unsupported value: {}: supported values: \"Recreate\", \"RollingUpdate\"",
                            json!(other)
                        ),
                    )),
                }
                for (field, value) in [
                    ("revisionHistoryLimit", json!(10)),
                    ("progressDeadlineSeconds", json!(600)),
                ] {
                    if spec[field].is_null() {
                        spec[field] = value;
                    }
                }
                let min_ready = spec["minReadySeconds"].as_i64().unwrap_or(0);
                if spec["progressDeadlineSeconds"]
                    .as_i64()
                    .is_some_and(|p| p <= min_ready)
                {
                    problems.push((
                        "spec.progressDeadlineSeconds".into(),
                        "Invalid value: must be greater than minReadySeconds".into(),
                    ));
                }
            }
            problems.extend(selector_problems(object, kind));
            let template = &mut object["spec"]["template"];
            if !template.is_object() {
                problems.push(("spec.template".into(), "Required value".into()));
                return problems;
            }
            problems.extend(label_problems(
                &template["metadata"]["labels"],
                "spec.template.metadata.labels",
            ));
            problems.extend(pod_spec_problems(&template["spec"], "spec.template.spec"));
            let restart = str_of(template, "/spec/restartPolicy");
            if !restart.is_empty() && restart != "Always" {
                problems.push((
                    "spec.template.spec.restartPolicy".into(),
                    format!("Unsupported value: {restart:?}: supported values: \"Always\""),
                ));
            }
            default_pod_spec(&mut template["spec"]);
            default_containers(&mut template["spec"]);
            if let Some(stored) = stored
                && stored["spec"]["selector"] != object["spec"]["selector"]
            {
                problems.push((
                    "spec.selector".into(),
                    format!(
                        "Invalid value: {}: field is immutable",
                        object["spec"]["selector"]
                    ),
                ));
            }
        }
        Kind::Service => {
            let name = str_of(object, "/metadata/name").to_string();
            if !name.is_empty() && !dns1035(&name) {
                problems.push((
                    "metadata.name".into(),
                    format!("Invalid value: {name:?}: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"),
                ));
            }
            let spec = &mut object["spec"];
            if spec["type"].is_null() {
                spec["type"] = json!("ClusterIP");
            }
            let type_ = spec["type"].as_str().unwrap_or("").to_string();
            if !["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"].contains(&type_.as_str())
            {
                problems.push((
                    "spec.type".into(),
                    format!("Unsupported value: {type_:?}: supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""),
                ));
            }
            for (field, value) in [
                ("sessionAffinity", json!("None")),
                ("internalTrafficPolicy", json!("Cluster")),
                ("ipFamilies", json!(["IPv4"])),
                ("ipFamilyPolicy", json!("SingleStack")),
            ] {
                if spec[field].is_null() && type_ != "ExternalName" {
                    spec[field] = value;
                }
            }
            let ports = spec["ports"].as_array().cloned().unwrap_or_default();
            if ports.is_empty() && type_ != "ExternalName" && spec["clusterIP"] != json!("None") {
                problems.push(("spec.ports".into(), "Required value".into()));
            }
            let mut defaulted = Vec::new();
            for (i, mut p) in ports.into_iter().enumerate() {
                let port = p["port"].as_i64().unwrap_or(0);
                if !(1..=65535).contains(&port) {
                    problems.push((
                        format!("spec.ports[{i}].port"),
                        format!("Invalid value: {port}: must be between 1 and 65535, inclusive"),
                    ));
                }
                if spec["ports"].as_array().is_some_and(|a| a.len() > 1)
                    && str_of(&p, "/name").is_empty()
                {
                    problems.push((format!("spec.ports[{i}].name"), "Required value".into()));
                }
                if p["protocol"].is_null() {
                    p["protocol"] = json!("TCP");
                }
                if p["targetPort"].is_null() {
                    p["targetPort"] = json!(port);
                }
                defaulted.push(p);
            }
            if !defaulted.is_empty() {
                spec["ports"] = json!(defaulted);
            }
            problems.extend(label_problems(&spec["selector"], "spec.selector"));
            if let Some(stored) = stored {
                // The allocated address stays: an update that leaves it out keeps it.
                let old = &stored["spec"];
                for field in ["clusterIP", "clusterIPs"] {
                    if spec[field].is_null() {
                        spec[field] = old[field].clone();
                    }
                }
                if spec["clusterIP"] != old["clusterIP"] {
                    problems.push((
                        "spec.clusterIPs[0]".into(),
                        format!(
                            "Invalid value: {}: may not change once set",
                            spec["clusterIP"]
                        ),
                    ));
                }
            }
        }
        _ => {}
    }
    problems
}

/// A new object's server-side fields: generation, the Service's address,
/// an empty status.
pub(super) fn store_new(s: &mut State, kind: Kind, object: &mut Value) {
    match kind {
        Kind::Deployment => {
            object["metadata"]["generation"] = json!(1);
            object["status"] = json!({});
        }
        Kind::ReplicaSet => {
            object["metadata"]["generation"] = json!(1);
            object["status"] = json!({"replicas": 0});
        }
        Kind::Service => {
            if object["spec"]["clusterIP"].is_null()
                && object["spec"]["type"] != json!("ExternalName")
            {
                s.cluster_ips += 1;
                let n = s.cluster_ips;
                let ip = format!("10.96.{}.{}", n / 250, n % 250 + 1);
                object["spec"]["clusterIP"] = json!(ip);
                object["spec"]["clusterIPs"] = json!([ip]);
            }
            object["status"] = json!({"loadBalancer": {}});
        }
        _ => {}
    }
}

/// `PUT /…/{name}`: the whole object, with `resourceVersion` as precondition.
pub(super) fn replace_reply(
    shared: &Arc<Shared>,
    kind: Kind,
    ns: &str,
    name: &str,
    body: &str,
) -> Result<Reply, Reply> {
    let mut object = super::request_object(kind, ns, body)?;
    let given_name = str_of(&object, "/metadata/name").to_string();
    if given_name != name {
        return Err(bad_request(format!(
            "the name of the object ({given_name}) does not match the name on the URL ({name})"
        )));
    }
    Ok(shared.mutate(|s| {
        let Some(stored) = s.get(kind, ns, name).cloned() else {
            return not_found_object(kind, name);
        };
        let version = str_of(&object, "/metadata/resourceVersion");
        if !version.is_empty() && version != str_of(&stored, "/metadata/resourceVersion") {
            return status(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} {name:?}: the object has been modified; please apply your changes to the latest version and try again",
                    kind.qualified_resource()
                ),
                Some(json!({"name": name, "group": kind.group(), "kind": kind.resource()})),
            );
        }
        let mut problems = label_problems(&object["metadata"]["labels"], "metadata.labels");
        problems.extend(admit_problems(kind, &mut object, Some(&stored)));
        if !problems.is_empty() {
            return invalid(kind, name, problems);
        }
        // What the server keeps: identity, generation, deletion, status.
        let metadata = &mut object["metadata"];
        for field in [
            "uid",
            "creationTimestamp",
            "generation",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            match stored["metadata"].get(field) {
                Some(v) => metadata[field] = v.clone(),
                None => {
                    if let Some(m) = metadata.as_object_mut() {
                        m.remove(field);
                    }
                }
            }
        }
        metadata["namespace"] = json!(ns);
        object["kind"] = json!(kind.name());
        object["apiVersion"] = json!(kind.api_version());
        object["status"] = stored["status"].clone();
        if object["spec"] != stored["spec"] && kind != Kind::Service {
            let generation = int_of(&stored, "/metadata/generation").unwrap_or(1);
            object["metadata"]["generation"] = json!(generation + 1);
        }
        object["metadata"]["resourceVersion"] = stored["metadata"]["resourceVersion"].clone();
        if object == stored {
            // Nothing changed: no new resourceVersion, no event.
            return ok(stored);
        }
        s.put(kind, object, "MODIFIED");
        ok(s.get(kind, ns, name).cloned().unwrap_or(Value::Null))
    }))
}

// ----------------------------------------------------------------- delete

/// Deletes a Deployment or a ReplicaSet with a propagation policy (the
/// apps/v1 default is Background); true when it is gone now.
pub(super) fn delete_owner(
    s: &mut State,
    kind: Kind,
    object: &Value,
    policy: &str,
) -> (Value, bool, Vec<Effect>) {
    let uid = str_of(object, "/metadata/uid").to_string();
    match policy {
        "Foreground" => {
            let mut marked = object.clone();
            marked["metadata"]["deletionTimestamp"] = json!(now());
            marked["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            marked["metadata"]["finalizers"] = json!(["foregroundDeletion"]);
            s.put(kind, marked.clone(), "MODIFIED");
            let (ns, name) = (
                str_of(object, "/metadata/namespace").to_string(),
                str_of(object, "/metadata/name").to_string(),
            );
            let now = s.get(kind, &ns, &name).cloned().unwrap_or(marked);
            (now, false, Vec::new())
        }
        "Orphan" => {
            for (k, _, dependent) in dependents(s, &uid) {
                let mut freed = dependent.clone();
                if let Some(refs) = freed["metadata"]["ownerReferences"].as_array_mut() {
                    refs.retain(|r| str_of(r, "/uid") != uid);
                }
                s.put(k, freed, "MODIFIED");
            }
            s.put(kind, object.clone(), "DELETED");
            (object.clone(), true, Vec::new())
        }
        // Background: the garbage collector deletes the dependents.
        _ => {
            s.put(kind, object.clone(), "DELETED");
            (object.clone(), true, Vec::new())
        }
    }
}

/// The objects (kind, uid, object) that name `owner_uid` as an owner.
fn dependents(s: &State, owner_uid: &str) -> Vec<(Kind, String, Value)> {
    s.objects
        .iter()
        .filter(|(_, v)| {
            v["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|refs| refs.iter().any(|r| str_of(r, "/uid") == owner_uid))
        })
        .map(|((k, _, _), v)| (*k, str_of(v, "/metadata/uid").to_string(), v.clone()))
        .collect()
}

fn uid_exists(s: &State, uid: &str) -> bool {
    s.objects
        .values()
        .any(|v| str_of(v, "/metadata/uid") == uid)
}

/// The garbage collector's pass: dependents of deleted Deployments and
/// ReplicaSets go; owners being deleted in the foreground go once their
/// dependents have.
fn collect_garbage(s: &mut State) -> Vec<Effect> {
    let mut effects = Vec::new();
    let orphans: Vec<(Kind, String, Value)> = s
        .objects
        .iter()
        .filter(|((k, _, _), _)| matches!(k, Kind::ReplicaSet | Kind::Pod))
        .filter_map(|((k, _, _), v)| {
            let refs = v["metadata"]["ownerReferences"].as_array()?;
            let owned_by_apps = refs
                .iter()
                .any(|r| matches!(str_of(r, "/kind"), "Deployment" | "ReplicaSet"));
            let all_gone = refs.iter().all(|r| !uid_exists(s, str_of(r, "/uid")));
            (owned_by_apps && all_gone && v.pointer("/metadata/deletionTimestamp").is_none())
                .then(|| (*k, str_of(v, "/metadata/uid").to_string(), v.clone()))
        })
        .collect();
    for (kind, uid, object) in orphans {
        match kind {
            Kind::Pod => effects.extend(delete_pod(s, &uid, None).1),
            _ => effects.extend(delete_owner(s, kind, &object, "Background").2),
        }
    }
    let finishing: Vec<(Kind, String, Value)> = s
        .objects
        .iter()
        .filter(|((k, _, _), v)| {
            matches!(k, Kind::Deployment | Kind::ReplicaSet)
                && v["metadata"]["finalizers"]
                    .as_array()
                    .is_some_and(|f| f.contains(&json!("foregroundDeletion")))
        })
        .map(|((k, _, _), v)| (*k, str_of(v, "/metadata/uid").to_string(), v.clone()))
        .collect();
    for (kind, uid, object) in finishing {
        let left = dependents(s, &uid);
        if left.is_empty() {
            s.put(kind, object, "DELETED");
            continue;
        }
        for (k, dep_uid, dependent) in left {
            if dependent.pointer("/metadata/deletionTimestamp").is_some() {
                continue;
            }
            match k {
                Kind::Pod => effects.extend(delete_pod(s, &dep_uid, None).1),
                _ => effects.extend(delete_owner(s, k, &dependent, "Foreground").2),
            }
        }
    }
    effects
}

// ------------------------------------------------------------ controllers

/// Runs the controllers on every change and every [`RESYNC`], until the
/// server's runtime ends.
pub(super) async fn controllers(shared: Arc<Shared>) {
    let mut tick = shared.tick.subscribe();
    loop {
        tokio::select! {
            changed = tick.changed() => if changed.is_err() { return },
            _ = tokio::time::sleep(RESYNC) => {},
        }
        let (effects, changed) = shared.with(|s| {
            let before = s.resource_version;
            let effects = reconcile(s);
            (effects, s.resource_version != before)
        });
        if changed {
            shared.tick.send_modify(|t| *t += 1);
        }
        apply(&shared, effects);
    }
}

fn reconcile(s: &mut State) -> Vec<Effect> {
    let mut effects = collect_garbage(s);
    let deployments: Vec<(String, String)> = keys(s, Kind::Deployment);
    for (ns, name) in &deployments {
        scale_deployment(s, ns, name);
    }
    for (ns, name) in keys(s, Kind::ReplicaSet) {
        effects.extend(sync_replica_set(s, &ns, &name));
    }
    for (ns, name) in &deployments {
        deployment_status(s, ns, name);
    }
    effects
}

fn keys(s: &State, kind: Kind) -> Vec<(String, String)> {
    s.objects
        .keys()
        .filter(|(k, _, _)| *k == kind)
        .map(|(_, ns, name)| (ns.clone(), name.clone()))
        .collect()
}

fn deleting(v: &Value) -> bool {
    v.pointer("/metadata/deletionTimestamp").is_some()
}

fn revision(v: &Value) -> i64 {
    v["metadata"]["annotations"][ANNOTATION_REVISION]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// The ReplicaSets a Deployment controls, oldest first.
fn owned(s: &State, kind: Kind, ns: &str, owner_uid: &str) -> Vec<Value> {
    let mut items: Vec<Value> = s
        .objects
        .iter()
        .filter(|((k, n, _), v)| {
            *k == kind
                && n == ns
                && v["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|refs| {
                        refs.iter().any(|r| {
                            str_of(r, "/uid") == owner_uid && r["controller"] == json!(true)
                        })
                    })
        })
        .map(|(_, v)| v.clone())
        .collect();
    items.sort_by(|a, b| {
        let key = |v: &Value| {
            (
                str_of(v, "/metadata/creationTimestamp").to_string(),
                str_of(v, "/metadata/resourceVersion")
                    .parse::<u64>()
                    .unwrap_or(0),
            )
        };
        key(a).cmp(&key(b))
    });
    items
}

fn without_hash(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(labels) = t["metadata"]["labels"].as_object_mut() {
        labels.remove(POD_TEMPLATE_HASH);
        if labels.is_empty()
            && let Some(m) = t["metadata"].as_object_mut()
        {
            m.remove("labels");
        }
    }
    t
}

/// The controller's `pod-template-hash`: FNV-32a of the template, written
/// with `rand.SafeEncodeString`'s alphabet.
fn template_hash(template: &Value) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in without_hash(template).to_string().bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    hash.to_string()
        .bytes()
        .map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char)
        .collect()
}

fn set_replicas(s: &mut State, rs: &Value, replicas: i64, annotations: &[(&str, String)]) {
    let mut changed = rs.clone();
    changed["spec"]["replicas"] = json!(replicas);
    for (k, v) in annotations {
        changed["metadata"]["annotations"][*k] = json!(v);
    }
    if changed != *rs {
        if changed["spec"] != rs["spec"] {
            let generation = int_of(rs, "/metadata/generation").unwrap_or(1);
            changed["metadata"]["generation"] = json!(generation + 1);
        }
        s.put(Kind::ReplicaSet, changed, "MODIFIED");
    }
}

/// The annotations a Deployment hands to its ReplicaSets.
fn handed_annotations(d: &Value) -> Vec<(String, String)> {
    d["metadata"]["annotations"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| {
                    !k.starts_with("deployment.kubernetes.io/")
                        && *k != "kubectl.kubernetes.io/last-applied-configuration"
                })
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Finds or makes the new ReplicaSet, numbers revisions, and scales the
/// ReplicaSets as the Deployment's strategy says.
fn scale_deployment(s: &mut State, ns: &str, name: &str) {
    let Some(d) = s.get(Kind::Deployment, ns, name).cloned() else {
        return;
    };
    if deleting(&d) || d["spec"]["paused"] == json!(true) {
        return;
    }
    let uid = str_of(&d, "/metadata/uid").to_string();
    let sets = owned(s, Kind::ReplicaSet, ns, &uid);
    let template = d["spec"]["template"].clone();
    let max_revision = sets.iter().map(revision).max().unwrap_or(0);
    let replicas = int_of(&d, "/spec/replicas").unwrap_or(1);
    let (surge, unavailable) = fenceposts(&d);
    let recreate = str_of(&d, "/spec/strategy/type") == "Recreate";
    let mut handed: Vec<(String, String)> = handed_annotations(&d);
    handed.push((ANNOTATION_DESIRED.into(), replicas.to_string()));
    handed.push((ANNOTATION_MAX.into(), (replicas + surge).to_string()));
    let found = sets
        .iter()
        .find(|rs| without_hash(&rs["spec"]["template"]) == without_hash(&template))
        .cloned();
    let new_name = match found {
        Some(rs) => {
            let mut renumber = handed.clone();
            let old = revision(&rs);
            if old < max_revision {
                // An old template brought back: the next revision, its old number kept.
                renumber.push((ANNOTATION_REVISION.into(), (max_revision + 1).to_string()));
                let history = rs["metadata"]["annotations"][ANNOTATION_REVISION_HISTORY]
                    .as_str()
                    .map(|h| format!("{h},{old}"))
                    .unwrap_or_else(|| old.to_string());
                renumber.push((ANNOTATION_REVISION_HISTORY.into(), history));
            }
            let pairs: Vec<(&str, String)> = renumber
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect();
            let current = int_of(&rs, "/spec/replicas").unwrap_or(0);
            set_replicas(s, &rs, current, &pairs);
            str_of(&rs, "/metadata/name").to_string()
        }
        None => {
            let hash = template_hash(&template);
            let rs_name = format!("{name}-{hash}");
            let mut labels = labels_of(&template);
            labels.insert(POD_TEMPLATE_HASH.into(), hash.clone());
            let mut rs_template = template.clone();
            rs_template["metadata"]["labels"] = json!(labels);
            let mut selector = d["spec"]["selector"].clone();
            selector["matchLabels"][POD_TEMPLATE_HASH] = json!(hash);
            let mut annotations: Map<String, Value> =
                handed.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            annotations.insert(
                ANNOTATION_REVISION.into(),
                json!((max_revision + 1).to_string()),
            );
            let mut rs = json!({
                "kind": "ReplicaSet",
                "apiVersion": "apps/v1",
                "metadata": {
                    "name": rs_name, "namespace": ns, "uid": super::uid(),
                    "creationTimestamp": now(), "generation": 1,
                    "labels": labels, "annotations": annotations,
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                         "uid": uid, "controller": true, "blockOwnerDeletion": true}],
                },
                "spec": {
                    "replicas": 0,
                    "selector": selector,
                    "template": rs_template,
                },
                "status": {"replicas": 0, "observedGeneration": 1},
            });
            if let Some(min_ready) = d["spec"].get("minReadySeconds") {
                rs["spec"]["minReadySeconds"] = min_ready.clone();
            }
            s.put(Kind::ReplicaSet, rs, "ADDED");
            rs_name
        }
    };
    let Some(new_rs) = s.get(Kind::ReplicaSet, ns, &new_name).cloned() else {
        return;
    };
    // The Deployment carries its new ReplicaSet's revision.
    let new_revision = revision(&new_rs).to_string();
    if d["metadata"]["annotations"][ANNOTATION_REVISION].as_str() != Some(new_revision.as_str()) {
        let mut marked = d.clone();
        marked["metadata"]["annotations"][ANNOTATION_REVISION] = json!(new_revision);
        s.put(Kind::Deployment, marked, "MODIFIED");
    }
    let olds: Vec<Value> = owned(s, Kind::ReplicaSet, ns, &uid)
        .into_iter()
        .filter(|rs| str_of(rs, "/metadata/name") != new_name)
        .collect();
    let spec_of = |v: &Value| int_of(v, "/spec/replicas").unwrap_or(0);
    let available_of = |v: &Value| int_of(v, "/status/availableReplicas").unwrap_or(0);
    if recreate {
        for old in &olds {
            set_replicas(s, old, 0, &[]);
        }
        let old_pods: i64 = olds
            .iter()
            .map(|o| int_of(o, "/status/replicas").unwrap_or(0))
            .sum();
        if old_pods == 0 {
            set_replicas(s, &new_rs, replicas, &[]);
        }
        return;
    }
    // Scale the new one up, within replicas + maxSurge pods in all.
    let mut new_spec = spec_of(&new_rs);
    let total: i64 = olds.iter().map(spec_of).sum::<i64>() + new_spec;
    if new_spec < replicas {
        let room = replicas + surge - total;
        if room > 0 {
            new_spec += room.min(replicas - new_spec);
        }
    } else if new_spec > replicas {
        new_spec = replicas;
    }
    set_replicas(s, &new_rs, new_spec, &[]);
    let new_rs = s
        .get(Kind::ReplicaSet, ns, &new_name)
        .cloned()
        .unwrap_or(new_rs);
    // Scale the old ones down while replicas − maxUnavailable stay available.
    let min_available = replicas - unavailable;
    let new_unavailable = (new_spec - available_of(&new_rs)).max(0);
    let total: i64 = olds.iter().map(spec_of).sum::<i64>() + new_spec;
    let mut room = total - min_available - new_unavailable;
    let mut olds: Vec<Value> = olds;
    if room > 0 {
        // The unhealthy replicas first.
        for old in olds.iter_mut() {
            if room <= 0 {
                break;
            }
            let unhealthy = (spec_of(old) - available_of(old)).max(0);
            let down = unhealthy.min(room).min(spec_of(old));
            if down > 0 {
                set_replicas(s, old, spec_of(old) - down, &[]);
                room -= down;
                *old = s
                    .get(Kind::ReplicaSet, ns, str_of(old, "/metadata/name"))
                    .cloned()
                    .unwrap_or_else(|| old.clone());
            }
        }
    }
    let available: i64 = olds.iter().map(available_of).sum::<i64>() + available_of(&new_rs);
    if available > min_available {
        let mut down_total = available - min_available;
        for old in &olds {
            if down_total <= 0 {
                break;
            }
            let down = spec_of(old).min(down_total);
            if down > 0 {
                set_replicas(s, old, spec_of(old) - down, &[]);
                down_total -= down;
            }
        }
    }
    // Old ReplicaSets at 0 beyond the history limit go.
    let limit = int_of(&d, "/spec/revisionHistoryLimit")
        .unwrap_or(10)
        .max(0) as usize;
    let mut idle: Vec<Value> = owned(s, Kind::ReplicaSet, ns, &uid)
        .into_iter()
        .filter(|rs| {
            str_of(rs, "/metadata/name") != new_name
                && spec_of(rs) == 0
                && int_of(rs, "/status/replicas").unwrap_or(0) == 0
        })
        .collect();
    idle.sort_by_key(revision);
    if idle.len() > limit {
        for rs in &idle[..idle.len() - limit] {
            s.put(Kind::ReplicaSet, rs.clone(), "DELETED");
        }
    }
}

fn pod_ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| str_of(c, "/type") == "Ready" && str_of(c, "/status") == "True")
    })
}

/// Makes or deletes pods until the ReplicaSet has `spec.replicas`, and
/// writes its status.
fn sync_replica_set(s: &mut State, ns: &str, name: &str) -> Vec<Effect> {
    let Some(rs) = s.get(Kind::ReplicaSet, ns, name).cloned() else {
        return Vec::new();
    };
    let mut effects = Vec::new();
    let uid = str_of(&rs, "/metadata/uid").to_string();
    let wanted = int_of(&rs, "/spec/replicas").unwrap_or(0).max(0) as usize;
    let active = |s: &State| -> Vec<Value> {
        owned(s, Kind::Pod, ns, &uid)
            .into_iter()
            .filter(|p| !deleting(p))
            .collect()
    };
    let pods = active(s);
    if !deleting(&rs) && pods.len() < wanted {
        for _ in pods.len()..wanted {
            effects.push(Effect::Start(create_pod(s, &rs)));
        }
    } else if pods.len() > wanted {
        // Not ready first, then the newest.
        let mut ranked = pods.clone();
        ranked.sort_by(|a, b| {
            let key = |p: &Value| {
                (
                    pod_ready(p),
                    std::cmp::Reverse(str_of(p, "/metadata/creationTimestamp").to_string()),
                    std::cmp::Reverse(str_of(p, "/metadata/name").to_string()),
                )
            };
            key(a).cmp(&key(b))
        });
        for pod in &ranked[..pods.len() - wanted] {
            effects.extend(delete_pod(s, str_of(pod, "/metadata/uid"), None).1);
        }
    }
    let pods = active(s);
    let min_ready = int_of(&rs, "/spec/minReadySeconds").unwrap_or(0).max(0) as u64;
    let ready = pods.iter().filter(|p| pod_ready(p)).count();
    let available = pods
        .iter()
        .filter(|p| {
            s.pods
                .get(str_of(p, "/metadata/uid"))
                .and_then(|r| r.ready_since)
                .is_some_and(|t| t.elapsed() >= Duration::from_secs(min_ready))
                && pod_ready(p)
        })
        .count();
    let mut status = json!({"replicas": pods.len()});
    for (field, n) in [
        ("fullyLabeledReplicas", pods.len()),
        ("readyReplicas", ready),
        ("availableReplicas", available),
    ] {
        if n > 0 {
            status[field] = json!(n);
        }
    }
    status["observedGeneration"] = rs["metadata"]["generation"].clone();
    if rs["status"] != status {
        let mut changed = rs.clone();
        changed["status"] = status;
        s.put(Kind::ReplicaSet, changed, "MODIFIED");
    }
    effects
}

/// The ReplicaSet controller's pod for `rs`; returns its uid.
fn create_pod(s: &mut State, rs: &Value) -> String {
    create_owned_pod(s, rs, ("apps/v1", "ReplicaSet"), None)
}

fn condition_of<'a>(d: &'a Value, type_: &str) -> Option<&'a Value> {
    d["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| str_of(c, "/type") == type_)
}

/// A condition as the controller writes it: the transition time kept while
/// the status stays, the update time kept while nothing else changes.
fn deployment_condition(
    old: Option<&Value>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
) -> Value {
    let t = now();
    let same_status = old.is_some_and(|o| str_of(o, "/status") == status);
    let same_all = same_status
        && old.is_some_and(|o| str_of(o, "/reason") == reason && str_of(o, "/message") == message);
    let keep = |field: &str| old.map(|o| o[field].clone()).unwrap_or(json!(t));
    json!({
        "type": type_,
        "status": status,
        "lastUpdateTime": if same_all { keep("lastUpdateTime") } else { json!(t) },
        "lastTransitionTime": if same_status { keep("lastTransitionTime") } else { json!(t) },
        "reason": reason,
        "message": message,
    })
}

/// Writes the Deployment's status from its ReplicaSets.
fn deployment_status(s: &mut State, ns: &str, name: &str) {
    let Some(d) = s.get(Kind::Deployment, ns, name).cloned() else {
        return;
    };
    if deleting(&d) {
        return;
    }
    let uid = str_of(&d, "/metadata/uid").to_string();
    let sets = owned(s, Kind::ReplicaSet, ns, &uid);
    let template = without_hash(&d["spec"]["template"]);
    let new_rs = sets
        .iter()
        .find(|rs| without_hash(&rs["spec"]["template"]) == template);
    let count = |v: &Value, field: &str| int_of(v, &format!("/status/{field}")).unwrap_or(0);
    let sum = |field: &str| sets.iter().map(|rs| count(rs, field)).sum::<i64>();
    let replicas_wanted = int_of(&d, "/spec/replicas").unwrap_or(1);
    let (total, ready, available) = (
        sum("replicas"),
        sum("readyReplicas"),
        sum("availableReplicas"),
    );
    let updated = new_rs.map(|rs| count(rs, "replicas")).unwrap_or(0);
    let old = total - updated;
    let generation = int_of(&d, "/metadata/generation").unwrap_or(1);
    let (_, max_unavailable) = fenceposts(&d);
    let new_name = new_rs
        .map(|rs| str_of(rs, "/metadata/name").to_string())
        .unwrap_or_default();
    let created_now = new_rs.is_some_and(|rs| int_of(rs, "/metadata/generation") == Some(1))
        && s.deployments
            .get(&uid)
            .is_none_or(|r| r.generation != generation);
    let runtime = s
        .deployments
        .entry(uid.clone())
        .or_insert(DeploymentRuntime {
            last_progress: Instant::now(),
            updated: 0,
            ready: 0,
            available: 0,
            old: 0,
            generation: 0,
        });
    let new_spec = runtime.generation != generation;
    let progressed = new_spec
        || updated > runtime.updated
        || ready > runtime.ready
        || available > runtime.available
        || old < runtime.old;
    if progressed {
        runtime.last_progress = Instant::now();
    }
    let stalled = runtime.last_progress.elapsed()
        > Duration::from_secs(
            int_of(&d, "/spec/progressDeadlineSeconds")
                .unwrap_or(600)
                .max(0) as u64,
        );
    *runtime = DeploymentRuntime {
        last_progress: runtime.last_progress,
        updated,
        ready,
        available,
        old,
        generation,
    };
    let complete =
        updated == replicas_wanted && available == replicas_wanted && total == replicas_wanted;
    let old_progressing = condition_of(&d, "Progressing");
    let progressing = if complete && !new_name.is_empty() {
        deployment_condition(
            old_progressing,
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            &format!("ReplicaSet {new_name:?} has successfully progressed."),
        )
    } else if progressed {
        let (reason, message) = if created_now {
            (
                "NewReplicaSetCreated",
                format!("Created new replica set {new_name:?}"),
            )
        } else if new_spec {
            (
                "FoundNewReplicaSet",
                format!("Found new replica set {new_name:?}"),
            )
        } else {
            (
                "ReplicaSetUpdated",
                format!("ReplicaSet {new_name:?} is progressing."),
            )
        };
        // Each step of progress is news: a new update time.
        let mut c = deployment_condition(None, "Progressing", "True", reason, &message);
        if let Some(o) = old_progressing.filter(|o| str_of(o, "/status") == "True") {
            c["lastTransitionTime"] = o["lastTransitionTime"].clone();
        }
        c
    } else if stalled {
        deployment_condition(
            old_progressing,
            "Progressing",
            "False",
            "ProgressDeadlineExceeded",
            &format!("ReplicaSet {new_name:?} has timed out progressing."),
        )
    } else {
        old_progressing.cloned().unwrap_or_else(|| {
            deployment_condition(
                None,
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                &format!("ReplicaSet {new_name:?} is progressing."),
            )
        })
    };
    let minimum = available >= replicas_wanted - max_unavailable;
    let available_condition = if minimum {
        deployment_condition(
            condition_of(&d, "Available"),
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        )
    } else {
        deployment_condition(
            condition_of(&d, "Available"),
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    };
    let mut status = json!({"observedGeneration": generation});
    for (field, n) in [
        ("replicas", total),
        ("updatedReplicas", updated),
        ("readyReplicas", ready),
        ("availableReplicas", available),
        ("unavailableReplicas", (replicas_wanted - available).max(0)),
    ] {
        if n > 0 {
            status[field] = json!(n);
        }
    }
    status["conditions"] = json!([available_condition, progressing]);
    if d["status"] != status {
        let mut changed = d.clone();
        changed["status"] = status;
        s.put(Kind::Deployment, changed, "MODIFIED");
    }
}

// ------------------------------------------------------------ the kubelet

/// Whether a pod belongs to a ReplicaSet (its own network, probes, no
/// phase of its own when its container ends).
pub(super) fn of_replica_set(pod: &Value) -> bool {
    pod["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|refs| refs.iter().any(|r| str_of(r, "/kind") == "ReplicaSet"))
}

/// Sets the pod's readiness (conditions and the container's `ready`).
pub(super) fn set_ready(s: &mut State, uid: &str, container: &str, ready: bool) {
    if let Some(r) = s.pods.get_mut(uid) {
        r.ready_since = ready.then(Instant::now);
    }
    s.update_pod(uid, |p| {
        set_conditions(p, true, ready, (!ready).then_some("ContainersNotReady"));
        if let Some(statuses) = p["status"]["containerStatuses"].as_array_mut() {
            for c in statuses {
                if str_of(c, "/name") == container {
                    c["ready"] = json!(ready);
                }
            }
        }
    });
}

/// `GET path` on `ip:port`: true on 200–399 within `timeout`.
async fn http_probe(ip: &str, port: u16, path: &str, timeout: Duration) -> bool {
    use tokio::io::AsyncWriteExt;
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect((ip, port)).await.ok()?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {ip}:{port}\r\nUser-Agent: kube-probe/1.33\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 64];
        let mut read = 0;
        while read < 12 {
            let n = stream.read(&mut head[read..]).await.ok()?;
            if n == 0 {
                break;
            }
            read += n;
        }
        let line = String::from_utf8_lossy(&head[..read]).into_owned();
        line.split_whitespace().nth(1)?.parse::<u16>().ok()
    };
    matches!(
        tokio::time::timeout(timeout, attempt).await,
        Ok(Some(200..=399))
    )
}

/// The kubelet's readiness prober for a ReplicaSet's pod: finds the
/// container's address, writes it as the pod's IP, then probes as the pod's
/// `readinessProbe` says (a running container without one is ready).
pub(super) async fn probe(shared: Arc<Shared>, uid: String, main: Value, id: String) {
    let container = str_of(&main, "/name").to_string();
    let ip = loop {
        match docker(&["inspect", "--format", "{{.NetworkSettings.IPAddress}}", &id]).await {
            Ok(ip) if !ip.is_empty() => break ip,
            Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(_) => return,
        }
        let alive = shared.with(|s| {
            s.pods
                .get(&uid)
                .is_some_and(|r| r.container.as_deref() == Some(&id))
        });
        if !alive {
            return;
        }
    };
    shared.mutate(|s| {
        s.update_pod(&uid, |p| {
            p["status"]["podIP"] = json!(ip);
            p["status"]["podIPs"] = json!([{"ip": ip}]);
        });
    });
    let probe = main["readinessProbe"].clone();
    let Some(get) = probe.get("httpGet").cloned() else {
        shared.mutate(|s| set_ready(s, &uid, &container, true));
        return;
    };
    let port = match &get["port"] {
        Value::Number(n) => n.as_u64().unwrap_or(0) as u16,
        Value::String(name) => main["ports"]
            .as_array()
            .and_then(|ports| ports.iter().find(|p| str_of(p, "/name") == name))
            .and_then(|p| p["containerPort"].as_u64())
            .unwrap_or(0) as u16,
        _ => 0,
    };
    let path = match str_of(&get, "/path") {
        "" => "/".to_string(),
        p => p.to_string(),
    };
    let seconds = |field: &str, default: u64| probe[field].as_u64().unwrap_or(default);
    let period = Duration::from_secs(seconds("periodSeconds", 10).max(1));
    let timeout = Duration::from_secs(seconds("timeoutSeconds", 1).max(1));
    let (successes_needed, failures_needed) = (
        seconds("successThreshold", 1).max(1),
        seconds("failureThreshold", 3).max(1),
    );
    tokio::time::sleep(Duration::from_secs(seconds("initialDelaySeconds", 0))).await;
    let (mut ready, mut successes, mut failures) = (false, 0, 0);
    loop {
        let alive = shared.with(|s| {
            s.pods
                .get(&uid)
                .is_some_and(|r| r.container.as_deref() == Some(&id))
                && !s.deleting(&uid)
        });
        if !alive {
            return;
        }
        if port != 0 && http_probe(&ip, port, &path, timeout).await {
            successes += 1;
            failures = 0;
            if !ready && successes >= successes_needed {
                ready = true;
                shared.mutate(|s| set_ready(s, &uid, &container, true));
            }
        } else {
            failures += 1;
            successes = 0;
            if ready && failures >= failures_needed {
                ready = false;
                shared.mutate(|s| set_ready(s, &uid, &container, false));
            }
        }
        tokio::time::sleep(period).await;
    }
}

/// A ReplicaSet's pod whose container ended: not started again, shown
/// waiting in CrashLoopBackOff with the end as its last state.
pub(super) fn crash_loop(
    s: &mut State,
    uid: &str,
    container: &str,
    image: &str,
    terminated: Value,
) {
    if let Some(r) = s.pods.get_mut(uid) {
        r.ready_since = None;
    }
    let pod_name = s.pods.get(uid).map(|r| r.name.clone()).unwrap_or_default();
    s.update_pod(uid, |p| {
        set_conditions(p, true, false, Some("ContainersNotReady"));
        set_container_state(
            p,
            "containerStatuses",
            container,
            image,
            json!({"waiting": {"reason": "CrashLoopBackOff",
                               "message": format!("back-off 10s restarting failed container={container} pod={pod_name}")}}),
            json!({"ready": false, "started": false, "restartCount": 1,
                   "lastState": {"terminated": terminated}}),
        );
    });
}
