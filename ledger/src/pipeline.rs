//! An ordered parallel map over chunks: read on this thread, work on all cores, consume in order.
//!
//! `verify`, `export` and `import` share it: each reads its input sequentially, does the
//! expensive per-event work in parallel, and must see results in input order.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::mpsc;

/// Runs `work` on each input from `next_input` in the rayon pool, at most `window` at a time,
/// and hands the outputs to `sink` in input order. Stops at the first error of `next_input` or `sink`.
pub(crate) fn run_ordered<I, O, E>(
    window: usize,
    mut next_input: impl FnMut() -> Result<Option<I>, E>,
    work: impl Fn(I) -> O + Sync,
    mut sink: impl FnMut(O) -> Result<(), E>,
) -> Result<(), E>
where
    I: Send,
    O: Send,
{
    let (done_tx, done_rx) = mpsc::channel::<(usize, std::thread::Result<O>)>();
    let work = &work;
    rayon::in_place_scope(|scope| {
        let mut pending: BTreeMap<usize, O> = BTreeMap::new();
        let (mut sent, mut applied) = (0usize, 0usize);
        let mut exhausted = false;
        loop {
            while !exhausted && sent - applied < window.max(1) {
                match next_input()? {
                    Some(input) => {
                        let tx = done_tx.clone();
                        let index = sent;
                        // A panicking `work` (third-party code on damaged bytes) must still
                        // answer, or the loop below would wait for it forever: its panic is sent
                        // and raised again on this thread.
                        scope.spawn(move |_| {
                            let _ = tx.send((index, catch_unwind(AssertUnwindSafe(|| work(input)))));
                        });
                        sent += 1;
                    }
                    None => exhausted = true,
                }
            }
            if applied == sent {
                return Ok(());
            }
            // A worker always sends before finishing, and we hold a sender, so this cannot fail
            // while work is outstanding.
            let Ok((index, output)) = done_rx.recv() else { return Ok(()) };
            let output = output.unwrap_or_else(|panic| resume_unwind(panic));
            pending.insert(index, output);
            while let Some(output) = pending.remove(&applied) {
                applied += 1;
                sink(output)?;
            }
        }
    })
}

/// The default window: enough chunks in flight to keep every core busy.
pub(crate) fn default_window() -> usize {
    2 * rayon::current_num_threads() + 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_work_panics_the_caller_instead_of_hanging_it() {
        let mut inputs = (0..100u32).collect::<Vec<_>>().into_iter();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            run_ordered::<_, _, ()>(
                4,
                || Ok(inputs.next()),
                |i| if i == 37 { panic!("damaged") } else { i },
                |_| Ok(()),
            )
        }));
        assert!(outcome.is_err());
    }

    #[test]
    fn keeps_order_and_stops_on_error() {
        let mut inputs = (0..100u32).collect::<Vec<_>>().into_iter();
        let mut seen = Vec::new();
        run_ordered::<_, _, ()>(
            4,
            || Ok(inputs.next()),
            |i| i * 2,
            |o| {
                seen.push(o);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, (0..100u32).map(|i| i * 2).collect::<Vec<_>>());

        let mut inputs = (0..100u32).collect::<Vec<_>>().into_iter();
        let mut count = 0;
        let r = run_ordered(
            4,
            || Ok(inputs.next()),
            |i| i,
            |o| {
                count += 1;
                if o == 10 { Err("stop") } else { Ok(()) }
            },
        );
        assert_eq!(r, Err("stop"));
        assert_eq!(count, 11);
    }
}
