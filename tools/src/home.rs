//! The home folder: where it is, what it holds (mind.redb, identity.key), and opening it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use mindlog_ledger::{Identity, Ledger, OpenError};

/// The store file inside a home.
pub(crate) const STORE_FILE: &str = "mind.redb";
/// The default identity's key file inside a home.
pub(crate) const KEY_FILE: &str = "identity.key";

/// A resolved home folder.
#[derive(Clone, Debug)]
pub(crate) struct Home {
    dir: PathBuf,
}

impl Home {
    /// `--home`, else `$MINDLOG_HOME`, else `~/.mindlog`.
    pub(crate) fn resolve(flag: Option<PathBuf>) -> Result<Home> {
        let dir = match flag.or_else(|| std::env::var_os("MINDLOG_HOME").filter(|v| !v.is_empty()).map(PathBuf::from)) {
            Some(dir) => dir,
            None => {
                let home =
                    std::env::var_os("HOME").context("no --home, no MINDLOG_HOME and no HOME: pass --home DIR")?;
                PathBuf::from(home).join(".mindlog")
            }
        };
        Ok(Home { dir })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn store_path(&self) -> PathBuf {
        self.dir.join(STORE_FILE)
    }

    pub(crate) fn key_path(&self) -> PathBuf {
        self.dir.join(KEY_FILE)
    }

    /// Opens the store, with an error that says to run `init` when there is none. While another
    /// mindlog process has it open, waits (saying so once on stderr) until it is free.
    pub(crate) fn open(&self) -> Result<Ledger> {
        let path = self.store_path();
        let started = std::time::Instant::now();
        let mut said = false;
        loop {
            match Ledger::open(&path) {
                Err(OpenError::Busy(_)) => {
                    if !said && started.elapsed() > std::time::Duration::from_millis(500) {
                        eprintln!("waiting for another mindlog process to close {} …", path.display());
                        said = true;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                result => return Ok(result?),
            }
        }
    }

    /// The identity commands are signed with.
    pub(crate) fn identity(&self) -> Result<Identity> {
        let path = self.key_path();
        if !path.exists() {
            anyhow::bail!("no identity at {}: run `mindlog init` first (or pass --home)", path.display());
        }
        Ok(Identity::load(&path)?)
    }

    /// Creates the folder (mode 0700) if needed.
    pub(crate) fn create_dir(&self) -> Result<()> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(&self.dir).with_context(|| format!("creating {}", self.dir.display()))
    }
}
