//! The config loader never panics on any text: a bad file is an error
//! with a file and line, never a crash at start-up or on reload.

pub fn check(input: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(input);
    if let Err(e) = portico::config::parse("fuzz.toml", &text) {
        // Every error must point inside the file (line 0: no line known),
        // in file order, and there is at least one.
        let lines = text.lines().count().max(1);
        if e.problems.is_empty() {
            return Err("a config error without any problem".into());
        }
        for p in &e.problems {
            if p.line > lines + 1 {
                return Err(format!(
                    "error at line {} of a {lines}-line file: {e}",
                    p.line
                ));
            }
        }
        if e.problems.windows(2).any(|w| w[0].line > w[1].line) {
            return Err(format!("errors not in file order: {e}"));
        }
    }
    Ok(())
}
