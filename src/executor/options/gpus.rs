//! `--gpus`: Docker's GPU request syntax, read into a [`GpuRequest`].

use super::model::GpuRequest;
use super::specs::parse_csv;

/// `--gpus`: `all`, `N`, `device=0,1`, `"device=0,1"`, `count=2,capabilities=compute,utility`,
/// `driver=nvidia`, `options=k=v`. The value is a CSV record, as in Docker.
pub(super) fn parse_gpus(value: &str) -> Result<GpuRequest, String> {
    // Docker reads the value as one CSV record, so `device=0,1` must be
    // quoted there (`'"device=0,1"'`). Here every comma-separated token is
    // read in order instead: a `key=value` token with a known key starts that
    // key, and a bare token continues the list before it (devices,
    // capabilities, driver options), or is the count. That accepts Docker's
    // forms and the unquoted ones that people write meaning the same.
    const KEYS: [&str; 5] = ["count", "device", "capabilities", "driver", "options"];
    let tokens: Vec<String> = parse_csv(value)?
        .iter()
        .flat_map(|f| f.split(',').map(str::to_string).collect::<Vec<_>>())
        .collect();
    if tokens.iter().all(|t| t.is_empty()) {
        return Err("expected all, a count, or device=IDS".to_string());
    }
    let mut req = GpuRequest {
        count: None,
        device_ids: Vec::new(),
        capabilities: Vec::new(),
        driver: String::new(),
        options: Vec::new(),
    };
    let mut caps: Vec<String> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    let mut current = "";
    for token in &tokens {
        if token.is_empty() {
            continue;
        }
        let split = token.split_once('=');
        let key = split.map(|(k, _)| k).filter(|k| KEYS.contains(k));
        let Some(key) = key else {
            match (current, split) {
                ("device", None) => req.device_ids.push(token.clone()),
                ("capabilities", None) => caps.push(token.clone()),
                ("options", _) => {
                    let (k, v) = split.unwrap_or((token, ""));
                    req.options.push((k.to_string(), v.to_string()));
                }
                (_, Some((k, _))) => {
                    return Err(format!(
                        "unexpected key `{k}` (expected count, device, capabilities, driver or options)"
                    ));
                }
                (_, None) => {
                    if seen.contains(&"count") {
                        return Err("the GPU count is given twice".to_string());
                    }
                    seen.push("count");
                    req.count = Some(parse_gpu_count(token)?);
                    current = "count";
                }
            }
            continue;
        };
        if seen.contains(&key) {
            return Err(format!("`{key}` can be given only once"));
        }
        seen.push(key);
        current = key;
        let val = split.map(|(_, v)| v).unwrap_or("");
        match key {
            "driver" => req.driver = val.to_string(),
            "count" => req.count = Some(parse_gpu_count(val)?),
            "device" if !val.is_empty() => req.device_ids.push(val.to_string()),
            "capabilities" if !val.is_empty() => caps.push(val.to_string()),
            "options" if !val.is_empty() => {
                let (k, v) = val.split_once('=').unwrap_or((val, ""));
                req.options.push((k.to_string(), v.to_string()));
            }
            _ => {}
        }
    }
    if seen.contains(&"device") && req.device_ids.is_empty() {
        return Err("`device=` needs GPU indexes or UUIDs".to_string());
    }
    if req.count.is_some() && !req.device_ids.is_empty() {
        return Err("give either a count or devices, not both".to_string());
    }
    if req.count.is_none() && req.device_ids.is_empty() {
        req.count = Some(1);
    }
    if !caps.iter().any(|c| c == "gpu") {
        caps.push("gpu".to_string());
    }
    req.capabilities = vec![caps];
    Ok(req)
}

fn parse_gpu_count(s: &str) -> Result<i64, String> {
    if s == "all" {
        return Ok(-1);
    }
    // Docker takes any count, 0 included (Hugging Face's workflows use
    // `--gpus 0` and select devices through NVIDIA_VISIBLE_DEVICES).
    match s.parse::<i64>() {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(format!(
            "`{s}` is not a GPU count (expected all or a number)"
        )),
    }
}
