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

/// How long a shutdown waits for the worker to deliver what is queued. A file that never
/// accepts writes (a full pipe, a hung network disk) must not keep the process from exiting.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

enum Message {
    Event(Box<Event>),
    Flush(SyncSender<()>),
    Shutdown,
}

/// The sending side, owned by the agent.
pub(crate) struct Transport {
    sender: SyncSender<Message>,
    dropped: Arc<AtomicU64>,
    worker: Mutex<Option<Worker>>,
}

/// The delivery thread, and a channel that disconnects when it ends.
struct Worker {
    thread: JoinHandle<()>,
    finished: Receiver<()>,
}

impl Transport {
    /// Starts the worker. With an `events_file`, events are appended to it as JSON lines; the
    /// file is opened now so that a bad path is a startup error.
    pub(crate) fn start(events_file: Option<&Path>, capacity: usize) -> io::Result<Self> {
        let file = events_file
            .map(|path| {
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|error| {
                        io::Error::new(
                            error.kind(),
                            format!("cannot open the events file {}: {error}", path.display()),
                        )
                    })
            })
            .transpose()?;
        let (sender, receiver) = mpsc::sync_channel(capacity);
        let (finished_sender, finished) = mpsc::sync_channel(0);
        let dropped = Arc::new(AtomicU64::new(0));
        let worker_dropped = Arc::clone(&dropped);
        let thread = std::thread::Builder::new()
            .name("antibody-events".into())
            .spawn(move || {
                // Dropped when the worker ends, however it ends.
                let _finished = finished_sender;
                deliver(&receiver, file.map(BufWriter::new), &worker_dropped);
            })?;
        Ok(Transport {
            sender,
            dropped,
            worker: Mutex::new(Some(Worker { thread, finished })),
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
        let deadline = Instant::now() + timeout;
        let (ack, done) = mpsc::sync_channel(1);
        self.send_until(Message::Flush(ack), deadline)
            && done
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .is_ok()
    }

    /// Delivers everything queued (waiting at most [`SHUTDOWN_TIMEOUT`]), then stops the
    /// worker.
    pub(crate) fn shutdown(&self) {
        let worker = self
            .worker
            .lock()
            .map(|mut worker| worker.take())
            .unwrap_or_default();
        if let Some(worker) = worker {
            let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
            let delivered = self.send_until(Message::Shutdown, deadline)
                && matches!(
                    worker
                        .finished
                        .recv_timeout(deadline.saturating_duration_since(Instant::now())),
                    Err(RecvTimeoutError::Disconnected)
                );
            if delivered {
                let _ = worker.thread.join();
            } else {
                // The worker is stuck on the file; leave it behind rather than hang.
                tracing::error!(
                    target: "antibody",
                    "the events file did not accept writes within {SHUTDOWN_TIMEOUT:?}; \
                     undelivered events are lost"
                );
            }
        }
    }

    /// Queues `message`, waiting for room until `deadline`: a full queue must not make a
    /// flush or a shutdown wait forever.
    fn send_until(&self, message: Message, deadline: Instant) -> bool {
        let mut message = message;
        loop {
            match self.sender.try_send(message) {
                Ok(()) => return true,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(returned)) => {
                    if Instant::now() >= deadline {
                        return false;
                    }
                    message = returned;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
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
        report_dropped(&mut file, dropped, &mut unflushed_since);
        match message {
            Ok(Message::Event(event)) => write(&mut file, &event, &mut unflushed_since),
            Ok(Message::Flush(ack)) => {
                flush(&mut file, &mut unflushed_since);
                let _ = ack.send(());
            }
            Ok(Message::Shutdown) | Err(RecvTimeoutError::Disconnected) => {
                // Whatever is still queued was sent before the shutdown; a flush queued
                // among it is answered once what precedes it is written.
                while let Ok(message) = receiver.try_recv() {
                    match message {
                        Message::Event(event) => write(&mut file, &event, &mut unflushed_since),
                        Message::Flush(ack) => {
                            flush(&mut file, &mut unflushed_since);
                            let _ = ack.send(());
                        }
                        Message::Shutdown => {}
                    }
                }
                report_dropped(&mut file, dropped, &mut unflushed_since);
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

/// Writes an `events_dropped` event for the events dropped since the last one, if any.
fn report_dropped(
    file: &mut Option<BufWriter<File>>,
    dropped: &AtomicU64,
    unflushed_since: &mut Option<Instant>,
) {
    let count = dropped.swap(0, Ordering::Relaxed);
    if count > 0 {
        let mut report = Event::new(EventKind::EventsDropped, Action::Reported, Mode::Monitor);
        report.dropped = Some(count);
        write(file, &report, unflushed_since);
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
