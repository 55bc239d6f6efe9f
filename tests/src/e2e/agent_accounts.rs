//! A shared workstation, driven from outside as a colleague would (issue 19, findings 1, 2 and 6):
//! two real local accounts created for the test (`useradd`), each running the real
//! `sesame-agent` client as itself (`runuser`) against the real service on its simulated USB bus.
//!
//! - The owner changes their mailbox from the letter; from then on the colleague (and root, which
//!   is not special) sees nothing of it in `status`, and `change --mailbox owner@…` is refused as
//!   unknown with nothing sent to Exchange (the simulator's ground truth).
//! - A greedy colleague (21 connections) and a silent one (a client that stops reading) block no
//!   one: the owner's `status` is answered, the connections over the cap are told
//!   `too_many_sessions` at once, the silent client is dropped, the service stops promptly on
//!   SIGTERM with it connected; `status` and the mailbox choice of 100 assigned mailboxes are
//!   paged.
//!
//! - The letter binds the owner (every report names the account; the server records it); the
//!   periodic change a period later is the owner's alone, and a current password Exchange refused
//!   is not followed by another the same day, even after a restart (nothing sent: the ground
//!   truth).
//!
//! Skipped when not root outside CI (creating accounts needs root); under CI it must run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::task::block_in_place;

use super::agent_story::{MAILBOX, NEW, agent_config, roll_out, wait_for_delivery};
use crate::agent_host::{AgentHost, agent_binary, umockdev_available};
use crate::owa_sim::{OwaSim, SimOptions};
use crate::{TestServer, write_file};

/// Whether the test may create accounts: root; under CI it must be.
fn may_create_accounts() -> bool {
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout == b"0\n");
    assert!(root || std::env::var_os("CI").is_none(), "CI runs these tests as root");
    root
}

/// A local account created for the test, removed when dropped.
struct Account {
    name: String,
}

impl Account {
    #[allow(clippy::unwrap_used)] // Reason: a test helper fails by panicking.
    fn create(role: &str) -> Account {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "ss{role}{}x{}",
            std::process::id() % 100_000,
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let status = Command::new("useradd")
            .args(["-M", "-s", "/usr/sbin/nologin", &name])
            .status()
            .unwrap();
        assert!(status.success(), "useradd {name}");
        Account { name }
    }
}

impl Drop for Account {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).status();
    }
}

/// The agent binary where every account can run it, and the service's directory opened to them
/// (the socket is 0666; its directory must be traversable).
#[allow(clippy::unwrap_used)] // Reason: a test helper fails by panicking.
fn open_to_accounts(host: &AgentHost) -> (tempfile::TempDir, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let bin_dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(bin_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let binary = bin_dir.path().join("sesame-agent");
    std::fs::copy(agent_binary(), &binary).unwrap();
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(host.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    (bin_dir, binary)
}

/// `sesame-agent ARGS` run as `account`, `lines` on standard input; the exit code and output.
#[allow(clippy::unwrap_used)] // Reason: a test helper fails by panicking.
fn run_as(
    account: &str,
    binary: &Path,
    socket: &Path,
    args: &[&str],
    lines: &[&str],
) -> (i32, String) {
    use std::io::Write;
    let mut child = Command::new("timeout")
        .args(["60", "runuser", "-u", account, "--"])
        .arg(binary)
        .arg("--socket")
        .arg(socket)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for line in lines {
            let _ = writeln!(stdin, "{line}");
        }
    }
    let output = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

/// A workstation two real accounts share, the owner and a colleague: the office rolled out with
/// one provisional rotation, the agent service running and the rotation delivered.
struct Shared {
    owner: Account,
    colleague: Account,
    sim: OwaSim,
    host: AgentHost,
    provisional: String,
    _bin_dir: tempfile::TempDir,
    binary: PathBuf,
    socket: PathBuf,
}

/// [`Shared`], or `None` where accounts cannot be created or USB cannot be simulated.
async fn shared_workstation(server: &TestServer) -> Option<Shared> {
    if !umockdev_available() || !may_create_accounts() {
        return None;
    }
    let owner = Account::create("own");
    let colleague = Account::create("col");
    let sim = OwaSim::start(SimOptions { host: "localhost".into(), ..SimOptions::default() }).await;
    let (mut host, provisional) = roll_out(server, &sim).await;
    let (_bin_dir, binary) = open_to_accounts(&host);
    let socket = host.socket();
    block_in_place(|| host.start(None));
    wait_for_delivery(&host).await;
    Some(Shared { owner, colleague, sim, host, provisional, _bin_dir, binary, socket })
}

async fn a_colleague_sees_and_changes_nothing_of_anothers_mailbox(server: &TestServer) {
    let Some(Shared { owner, colleague, sim, mut host, provisional, _bin_dir, binary, socket }) =
        shared_workstation(server).await
    else {
        return;
    };

    // While one of the owner's sessions holds the change (asked for the passwords), a second
    // session of theirs is told a change is under way: one session drives a rotation at a time,
    // so one's passwords can never be used by the other's change.
    let mut holder = Script::run_as(&owner.name, HOLDER_CLIENT, &[&socket.display().to_string()]);
    assert_eq!(block_in_place(|| holder.line()), "holding");
    let (code, out) = block_in_place(|| {
        run_as(&owner.name, &binary, &socket, &["change"], &[&provisional, NEW, NEW])
    });
    assert_eq!(code, 10, "{out}");
    assert!(out.contains("déjà en cours"), "{out}");
    assert!(sim.logins().is_empty(), "nothing sent");
    drop(holder);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    // The owner changes the mailbox with the letter's provisional password.
    let (code, out) = block_in_place(|| {
        run_as(&owner.name, &binary, &socket, &["change"], &[&provisional, NEW, NEW])
    });
    assert_eq!(code, 0, "{out}\n{}", host.log());
    assert_eq!(sim.password_of(MAILBOX).as_deref(), Some(NEW), "the ground truth");
    let (code, out) = block_in_place(|| run_as(&owner.name, &binary, &socket, &["status"], &[]));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(MAILBOX), "the owner sees their mailbox: {out}");

    // The colleague, and root, see nothing of it.
    for who in [colleague.name.as_str(), "root"] {
        let (code, out) = block_in_place(|| run_as(who, &binary, &socket, &["status"], &[]));
        assert_eq!(code, 0, "{who}: {out}");
        assert!(!out.contains(MAILBOX), "{who} sees nothing of it: {out}");
        assert!(!out.contains("Dupont"), "{who} sees nothing of it: {out}");
    }

    // The colleague tries to act on it: refused as unknown, nothing reaches Exchange.
    let requests = sim.requests().len();
    let logins = sim.logins().len();
    for lines in
        [vec![NEW], vec!["", ""], vec![&provisional as &str, "Autre-Mot-2026!", "Autre-Mot-2026!"]]
    {
        let (code, out) = block_in_place(|| {
            run_as(&colleague.name, &binary, &socket, &["change", "--mailbox", MAILBOX], &lines)
        });
        assert_eq!(code, 10, "refused before anything is sent: {out}");
        assert!(out.contains("Aucun changement n'est prévu"), "{out}");
        assert!(!out.contains("Dupont"), "{out}");
    }
    let (code, out) = block_in_place(|| {
        run_as(&colleague.name, &binary, &socket, &["change"], &[&provisional, NEW, NEW])
    });
    assert_eq!(code, 10, "{out}");
    assert!(!out.contains(MAILBOX), "{out}");
    assert_eq!(sim.requests().len(), requests, "no request reached Exchange");
    assert_eq!(sim.logins().len(), logins, "no credential reached Exchange");
    assert_eq!(sim.password_of(MAILBOX).as_deref(), Some(NEW));

    block_in_place(|| host.stop());
    sim.stop().await;
}

/// A session that begins a change and holds it at the passwords (prints `holding`) until its
/// standard input closes.
const HOLDER_CLIENT: &str = r#"
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(b'{"v":1,"msg":{"begin":{}}}\n')
seen = b""
while b"need_passwords" not in seen:
    chunk = s.recv(65536)
    if not chunk:
        break
    seen += chunk
print("holding" if b"need_passwords" in seen else "ended", flush=True)
sys.stdin.read()
"#;

/// A silent client, as `account`: opens a connection, sends `status` requests without ever
/// reading (its receive buffer small) until the service stops answering, waits past the service's
/// write limit, then reads: prints `dropped` when the service closed the connection, `kept`
/// otherwise. The service's pipe fills; it must drop the client, not wait on it.
const SILENT_CLIENT: &str = r#"
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
s.connect(sys.argv[1])
s.setblocking(False)
line = b'{"v":1,"msg":"status"}\n'
blocked = 0
for _ in range(20000):
    try:
        s.send(line)
    except BlockingIOError:
        blocked += 1
        if blocked > 100:
            break
        time.sleep(0.01)
print("filling", flush=True)
time.sleep(float(sys.argv[2]))
s.setblocking(True)
s.settimeout(15)
try:
    while s.recv(65536):
        pass
    print("dropped", flush=True)
except ConnectionResetError:
    print("dropped", flush=True)
except socket.timeout:
    print("kept", flush=True)
sys.stdin.read()
"#;

/// A greedy client, as `account`: opens `n` connections at once, then prints how many the
/// service turned away with `too_many_sessions`, and holds the rest open until its standard
/// input closes.
const GREEDY_CLIENT: &str = r#"
import socket, sys, time
n = int(sys.argv[2])
conns = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    conns.append(s)
time.sleep(1)
turned = 0
for s in conns:
    s.settimeout(0.2)
    try:
        if b"too_many_sessions" in s.recv(4096):
            turned += 1
    except socket.timeout:
        pass
print(f"turned {turned}", flush=True)
sys.stdin.read()
"#;

/// A Python client running as an account, and what it prints.
struct Script {
    child: std::process::Child,
    out: std::io::BufReader<std::process::ChildStdout>,
}

impl Script {
    #[allow(clippy::unwrap_used)] // Reason: a test helper fails by panicking.
    fn run_as(account: &str, script: &str, args: &[&str]) -> Script {
        // It ends when its standard input closes ([`Script`]'s drop): killing `runuser` would
        // leave the script running, its connections open.
        let mut child = Command::new("runuser")
            .args(["-u", account, "--", "/usr/bin/python3", "-c", script])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = std::io::BufReader::new(child.stdout.take().unwrap());
        Script { child, out }
    }

    /// The next line it prints.
    #[allow(clippy::unwrap_used)] // Reason: a test helper fails by panicking.
    fn line(&mut self) -> String {
        use std::io::BufRead;
        let mut line = String::new();
        self.out.read_line(&mut line).unwrap();
        line.trim().to_owned()
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

async fn a_greedy_or_silent_colleague_blocks_no_one(server: &TestServer) {
    if !umockdev_available() || !may_create_accounts() {
        return;
    }
    let owner = Account::create("own");
    let colleague = Account::create("col");
    let sim = OwaSim::start(SimOptions { host: "localhost".into(), ..SimOptions::default() }).await;
    let (mut host, _) = roll_out(server, &sim).await;
    // 100 more mailboxes assigned to the workstation, each with a letter: `status` is paged.
    let identity = sesame_agent::identity::StateDir::new(&host.state_dir()).load().unwrap();
    let many: Vec<String> = (0..100).map(|i| format!("clerc.{i:03}@01234.mailnot.fr")).collect();
    let people: String = many.iter().map(|m| format!("{m},Clerc Numéro {m}\n")).collect();
    let file =
        write_file(server.data_dir(), "many.csv", &format!("address,display_name\n{people}"));
    server.sesamectl(&["mailbox", "import", file.to_str().unwrap()]).await.unwrap();
    for mailbox in &many {
        server
            .sesamectl(&["workstation", "assign", &identity.workstation_id, mailbox])
            .await
            .unwrap();
        server.sesamectl(&["provisional", "issue", "--mailbox", mailbox]).await.unwrap();
    }
    let (_bin_dir, binary) = open_to_accounts(&host);
    let socket = host.socket();
    let socket_text = socket.display().to_string();
    block_in_place(|| host.start(None));
    wait_for_delivery(&host).await;

    let (code, out) = block_in_place(|| run_as(&owner.name, &binary, &socket, &["status"], &[]));
    assert_eq!(code, 0, "101 rotations: {out}");
    assert!(many.iter().all(|m| out.contains(m.as_str())), "every page followed: {out}");
    // Without `--mailbox`, the choice of 101 mailboxes comes a page at a time too.
    let (code, out) = block_in_place(|| run_as(&owner.name, &binary, &socket, &["change"], &[]));
    assert_eq!(code, 10, "no terminal: the list, then --mailbox is needed: {out}");
    assert!(many.iter().all(|m| out.contains(m.as_str())), "every page followed: {out}");

    // A colleague takes 21 connections and holds them: 4 are theirs, the rest turned away.
    let mut greedy = Script::run_as(&colleague.name, GREEDY_CLIENT, &[&socket_text, "21"]);
    let turned = block_in_place(|| greedy.line());
    assert_eq!(turned, "turned 17", "over the account's cap, turned away at once");
    let (code, out) = block_in_place(|| run_as(&owner.name, &binary, &socket, &["status"], &[]));
    assert_eq!(code, 0, "the owner is still answered: {out}");
    assert!(out.contains(MAILBOX), "{out}");
    drop(greedy);

    // A colleague whose client stops reading is dropped; the owner is answered meanwhile.
    let mut silent = Script::run_as(&colleague.name, SILENT_CLIENT, &[&socket_text, "8"]);
    assert_eq!(block_in_place(|| silent.line()), "filling");
    let (code, out) = block_in_place(|| run_as(&owner.name, &binary, &socket, &["status"], &[]));
    assert_eq!(code, 0, "another account is answered: {out}");
    assert_eq!(block_in_place(|| silent.line()), "dropped", "{}", host.log());
    drop(silent);

    // With a silent client connected, SIGTERM stops the service (the keybed waits for it).
    let mut silent = Script::run_as(&colleague.name, SILENT_CLIENT, &[&socket_text, "20"]);
    assert_eq!(block_in_place(|| silent.line()), "filling");
    block_in_place(|| host.stop());
    drop(silent);
    sim.stop().await;
}

/// `status` as `account` until it prints `needle`.
async fn wait_as(account: &str, binary: &Path, socket: &Path, host: &AgentHost, needle: &str) {
    let mut out = String::new();
    for _ in 0..200 {
        out = block_in_place(|| run_as(account, binary, socket, &["status"], &[])).1;
        if out.contains(needle) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{account}'s status never said {needle:?}:\n{out}\n{}", host.log());
}

/// The letter binds the owner (the server records the account its reports name); the periodic
/// change a period later is the owner's alone, and a refused current password is not followed by
/// another the same day, even after a restart.
async fn the_bound_owners_periodic_change_and_its_refused_password_limit(server: &TestServer) {
    let Some(Shared { owner, colleague, sim, mut host, provisional, _bin_dir, binary, socket }) =
        shared_workstation(server).await
    else {
        return;
    };
    let (code, out) = block_in_place(|| {
        run_as(&owner.name, &binary, &socket, &["change"], &[&provisional, NEW, NEW])
    });
    assert_eq!(code, 0, "{out}\n{}", host.log());

    // Every report names the owner; the server bound the mailbox to the owner.
    let mut shown = serde_json::Value::Null;
    for _ in 0..300 {
        shown = super::agent_story::mailbox_json(server, MAILBOX).await;
        // `mailbox show` reads its parts one query after another, not in one snapshot: wait
        // until both the binding and the reports that made it are shown.
        let bound = shown["bindings"].as_array().is_some_and(|b| !b.is_empty());
        let reported = shown["events"]
            .as_array()
            .is_some_and(|events| events.iter().any(|e| e["step"] == "verified"));
        if bound && reported {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let acted: Vec<&str> = shown["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["step"] != "pending")
        .filter_map(|e| e["local_account"].as_str())
        .collect();
    assert!(!acted.is_empty() && acted.iter().all(|a| *a == owner.name), "{shown:#}");
    let text = server.sesamectl(&["mailbox", "show", MAILBOX]).await.unwrap();
    assert!(text.contains(&format!(": {} (uid ", owner.name)), "{text}");

    // The key back in completes the letter's rotation; it goes out again for the next change.
    block_in_place(|| host.plug());
    wait_as(&owner.name, &binary, &socket, &host, ": terminé").await;
    block_in_place(|| host.unplug());

    // A period later the periodic rotation is the owner's alone.
    server.clock.advance(time::Duration::hours(25));
    sim.age_passwords();
    block_in_place(|| host.stop());
    block_in_place(|| host.start(None));
    wait_as(&owner.name, &binary, &socket, &host, "périodique").await;
    for who in [colleague.name.as_str(), "root"] {
        let (_, out) = block_in_place(|| run_as(who, &binary, &socket, &["status"], &[]));
        assert!(!out.contains(MAILBOX), "{who} sees nothing of it: {out}");
    }
    let logins = sim.logins().len();
    let (code, out) = block_in_place(|| {
        let args = ["change", "--mailbox", MAILBOX];
        run_as(
            &colleague.name,
            &binary,
            &socket,
            &args,
            &[NEW, "Autre-Mot-2026!", "Autre-Mot-2026!"],
        )
    });
    assert_eq!(code, 10, "{out}");
    assert_eq!(sim.logins().len(), logins, "the colleague's guess never reached Exchange");

    // The owner mistypes the current password: Exchange refuses it once...
    let next = "Printemps#Violons-27";
    let (code, out) = block_in_place(|| {
        run_as(&owner.name, &binary, &socket, &["change"], &["Faux-Courant-2026!", next, next])
    });
    assert_eq!(code, 11, "{out}\n{}", host.log());
    let after_refusal = sim.logins().len();
    assert_eq!(after_refusal, logins + 1, "one logon with the wrong password");
    // ...and no second current password is sent that day, even after a restart.
    for restart in [false, true] {
        if restart {
            block_in_place(|| host.stop());
            block_in_place(|| host.start(None));
            wait_as(&owner.name, &binary, &socket, &host, "périodique").await;
        }
        let (code, out) = block_in_place(|| {
            run_as(&owner.name, &binary, &socket, &["change"], &[NEW, next, next])
        });
        assert_eq!(code, 10, "refused locally (restart: {restart}): {out}");
        assert!(out.contains("demain"), "{out}");
        assert_eq!(sim.logins().len(), after_refusal, "nothing sent (restart: {restart})");
    }
    assert!(!sim.is_locked(MAILBOX));
    block_in_place(|| host.stop());
    sim.stop().await;
}

on_both_backends!(
    with agent_config;
    a_colleague_sees_and_changes_nothing_of_anothers_mailbox,
    a_greedy_or_silent_colleague_blocks_no_one,
    the_bound_owners_periodic_change_and_its_refused_password_limit,
);
