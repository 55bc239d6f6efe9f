//! The benchmarks' fleet: 10,000 offices of 10 mailboxes each (100,000 mailboxes), created through
//! the whole path (offices over TLS gRPC, mailboxes by `sesamectl mailbox import`). Shared by the
//! benches that measure the fleet at scale; each includes it with `#[path = "common/fleet.rs"]`.

use std::time::{Duration, Instant};

use sesame_proto::v1 as pb;
use sesame_tests::{TestServer, write_file};
use sesamectl::AdminClient;

/// Offices in the fleet.
pub(crate) const OFFICES: usize = 10_000;
/// Mailboxes in each office.
pub(crate) const PER_OFFICE: usize = 10;

/// The CRPCEN of the `i`th office: `10000`, `10001`, …
pub(crate) fn crpcen(i: usize) -> String {
    format!("{:05}", 10_000 + i)
}

/// The import file: every office's mailboxes.
fn csv() -> String {
    let mut csv = String::from("address,display_name\n");
    for office in 0..OFFICES {
        for person in 0..PER_OFFICE {
            csv.push_str(&format!(
                "nom{person}.prenom@{}.mailnot.fr,Prénom Nom {person}\n",
                crpcen(office)
            ));
        }
    }
    csv
}

/// Creates the offices (`Étude {i}`) and imports their mailboxes; returns how long it took.
pub(crate) async fn fill(server: &TestServer, client: &mut AdminClient) -> Duration {
    let started = Instant::now();
    for i in 0..OFFICES {
        let request = pb::CreateOfficeRequest {
            crpcen: crpcen(i),
            name: format!("Étude {i}"),
            city: String::new(),
        };
        client.create_office(request).await.unwrap();
    }
    let file = write_file(server.data_dir(), "bench.csv", &csv());
    server.sesamectl(&["mailbox", "import", file.to_str().unwrap()]).await.unwrap();
    started.elapsed()
}
