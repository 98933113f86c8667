//! A job's `container:` and its `services:`, with their registry credentials.

use super::reader::Reader;
use crate::workflow::context;
use crate::workflow::model::{Container, Credentials, Env, Spanned};
use crate::yaml::{Node, NodeKind};

const CONTAINER_KEYS: &[&str] = &["image", "env", "options", "volumes", "ports", "credentials"];

impl Reader<'_> {
    pub(super) fn container(&mut self, node: &Node, what: &str) -> Option<Container> {
        if node.as_scalar().is_some() {
            let image = self.required_string(node, "an image", Some(&context::JOB))?;
            return Some(Container {
                image,
                span: node.span,
                env: Env::new(),
                options: None,
                volumes: Vec::new(),
                ports: Vec::new(),
                credentials: None,
            });
        }
        let mut image = None;
        let mut container = Container {
            image: Spanned::new(String::new(), node.span),
            span: node.span,
            env: Env::new(),
            options: None,
            volumes: Vec::new(),
            ports: Vec::new(),
            credentials: None,
        };
        for field in self.fields(node, what, CONTAINER_KEYS) {
            let value = field.value;
            match field.name {
                "image" => image = self.required_string(value, "an image", Some(&context::JOB)),
                "env" => container.env = self.env(value, &context::CONTAINER_ENV),
                "options" => container.options = self.string(value, Some(&context::JOB)),
                "volumes" => container.volumes = self.list_of_strings(value, Some(&context::JOB)),
                "ports" => {
                    container.ports = match &value.kind {
                        NodeKind::Sequence(items) => items
                            .iter()
                            .filter_map(|item| self.scalar_string(item, &context::JOB))
                            .collect(),
                        _ => {
                            self.expected(value, "a list of ports");
                            Vec::new()
                        }
                    }
                }
                "credentials" => container.credentials = self.credentials(value),
                _ => unreachable!("every container key is handled"),
            }
        }
        match image {
            Some(image) => {
                container.image = image;
                Some(container)
            }
            None => {
                if node.as_mapping().is_some() {
                    self.error(node.span, format!("{what} is missing `image`"));
                }
                None
            }
        }
    }

    fn credentials(&mut self, node: &Node) -> Option<Credentials> {
        let mut username = None;
        let mut password = None;
        for field in self.fields(node, "`credentials`", &["username", "password"]) {
            let text = self.string(field.value, Some(&context::CREDENTIALS));
            match field.name {
                "username" => username = text,
                _ => password = text,
            }
        }
        match (username, password) {
            (Some(username), Some(password)) => Some(Credentials { username, password }),
            _ => {
                if node.as_mapping().is_some() {
                    self.error(
                        node.span,
                        "`credentials` needs both `username` and `password`",
                    );
                }
                None
            }
        }
    }

    pub(super) fn services(&mut self, node: &Node) -> Vec<(Spanned<String>, Container)> {
        let mut services = Vec::new();
        let Some(entries) = self.mapping(node, "a map of services") else {
            return services;
        };
        for (key, value) in entries {
            let Some(name) = key.as_str() else { continue };
            let what = format!("service `{name}`");
            if let Some(container) = self.container(value, &what) {
                services.push((Spanned::new(name.to_string(), key.span), container));
            }
        }
        services
    }
}
