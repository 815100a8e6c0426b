//! The CLI through a running node: while `mindlog node` serves a home, every other command on
//! that home is sent to it (found through `node.json`, authenticated with `node.token`) and runs
//! there, with its output, messages and exit code streamed back as they come. The command runs
//! the same code either way ([`crate::execute`]); only where its output goes differs.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::{Cli, Command};
use crate::home::Home;
use crate::node::{CLI_MEDIA_TYPE, Frame, NODE_FILE, NodeInfo, TOKEN_FILE};
use crate::output::Format;

/// Whether `command` goes through a running node: all but `node` itself and `bench` (which works
/// in a scratch folder of its own).
pub(crate) fn forwards(command: &Command) -> bool {
    // `open` asks the node for a login URL itself.
    !matches!(command, Command::Node(_) | Command::Bench(_) | Command::Open { .. })
}

impl Running {
    /// A new one-time login URL from the node (`POST /v1/login`).
    pub(crate) fn login_url(&self) -> Result<String> {
        let agent = ureq::Agent::new_with_config(ureq::Agent::config_builder().proxy(None).build());
        let mut response = agent
            .post(&format!("http://{}/v1/login", self.info.address))
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Content-Type", "application/json")
            .send("{}")
            .with_context(|| format!("asking the node at {} for a login URL", self.info.address))?;
        let answer: serde_json::Value = serde_json::from_str(&response.body_mut().read_to_string()?)?;
        answer["url"].as_str().map(str::to_owned).context("the node's answer has no url")
    }
}

/// A node serving the home, and its token.
pub(crate) struct Running {
    pub(crate) info: NodeInfo,
    token: String,
    file: PathBuf,
}

/// The node serving the home `--home` names, if one runs. A `node.json` left by a node that is
/// gone (its process ended without removing it) is removed.
pub(crate) fn node_for(home_flag: Option<PathBuf>) -> Result<Option<Running>> {
    let home = Home::resolve(home_flag, None, Format::Text)?;
    let file = home.dir().join(NODE_FILE);
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    let info = match serde_json::from_str::<NodeInfo>(&text) {
        Ok(info) if process_alive(info.pid) => info,
        _ => {
            tracing::info!(file = %file.display(), "removing the node.json of a node that is gone");
            let _ = std::fs::remove_file(&file);
            return Ok(None);
        }
    };
    let token_file = home.dir().join(TOKEN_FILE);
    let token = std::fs::read_to_string(&token_file).with_context(|| {
        format!("a node (pid {}) serves this home, but its token {} cannot be read", info.pid, token_file.display())
    })?;
    Ok(Some(Running { info, token: token.trim().to_owned(), file }))
}

/// Whether a process with this id exists (Linux: `/proc/PID`; elsewhere assumed).
fn process_alive(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    !proc.exists() || proc.join(pid.to_string()).exists()
}

/// Runs `cli` on the node and exits as the command did there. A node that does not answer its
/// address is gone: its `node.json` is removed and the command runs here.
pub(crate) fn forward(node: &Running, cli: Cli, args: &[OsString]) -> ExitCode {
    match send(node, &cli, args) {
        Ok(Sent::Finished(code)) => ExitCode::from(code),
        Ok(Sent::NotServing) => {
            let _ = std::fs::remove_file(&node.file);
            ExitCode::from(crate::execute(cli).code)
        }
        Err(e) => {
            eprintln!("mindlog: {e:#}");
            ExitCode::from(2)
        }
    }
}

enum Sent {
    Finished(u8),
    NotServing,
}

fn send(node: &Running, cli: &Cli, args: &[OsString]) -> Result<Sent> {
    let argv = args
        .iter()
        .skip(1)
        .map(|a| a.to_str().map(str::to_owned))
        .collect::<Option<Vec<String>>>()
        .context("an argument is not UTF-8, which a node cannot be sent")?;
    let cwd = std::env::current_dir().context("reading the working folder")?;
    let terminal = io::IsTerminal::is_terminal(&io::stdout());
    let mut header = serde_json::to_vec(&crate::node::CliRequest { argv, cwd: Some(cwd), terminal })?;
    header.push(b'\n');
    let stdin: Box<dyn Read> = if reads_stdin(&cli.command) { Box::new(io::stdin()) } else { Box::new(io::empty()) };
    let body = io::Cursor::new(header).chain(stdin);
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder().http_status_as_error(false).proxy(None).max_redirects(0).build(),
    );
    let url = format!("http://{}/v1/cli", node.info.address);
    let response = agent
        .post(&url)
        .header("Authorization", format!("Bearer {}", node.token))
        .header("Content-Type", CLI_MEDIA_TYPE)
        .send(ureq::SendBody::from_owned_reader(body));
    let mut response = match response {
        Ok(response) => response,
        Err(ureq::Error::Io(e)) if e.kind() == io::ErrorKind::ConnectionRefused => return Ok(Sent::NotServing),
        Err(e) => {
            return Err(e).with_context(|| {
                format!("sending the command to the node at {} (pid {})", node.info.address, node.info.pid)
            });
        }
    };
    if response.status() != 200 {
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or(text);
        anyhow::bail!("the node at {} refused the command ({}): {message}", node.info.address, response.status());
    }
    let mut body = response.into_body().into_reader();
    let mut stdout = io::stdout().lock();
    // The node's progress, drawn here (when standard error is a terminal) as the command would.
    let mut bar: Option<indicatif::ProgressBar> = None;
    loop {
        match Frame::read(&mut body)
            .with_context(|| format!("reading the answer of the node at {}", node.info.address))?
        {
            Some(Frame::Stdout(bytes)) => {
                if let Err(e) = stdout.write_all(&bytes).and_then(|()| stdout.flush()) {
                    if e.kind() == io::ErrorKind::BrokenPipe {
                        return Ok(Sent::Finished(0)); // the reader went away: not an error
                    }
                    return Err(e).context("writing output");
                }
            }
            Some(Frame::Stderr(bytes)) => {
                let write = || {
                    let _ = io::stderr().lock().write_all(&bytes);
                };
                match &bar {
                    Some(bar) => bar.suspend(write),
                    None => write(),
                }
            }
            Some(Frame::Progress(p)) => {
                let bar = bar.get_or_insert_with(|| crate::ui::progress(p.total, &p.what));
                if bar.message() != p.what {
                    bar.set_message(p.what.clone());
                }
                if let Some(total) = p.total {
                    bar.set_length(total);
                }
                bar.set_position(p.done);
            }
            Some(Frame::Unknown) => {} // from a newer node
            Some(Frame::Exit(code)) => {
                if let Some(bar) = bar.take() {
                    bar.finish_and_clear();
                }
                return Ok(Sent::Finished(code));
            }
            None => anyhow::bail!("the node at {} stopped before the command finished", node.info.address),
        }
    }
}

/// Whether the command reads standard input (`submit -`, `import -`), which is then sent along.
fn reads_stdin(command: &Command) -> bool {
    match command {
        Command::Submit { file } => file.as_os_str() == "-",
        Command::Import(args) => args.file.as_ref().is_some_and(|f| f.as_os_str() == "-"),
        _ => false,
    }
}
