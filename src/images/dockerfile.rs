//! `docker build` of a runner image's directory (every image but the base),
//! through the engine's build API.

use std::collections::HashMap;

use bollard::Docker;
use bollard::query_parameters::BuildImageOptionsBuilder;
use futures_util::StreamExt;

use super::definition::{HASH_LABEL, ImageDef, NAME_LABEL};
use super::error::{ImageError, io_err};
use super::progress::Progress;

/// The build context: the image's files as a tar archive.
fn context_tar(d: &ImageDef) -> Result<Vec<u8>, ImageError> {
    let mut b = tar::Builder::new(Vec::new());
    for f in &d.files {
        let mut h = tar::Header::new_gnu();
        h.set_size(f.data.len() as u64);
        h.set_mode(f.mode);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, &f.path, f.data.as_slice())
            .map_err(io_err(format!("packing the build context of {}", d.name)))?;
    }
    b.into_inner()
        .map_err(io_err(format!("packing the build context of {}", d.name)))
}

pub(super) async fn build_dockerfile(
    docker: &Docker,
    d: &ImageDef,
    hash: &str,
    nocache: bool,
    progress: &Progress,
) -> Result<(), ImageError> {
    if d.file("Dockerfile").is_none() {
        return Err(ImageError::Definition(format!(
            "`{}` has no Dockerfile",
            d.name
        )));
    }
    let context = context_tar(d)?;
    let labels = HashMap::from([
        (HASH_LABEL.to_string(), hash.to_string()),
        (NAME_LABEL.to_string(), d.name.clone()),
    ]);
    // The classic builder tags only once the whole build succeeded, so a
    // killed or failed build leaves the previous image under the tag.
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(&d.tag)
        .rm(true)
        .forcerm(true)
        .nocache(nocache)
        .labels(&labels)
        .build();
    let what = format!("building {}", d.tag);
    let mut task = progress.task(&d.name, &format!("{what} (docker build)"));
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(s) = &info.stream {
                    task.output(s);
                }
                if let Some(s) = &info.status {
                    let line = match &info.id {
                        Some(id) => format!("{id}: {s}"),
                        None => s.clone(),
                    };
                    task.output(&line);
                }
            }
            Err(bollard::errors::Error::DockerStreamError { error }) => {
                let tail = task.tail();
                task.fail();
                return Err(ImageError::Failed {
                    what,
                    message: error.trim().to_string(),
                    tail,
                });
            }
            Err(e) => {
                let tail = task.tail();
                task.fail();
                return Err(ImageError::Failed {
                    what,
                    message: format!("Docker engine error: {e}"),
                    tail,
                });
            }
        }
    }
    task.finish(&format!("{} built", d.tag));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::catalog::Catalog;

    #[test]
    fn context_tar_holds_the_files() {
        let c = Catalog::builtin();
        let d = c.get("python-ml").unwrap();
        let tar = context_tar(d).unwrap();
        let mut a = tar::Archive::new(tar.as_slice());
        let names: Vec<String> = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["Dockerfile"]);
    }
}
