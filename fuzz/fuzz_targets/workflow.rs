//! Any text given to the workflow parser, validator and planner: errors are
//! fine, panics and hangs are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mlci::diag::SourceFile;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let loaded = mlci::workflow::parse(SourceFile::new("fuzz.yml", text));
    // Rendering walks lines and columns of every span.
    let _ = loaded.render_diagnostics();
    if !loaded.has_errors() {
        if let Ok(plan) = mlci::plan::build(&loaded.workflow, &Default::default()) {
            let _ = plan.layers();
        }
    }
});
