//! The config loader never panics on any text: a bad file is an error
//! with a file and line, never a crash at start-up or on reload.

pub fn check(input: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(input);
    if let Err(e) = portico::config::parse("fuzz.toml", &text) {
        // The error must point inside the file (line 0: no line known).
        let lines = text.lines().count().max(1);
        if e.line > lines + 1 {
            return Err(format!(
                "error at line {} of a {lines}-line file: {e}",
                e.line
            ));
        }
    }
    Ok(())
}
