//! Event delivery: a bounded queue drained by one background thread, so a request never
//! waits for a disk or a subscriber. When the queue is full, events are dropped and counted,
//! and the next delivery reports how many.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::Mode;
use crate::event::{Action, Event, EventKind};

/// How long the worker waits for more events before it flushes what it wrote; bounds the
/// delay between an event and its line in the file.
const FLUSH_INTERVAL: Duration = Duration::from_millis(50);

enum Message {
    Event(Box<Event>),
    Flush(SyncSender<()>),
    Shutdown,
}

/// The sending side, owned by the agent.
pub(crate) struct Transport {
    sender: SyncSender<Message>,
    dropped: Arc<AtomicU64>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl Transport {
    /// Starts the worker. With an `events_file`, events are appended to it as JSON lines; the
    /// file is opened now so that a bad path is a startup error.
    pub(crate) fn start(events_file: Option<&Path>, capacity: usize) -> io::Result<Self> {
        let file = events_file
            .map(|path| OpenOptions::new().create(true).append(true).open(path))
            .transpose()?;
        let (sender, receiver) = mpsc::sync_channel(capacity);
        let dropped = Arc::new(AtomicU64::new(0));
        let worker_dropped = Arc::clone(&dropped);
        let worker = std::thread::Builder::new()
            .name("antibody-events".into())
            .spawn(move || deliver(&receiver, file.map(BufWriter::new), &worker_dropped))?;
        Ok(Transport {
            sender,
            dropped,
            worker: Mutex::new(Some(worker)),
        })
    }

    /// Queues `event` without ever blocking; when the queue is full the event is counted as
    /// dropped instead.
    pub(crate) fn send(&self, event: Event) {
        match self.sender.try_send(Message::Event(Box::new(event))) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Events dropped and not yet reported.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits (at most `timeout`) until every event queued before this call is written.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        let (ack, done) = mpsc::sync_channel(1);
        self.sender.send(Message::Flush(ack)).is_ok() && done.recv_timeout(timeout).is_ok()
    }

    /// Delivers everything queued, then stops the worker.
    pub(crate) fn shutdown(&self) {
        let worker = self
            .worker
            .lock()
            .map(|mut worker| worker.take())
            .unwrap_or_default();
        if let Some(worker) = worker {
            let _ = self.sender.send(Message::Shutdown);
            let _ = worker.join();
        }
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn deliver(receiver: &Receiver<Message>, mut file: Option<BufWriter<File>>, dropped: &AtomicU64) {
    let mut unflushed_since: Option<Instant> = None;
    loop {
        let message = receiver.recv_timeout(FLUSH_INTERVAL);
        let quiet = matches!(message, Err(RecvTimeoutError::Timeout));
        let count = dropped.swap(0, Ordering::Relaxed);
        if count > 0 {
            let mut report = Event::new(EventKind::EventsDropped, Action::Reported, Mode::Monitor);
            report.dropped = Some(count);
            write(&mut file, &report, &mut unflushed_since);
        }
        match message {
            Ok(Message::Event(event)) => write(&mut file, &event, &mut unflushed_since),
            Ok(Message::Flush(ack)) => {
                flush(&mut file, &mut unflushed_since);
                let _ = ack.send(());
            }
            Ok(Message::Shutdown) | Err(RecvTimeoutError::Disconnected) => {
                // Whatever is still queued was sent before the shutdown.
                while let Ok(Message::Event(event)) = receiver.try_recv() {
                    write(&mut file, &event, &mut unflushed_since);
                }
                flush(&mut file, &mut unflushed_since);
                return;
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        // Flush when the queue went quiet, and at least every interval under a steady stream.
        if quiet || unflushed_since.is_some_and(|since| since.elapsed() >= FLUSH_INTERVAL) {
            flush(&mut file, &mut unflushed_since);
        }
    }
}

/// Emits `event` through `tracing` and appends it to the file.
fn write(file: &mut Option<BufWriter<File>>, event: &Event, unflushed_since: &mut Option<Instant>) {
    let line = event.to_json_line();
    tracing::warn!(
        target: "antibody",
        id = %event.id,
        kind = event.kind.as_str(),
        action = ?event.action,
        event = %line,
        "antibody event"
    );
    if let Some(file) = file {
        if file
            .write_all(line.as_bytes())
            .and_then(|()| file.write_all(b"\n"))
            .is_ok()
        {
            unflushed_since.get_or_insert_with(Instant::now);
        }
    }
}

fn flush(file: &mut Option<BufWriter<File>>, unflushed_since: &mut Option<Instant>) {
    if let Some(file) = file {
        let _ = file.flush();
    }
    *unflushed_since = None;
}
