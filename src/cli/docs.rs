//! `portico completions` and `portico man`: generated from the command
//! definitions themselves, so they cannot drift from them. Rendered into
//! memory first: the generators panic on a failed write, and a reader
//! that goes away must end the command quietly (see [`super::out`]).

use clap::CommandFactory;
use clap_complete::Shell;

use super::{out, Cli};

pub const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  portico completions bash > /etc/bash_completion.d/portico
  portico completions zsh > \"${fpath[1]}/_portico\"
  portico completions fish > ~/.config/fish/completions/portico.fish
  source <(portico completions bash)      # this shell only";

pub const MAN_EXAMPLES: &str = "\
Examples:
  portico man > /usr/local/share/man/man1/portico.1 && mandb -q
  portico man | man -l -";

pub fn completions(shell: Shell) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    let mut text = Vec::new();
    clap_complete::generate(shell, &mut cmd, "portico", &mut text);
    Ok(out::raw(&text)?)
}

/// portico(1): the command, then each subcommand's own section.
pub fn man() -> anyhow::Result<()> {
    let cmd = Cli::command();
    let mut text = Vec::new();
    let page = clap_mangen::Man::new(cmd.clone());
    page.render_title(&mut text)?;
    page.render_name_section(&mut text)?;
    page.render_synopsis_section(&mut text)?;
    page.render_description_section(&mut text)?;
    page.render_options_section(&mut text)?;
    page.render_subcommands_section(&mut text)?;
    page.render_extra_section(&mut text)?;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        render_subcommand(&mut text, sub, "portico")?;
    }
    page.render_version_section(&mut text)?;
    let text = String::from_utf8_lossy(&text).replace(".SH EXTRA", ".SH EXAMPLES");
    Ok(out::raw(text.as_bytes())?)
}

/// A section per (nested) subcommand: its usage, options and examples.
fn render_subcommand(text: &mut Vec<u8>, cmd: &clap::Command, parent: &str) -> std::io::Result<()> {
    let name = format!("{parent} {}", cmd.get_name());
    if cmd.has_subcommands() {
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            render_subcommand(text, sub, &name)?;
        }
        return Ok(());
    }
    let mut section = Vec::new();
    let page = clap_mangen::Man::new(cmd.clone());
    page.render_description_section(&mut section)?;
    page.render_options_section(&mut section)?;
    page.render_extra_section(&mut section)?;
    // Nested under a heading of its own instead of page-level ones.
    let body = String::from_utf8_lossy(&section)
        .replace(".SH DESCRIPTION", "")
        .replace(".SH OPTIONS", ".SS Options")
        .replace(".SH EXTRA", ".SS Examples");
    text.extend_from_slice(format!(".SH \"{}\"\n", name.to_uppercase()).as_bytes());
    text.extend_from_slice(body.as_bytes());
    Ok(())
}
