//! The home folder: where it is, what it holds (mind.redb, identity.key), and opening it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use mindlog_ledger::{Identity, Ledger, OpenError, PublicKey, Snapshot};

use crate::output::Format;
use crate::refusal::Refusal;

/// The store file inside a home.
pub(crate) const STORE_FILE: &str = "mind.redb";
/// The default identity's key file inside a home.
pub(crate) const KEY_FILE: &str = "identity.key";
/// The name of the first identity, kept in identity.key.
pub(crate) const DEFAULT_IDENTITY: &str = "default";

/// The folder of identities beyond the first.
pub(crate) const IDENTITIES_DIR: &str = "identities";

/// How long a command waits for a store another process holds, unless `MINDLOG_BUSY_TIMEOUT`
/// says otherwise.
const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A resolved home folder, the identity commands sign as, and how they print (`--json`).
#[derive(Clone, Debug)]
pub(crate) struct Home {
    dir: PathBuf,
    /// `--as NAME`; `None` for the default identity.
    signer: Option<String>,
    /// `--json` or text.
    format: Format,
}

impl Home {
    /// `--home`, else `$MINDLOG_HOME`, else `~/.mindlog`.
    /// A command a node runs for a client runs on the node's home, whatever the client named (it
    /// found the node through the same home).
    pub(crate) fn resolve(flag: Option<PathBuf>, signer: Option<String>, format: Format) -> Result<Home> {
        if let Some(served) = crate::served::current() {
            return Ok(Home { dir: served.hosted.home().to_owned(), signer, format });
        }
        let dir = match flag.or_else(|| std::env::var_os("MINDLOG_HOME").filter(|v| !v.is_empty()).map(PathBuf::from)) {
            Some(dir) => dir,
            None => {
                let home =
                    std::env::var_os("HOME").context("no --home, no MINDLOG_HOME and no HOME: pass --home DIR")?;
                PathBuf::from(home).join(".mindlog")
            }
        };
        Ok(Home { dir, signer, format })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// How commands print: `--json` or text.
    pub(crate) fn format(&self) -> Format {
        self.format
    }

    pub(crate) fn store_path(&self) -> PathBuf {
        self.dir.join(STORE_FILE)
    }

    pub(crate) fn key_path(&self) -> PathBuf {
        self.dir.join(KEY_FILE)
    }

    /// Opens the store, with an error that says to run `init` when there is none. While another
    /// mindlog process has it open, waits (saying so once on stderr) until it is free, but at most
    /// [`busy_timeout`]: then fails with one line saying what holds the store.
    pub(crate) fn open(&self) -> Result<Ledger> {
        if let Some(served) = crate::served::current() {
            return served.hosted.ledger();
        }
        let path = self.store_path();
        let limit = busy_timeout()?;
        let started = Instant::now();
        let mut said = false;
        loop {
            match Ledger::open(&path) {
                Err(OpenError::Busy(_)) => {
                    let waited = started.elapsed();
                    if waited >= limit {
                        anyhow::bail!(
                            "{} is in use by another mindlog process; gave up after {} s: let that one finish, or set \
                             MINDLOG_BUSY_TIMEOUT to wait longer",
                            path.display(),
                            limit.as_secs_f64()
                        );
                    }
                    if !said && waited > Duration::from_millis(500) {
                        say!(
                            "waiting for another mindlog process to close {} (at most {} s) …",
                            path.display(),
                            limit.as_secs_f64()
                        );
                        said = true;
                    }
                    std::thread::sleep(Duration::from_millis(20).min(limit.saturating_sub(waited)));
                }
                result => return Ok(result?),
            }
        }
    }

    /// The identity commands are signed with: `--as NAME`, else the default one.
    pub(crate) fn identity(&self) -> Result<Identity> {
        self.identity_named(self.signer.as_deref())
    }

    /// The local identity called `name` (`None` or `default`: the first one, identity.key).
    /// A name that breaks [`identity_name`] names none (no path is built from it).
    pub(crate) fn identity_named(&self, name: Option<&str>) -> Result<Identity> {
        let path = match name {
            None | Some(DEFAULT_IDENTITY) => self.key_path(),
            Some(name) => {
                identity_name(name)?;
                self.dir.join(IDENTITIES_DIR).join(format!("{name}.key"))
            }
        };
        if !path.exists() {
            return Err(match name {
                None | Some(DEFAULT_IDENTITY) => NoIdentity::Default(path),
                Some(name) => NoIdentity::Named(name.to_owned()),
            }
            .into());
        }
        if let Some(served) = crate::served::current() {
            return served.hosted.identity_at(&path);
        }
        Ok(Identity::load(&path)?)
    }

    /// Every local identity, the default first, then by name.
    pub(crate) fn identities(&self) -> Result<Vec<(String, Identity)>> {
        let mut out = vec![(DEFAULT_IDENTITY.to_owned(), self.identity_named(None)?)];
        let dir = self.dir.join(IDENTITIES_DIR);
        let mut names = Vec::new();
        if dir.exists() {
            for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
                let name = entry?.file_name().to_string_lossy().into_owned();
                // A file whose name breaks the rule is no identity of this home (`--as` could not name it).
                if let Some(stem) = name.strip_suffix(".key").filter(|stem| identity_name(stem).is_ok()) {
                    names.push(stem.to_owned());
                }
            }
        }
        names.sort();
        for name in names {
            let identity = self.identity_named(Some(&name))?;
            out.push((name, identity));
        }
        Ok(out)
    }

    /// A new identity called `name`, written with mode 0600.
    pub(crate) fn new_identity(&self, name: &str) -> Result<Identity> {
        new_identity_name(name)?;
        self.identity_named(None)?; // the home exists and has its first identity
        let dir = self.dir.join(IDENTITIES_DIR);
        private_dir(&dir)?;
        let identity = Identity::generate()?;
        identity.save_new(&dir.join(format!("{name}.key")))?;
        Ok(identity)
    }

    /// `text` as a public key: a local identity's name is replaced by its key; anything else is
    /// returned as it is (for the command to check).
    pub(crate) fn key_or_name(&self, text: &str) -> String {
        if text.len() == 64 {
            return text.to_owned();
        }
        match self.identity_named(Some(text)) {
            Ok(identity) => identity.public_key().to_string(),
            Err(_) => text.to_owned(),
        }
    }

    /// An author named by `text`: a public key in hex, a local identity's name, or a prefix (4 or
    /// more hex characters) of exactly one author holding a feed in `snapshot`; otherwise the
    /// refusal that says why.
    pub(crate) fn author(&self, text: &str, snapshot: &Snapshot) -> Result<Result<PublicKey, Refusal>> {
        if let Ok(key) = text.parse::<PublicKey>() {
            return Ok(Ok(key));
        }
        if let Ok(identity) = self.identity_named(Some(text)) {
            return Ok(Ok(identity.public_key()));
        }
        let unknown = || Err(Refusal::UnknownAuthor { text: text.to_owned() });
        if !(4..64).contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
            return Ok(unknown());
        }
        let matches: Vec<PublicKey> =
            snapshot.heads()?.into_iter().map(|h| h.author).filter(|a| a.to_string().starts_with(text)).collect();
        Ok(match matches.as_slice() {
            [one] => Ok(*one),
            [] => unknown(),
            many => Err(Refusal::AmbiguousAuthor { prefix: text.to_owned(), count: many.len() }),
        })
    }

    /// Creates the folder (mode 0700) if needed.
    pub(crate) fn create_dir(&self) -> Result<()> {
        private_dir(&self.dir)
    }
}

/// Creates `dir` and any missing parent with mode 0700 (whatever the umask: the umask only
/// takes bits away), if it is not there.
fn private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).with_context(|| format!("creating {}", dir.display()))
}

/// The one rule for an identity's name (`identity new NAME`, `--as NAME`, a name given for a
/// public key): 1 to 32 ASCII letters, digits, `-` or `_`, so that `identities/NAME.key` is a
/// file in the home and never a path out of it.
pub(crate) fn identity_name(name: &str) -> Result<(), Refusal> {
    let fits =
        !name.is_empty() && name.len() <= 32 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if fits { Ok(()) } else { Err(Refusal::BadIdentityName { name: name.to_owned() }) }
}

/// A name `identity new` may give: [`identity_name`]'s rule, and not `default` (identity.key's).
pub(crate) fn new_identity_name(name: &str) -> Result<(), Refusal> {
    identity_name(name)?;
    if name == DEFAULT_IDENTITY { Err(Refusal::DefaultIdentityName) } else { Ok(()) }
}

/// How long a command waits for a store another process holds: `$MINDLOG_BUSY_TIMEOUT` seconds
/// (a decimal number; 0: do not wait), else 10 s.
fn busy_timeout() -> Result<Duration> {
    seconds_from_env("MINDLOG_BUSY_TIMEOUT", DEFAULT_BUSY_TIMEOUT)
}

/// A duration given in seconds (a decimal number) by the environment variable `name`, else
/// `default`; a value that is not a number of seconds is an error that says so.
pub(crate) fn seconds_from_env(name: &str, default: Duration) -> Result<Duration> {
    match std::env::var(name) {
        Ok(text) if !text.trim().is_empty() => {
            text.trim().parse::<f64>().ok().and_then(|secs| Duration::try_from_secs_f64(secs).ok()).with_context(|| {
                format!(
                    "{name}={text:?} is not a number of seconds: unset it or give one, such as {}",
                    default.as_secs()
                )
            })
        }
        _ => Ok(default),
    }
}

/// The identity a command should sign with does not exist.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NoIdentity {
    #[error("no identity at {}: run `mindlog init` first (or pass --home)", .0.display())]
    Default(PathBuf),
    #[error("no identity named {0:?}: create it with `mindlog identity new {0}`")]
    Named(String),
}

/// The file in a home that says when its store was last verified (`verify` writes it; `stats`
/// and the dashboard's Privacy page show it).
pub(crate) const VERIFIED_FILE: &str = "verified.json";

/// What `verified.json` holds: the last `verify` of the store.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct LastVerified {
    /// When it finished (RFC 3339).
    pub(crate) at: String,
    /// Whether every check passed.
    pub(crate) ok: bool,
    /// Events checked.
    pub(crate) events: u64,
}

impl Home {
    /// The last `verify` of this home's store, if one was recorded.
    pub(crate) fn last_verified(&self) -> Option<LastVerified> {
        let bytes = std::fs::read(self.dir.join(VERIFIED_FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Records a `verify` of this home's store. A home that cannot be written to keeps no record:
    /// the check itself stands, and says so in its report.
    pub(crate) fn record_verified(&self, ok: bool, events: u64) {
        let record = LastVerified { at: jiff::Timestamp::now().to_string(), ok, events };
        let written = serde_json::to_vec_pretty(&record)
            .map_err(anyhow::Error::from)
            .and_then(|bytes| write_atomically(&self.dir.join(VERIFIED_FILE), &bytes));
        if let Err(e) = written {
            tracing::warn!(error = %format!("{e:#}"), "could not record the verification");
        }
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a reader never sees half.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
