//! The sink of a step's output: each line goes through the secret masker
//! and the workflow-command processor (`::set-output`, `::group`,
//! `::add-mask`…) to the console, and the sink says how the step ended.

use super::context::StepCtx;
use crate::executor::{Backend, ExecError, ExecOutcome};
use crate::expr::{Object, Value};
use crate::run::commands::{Action, CommandProcessor};
use crate::run::mask::{LineMasker, Masker, StreamLine};
use crate::run::output::{Console, StepLog};

impl<B: Backend> StepCtx<'_, B> {
    /// The sink of a step's output: lines go through the masker, the
    /// workflow commands and the console.
    pub fn step_output(&self) -> StepOutput<'_> {
        StepOutput {
            masker: LineMasker::new(self.shared.masker.clone()),
            lines: StepLines {
                shared_masker: &self.shared.masker,
                shared: &self.shared.console,
                name: self.name,
                processor: CommandProcessor::new(false),
                log: self.shared.console.step_log(self.name),
                outputs: Object::new(),
                saved_state: Vec::new(),
                failed_by_command: false,
            },
        }
    }
}

/// See [`StepCtx::step_output`].
pub(crate) struct StepOutput<'a> {
    masker: LineMasker,
    lines: StepLines<'a>,
}

struct StepLines<'a> {
    shared_masker: &'a Masker,
    shared: &'a Console,
    name: &'a str,
    processor: CommandProcessor,
    log: StepLog<'a>,
    outputs: Object,
    saved_state: Vec<(String, String)>,
    failed_by_command: bool,
}

impl StepLines<'_> {
    fn handle(&mut self, line: StreamLine<'_>) {
        let masker = self.shared_masker;
        let Some(raw) = line.raw else {
            self.log.output(&line.masked);
            return;
        };
        for action in self.processor.process_line(raw) {
            match action {
                Action::Output(text) => self.log.output(&masker.mask(&text)),
                Action::GroupStart(title) => self.log.group_start(&masker.mask(&title)),
                Action::GroupEnd => self.log.group_end(),
                Action::Debug(text) => self
                    .shared
                    .line(self.name, &format!("debug: {}", masker.mask(&text))),
                Action::Annotation(annotation) => {
                    self.shared.line(
                        self.name,
                        &format!("{}: {}", annotation.level, masker.mask(&annotation.message)),
                    );
                    self.shared.annotate(self.name, annotation);
                }
                Action::AddMask(value) => masker.add_value(&value),
                Action::SetOutput { name: key, value } => {
                    self.outputs.insert(key, Value::String(value))
                }
                Action::SaveState { name: key, value } => self.saved_state.push((key, value)),
                Action::FailStep => self.failed_by_command = true,
                _ => {}
            }
        }
    }
}

impl StepOutput<'_> {
    /// A chunk of the command's output.
    pub fn push(&mut self, bytes: &[u8]) {
        let lines = &mut self.lines;
        self.masker.push_with(bytes, |line| lines.handle(line));
    }

    /// After the command: says how it ended unless it exited 0. Returns
    /// whether it succeeded (exit 0 and no command failed the step), the
    /// outputs and the state that commands set.
    pub fn finish(
        mut self,
        outcome: Result<ExecOutcome, ExecError>,
    ) -> (bool, Object, Vec<(String, String)>) {
        let lines = &mut self.lines;
        self.masker.finish_with(|line| lines.handle(line));
        let mut lines = self.lines;
        let exited_zero = matches!(outcome, Ok(ExecOutcome::Exited(0)));
        lines.log.finish(!exited_zero || lines.failed_by_command);
        let (console, name) = (lines.shared, lines.name);
        let succeeded = match outcome {
            Ok(ExecOutcome::Exited(0)) => true,
            Ok(ExecOutcome::Exited(code)) => {
                console.line(name, &format!("error: the step exited with code {code}"));
                false
            }
            Ok(ExecOutcome::TimedOut) => {
                console.line(
                    name,
                    "error: the step ran past its timeout-minutes and was stopped",
                );
                false
            }
            Ok(ExecOutcome::Cancelled) => {
                console.line(name, "the step was cancelled");
                false
            }
            Err(error) => {
                console.line(name, &format!("error: {error}"));
                false
            }
        };
        (
            succeeded && !lines.failed_by_command,
            lines.outputs,
            lines.saved_state,
        )
    }
}
