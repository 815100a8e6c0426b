//! Storage that fails on a schedule, for tests of what the ledger and the views do when I/O fails
//! (ledger/tests/faults.rs, projections/tests/faults.rs). Not for production use.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use redb::StorageBackend;

/// Storage that outlives the ledger opened on it: the "disk" across a crash.
#[derive(Clone, Debug, Default)]
pub struct Disk(Arc<RwLock<Vec<u8>>>);

/// Which I/O operation fails: from the `fail_at`-th on, every write, sync or resize fails (a
/// disk that died), reads too when `reads` is set.
#[derive(Debug)]
pub struct Plan {
    ops: AtomicU64,
    fail_at: u64,
    reads: bool,
}

impl Plan {
    /// A plan that fails from operation `fail_at` on.
    pub fn new(fail_at: u64, reads: bool) -> Arc<Plan> {
        Arc::new(Plan { ops: AtomicU64::new(0), fail_at, reads })
    }

    /// Operations counted so far.
    pub fn ops(&self) -> u64 {
        self.ops.load(Ordering::SeqCst)
    }
}

/// A redb storage backend over a [`Disk`] that fails as its [`Plan`] says.
#[derive(Debug)]
pub struct Faulty {
    disk: Disk,
    plan: Arc<Plan>,
}

impl Faulty {
    fn tick(&self) -> io::Result<()> {
        if self.plan.ops.fetch_add(1, Ordering::SeqCst) >= self.plan.fail_at {
            Err(io::Error::other("injected fault"))
        } else {
            Ok(())
        }
    }
}

impl StorageBackend for Faulty {
    fn len(&self) -> io::Result<u64> {
        Ok(self.disk.0.read().map_err(|_| io::Error::other("poisoned"))?.len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        if self.plan.reads {
            self.tick()?;
        }
        let data = self.disk.0.read().map_err(|_| io::Error::other("poisoned"))?;
        let start = offset as usize;
        let end = start.checked_add(out.len()).filter(|&e| e <= data.len()).ok_or(io::ErrorKind::UnexpectedEof)?;
        out.copy_from_slice(&data[start..end]);
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.tick()?;
        self.disk.0.write().map_err(|_| io::Error::other("poisoned"))?.resize(len as usize, 0);
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        self.tick()
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.tick()?;
        let mut disk = self.disk.0.write().map_err(|_| io::Error::other("poisoned"))?;
        let end = offset as usize + data.len();
        if end > disk.len() {
            disk.resize(end, 0);
        }
        disk[offset as usize..end].copy_from_slice(data);
        Ok(())
    }
}

impl Disk {
    /// A store on this disk (created if empty, opened and repaired if not), failing as `plan` says.
    pub fn open(&self, plan: &Arc<Plan>) -> Result<crate::Ledger, crate::OpenError> {
        crate::Ledger::on_backend(Faulty { disk: self.clone(), plan: plan.clone() })
    }
}
