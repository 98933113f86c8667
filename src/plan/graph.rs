//! TEMPORARY stand-in, replaced by the `plan` branch at merge.
pub enum GraphError {
    UnknownNeed {
        job: String,
        need: String,
        index: usize,
    },
    Cycle(Vec<String>),
}
pub struct JobGraph;
impl JobGraph {
    pub fn new(jobs: &[(String, Vec<String>)]) -> Result<JobGraph, Vec<GraphError>> {
        let mut e = vec![];
        for (j, needs) in jobs {
            for (i, n) in needs.iter().enumerate() {
                if !jobs.iter().any(|(x, _)| x == n) {
                    e.push(GraphError::UnknownNeed {
                        job: j.clone(),
                        need: n.clone(),
                        index: i,
                    });
                }
            }
        }
        if e.is_empty() { Ok(JobGraph) } else { Err(e) }
    }
}
