//! The window's connection to the local service: a small tokio runtime on a thread of its own
//! that turns [`Command`]s into requests over the agent's socket (`sesame_local::transport`, the
//! same line protocol as `sesame-agent change`) and the service's answers into [`Update`]s.
//! `status` goes over a short connection of its own each time; a change holds one connection from
//! `begin` to its end. Dropping the [`Link`] closes everything: the service keeps the rotation's
//! state.
//!
//! Nothing waits forever: `status` gets [`client::STATUS_WAIT`] per answer (following the pages
//! of a long list), a change connection [`CHANGE_WAIT`] per event (longer than the service's own
//! idle limit, after which it ends the session itself); then the window says the service does not
//! answer.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use sesame_local::client;
use sesame_local::protocol::{Event, MailboxChoice, Request};
use sesame_local::secret::LocalSecret;
use sesame_local::server::IDLE_LIMIT;
use sesame_local::transport::{self, Stream};
use sesame_local::wire::Connection;
use tokio::sync::mpsc as async_mpsc;

use crate::flow::{Command, Update};

/// The most mailboxes gathered from the pages of a long list.
const MAX_CHOICES: usize = 10_000;

/// How long a change connection waits for the service's next event.
pub const CHANGE_WAIT: Duration = IDLE_LIMIT.saturating_add(Duration::from_secs(60));

/// Called after each update, so the window redraws.
pub type Wake = Box<dyn Fn() + Send + 'static>;

/// The window's end of the connection.
#[derive(Debug)]
pub struct Link {
    commands: async_mpsc::UnboundedSender<Command>,
    updates: mpsc::Receiver<Update>,
}

impl Link {
    /// Starts the connection thread for the service at `socket`.
    pub fn spawn(socket: PathBuf, wake: Wake) -> std::io::Result<Link> {
        let (commands, command_rx) = async_mpsc::unbounded_channel();
        let (update_tx, updates) = mpsc::channel();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        std::thread::Builder::new().name("sesame-link".to_owned()).spawn(move || {
            runtime.block_on(run(socket, command_rx, update_tx, wake));
        })?;
        Ok(Link { commands, updates })
    }

    /// Sends `command` (dropped silently when the thread has ended).
    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    /// The updates received since the last call.
    pub fn drain(&self) -> Vec<Update> {
        self.updates.try_iter().collect()
    }
}

/// One `status` over a connection of its own.
pub async fn status(socket: &std::path::Path) -> Update {
    let stream = match transport::connect(socket).await {
        Ok(stream) => stream,
        Err(error) => return Update::Unreachable(error.to_string()),
    };
    let mut connection = Connection::new(stream);
    match client::status_pages(&mut connection, client::STATUS_WAIT).await {
        Ok(report) => Update::Status(report),
        Err(Some(error)) => Update::Event(Event::Error(error)),
        Err(None) => Update::Unreachable("le service ne répond pas".to_owned()),
    }
}

/// The next event of the change connection (`None` when it ended or stayed silent for
/// [`CHANGE_WAIT`]); pending forever when there is no change connection.
async fn next_event(change: &mut Option<Connection<Stream>>) -> Option<Event> {
    match change {
        Some(connection) => tokio::time::timeout(CHANGE_WAIT, connection.recv::<Event>())
            .await
            .ok()
            .and_then(Result::ok)
            .flatten(),
        None => std::future::pending().await,
    }
}

fn request(command: Command) -> Option<Request> {
    Some(match command {
        Command::ConfirmKey => Request::ConfirmKeyUnplugged,
        Command::Passwords { old, new, confirm } => Request::Passwords {
            current_or_provisional: LocalSecret::new(old),
            new: LocalSecret::new(new),
            confirm: LocalSecret::new(confirm),
        },
        Command::NewPassword { new } => Request::NewPassword { new: LocalSecret::new(new) },
        Command::Cancel => Request::Cancel,
        Command::Begin { mailbox } => Request::Begin { mailbox },
        Command::Status => return None,
    })
}

async fn run(
    socket: PathBuf,
    mut commands: async_mpsc::UnboundedReceiver<Command>,
    updates: mpsc::Sender<Update>,
    wake: Wake,
) {
    let mut change: Option<Connection<Stream>> = None;
    // The pages of a long list of mailboxes, gathered before the person chooses.
    let mut gathered: Vec<MailboxChoice> = Vec::new();
    let tell = |update: Update| {
        let sent = updates.send(update).is_ok();
        wake();
        sent
    };
    loop {
        tokio::select! {
            command = commands.recv() => {
                let Some(command) = command else { break };
                match command {
                    Command::Status => {
                        if !tell(status(&socket).await) {
                            break;
                        }
                    }
                    Command::Begin { mailbox } if change.is_none() => {
                        match transport::connect(&socket).await {
                            Ok(stream) => {
                                let mut connection = Connection::new(stream);
                                if connection.send(&Request::Begin { mailbox }).await.is_ok() {
                                    change = Some(connection);
                                } else if !tell(Update::Closed) {
                                    break;
                                }
                            }
                            Err(error) => {
                                if !tell(Update::Unreachable(error.to_string())) {
                                    break;
                                }
                            }
                        }
                    }
                    other => {
                        let cancel = matches!(other, Command::Cancel);
                        if let (Some(connection), Some(request)) = (change.as_mut(), request(other))
                            && connection.send(&request).await.is_err()
                        {
                            change = None;
                            if !cancel && !tell(Update::Closed) {
                                break;
                            }
                        }
                        if cancel {
                            change = None;
                        }
                    }
                }
            }
            event = next_event(&mut change) => {
                let sent = match event {
                    Some(Event::ChooseMailboxPage { mut choices, next_page }) => {
                        gathered.append(&mut choices);
                        let more = next_page.filter(|_| gathered.len() < MAX_CHOICES);
                        let asked = match (more, change.as_mut()) {
                            (Some(page), Some(connection)) => {
                                connection.send(&Request::MoreChoices { page }).await.is_ok()
                            }
                            _ => false,
                        };
                        asked
                            || tell(Update::Event(Event::ChooseMailbox(std::mem::take(
                                &mut gathered,
                            ))))
                    }
                    Some(event) => tell(Update::Event(event)),
                    None => {
                        change = None;
                        tell(Update::Closed)
                    }
                };
                if !sent {
                    break;
                }
            }
        }
    }
}
