//! The agent's story when life gets in the way, with the real binaries: the workstation loses its
//! server for a week (the change still happens, the reports wait in the outbox, survive a
//! `kill -9`, and reach the server in order once it is back, after the agent recovers the
//! certificate that expired meanwhile), and the person plugs the clé REAL back in while Exchange is
//! still changing the password (the step finishes, nothing new starts, the person is told what to
//! do).

use std::time::Duration;

use tokio::task::block_in_place;

use super::agent_story::{
    MAILBOX, NEW, agent_config, assert_no_secret, roll_out, roll_out_via, wait_for_agent,
    wait_for_delivery, wait_for_rotation,
};
use crate::TestServer;
use crate::agent_host::{change_at, umockdev_available};
use crate::link::Link;
use crate::owa_sim::{OwaSim, SimOptions};

/// The steps the server recorded for the mailbox's provisional rotation, in the order it lists
/// its events, with when the agent says each happened.
fn provisional_steps(shown: &serde_json::Value) -> Vec<(String, String)> {
    let rotation = shown["rotations"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["kind"] == "provisional")
        .and_then(|r| r["id"].as_str())
        .unwrap_or_default()
        .to_owned();
    shown["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["rotation_id"].as_str() == Some(rotation.as_str()))
        .map(|e| {
            (
                e["step"].as_str().unwrap_or_default().to_owned(),
                e["occurred_at"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn a_week_offline_then_back(server: &TestServer) {
    if !umockdev_available() {
        return;
    }
    let sim = OwaSim::start(SimOptions { host: "localhost".into(), ..SimOptions::default() }).await;
    let link = Link::start(server.address).await;
    let (mut host, provisional) = roll_out_via(server, &sim, &link.url()).await;
    block_in_place(|| host.start(None));
    wait_for_delivery(&host).await;

    // The office's line to the server goes down; Exchange is still there.
    link.cut();
    let (code, out) = block_in_place(|| host.change(&[&provisional, NEW, NEW], &[]));
    assert_eq!(code, 0, "the change needs no server: {out}\n{}", host.log());
    assert_eq!(sim.password_of(MAILBOX).as_deref(), Some(NEW), "the ground truth");
    block_in_place(|| host.plug());
    let waiting = wait_for_agent(&host, ": terminé").await;
    assert!(waiting.contains("en attente d'envoi au serveur"), "{waiting}");

    // A week passes, the line still down: the workstation is switched off (as a crash would:
    // `kill -9`) and on again eight days later, by both clocks. Its certificate (seven days) has
    // expired meanwhile.
    block_in_place(|| host.kill());
    server.clock.advance(time::Duration::days(8));
    let week = (8 * 24 * 3600).to_string();
    block_in_place(|| host.start_with(None, &[("SESAME_AGENT_CLOCK_OFFSET_SECONDS", &week)]));
    let status = wait_for_agent(&host, "en attente d'envoi au serveur").await;
    assert!(status.contains("pas encore transmis"), "the outbox survived the restart: {status}");
    let before = super::agent_story::mailbox_json(server, MAILBOX).await;
    assert!(
        !provisional_steps(&before).iter().any(|(step, _)| step == "changed"),
        "nothing reached the server while offline: {before:#}"
    );

    // The line comes back; the agent, backing off meanwhile, gets through by itself: it recovers
    // its certificate with its registered key, then delivers the reports in order.
    assert!(link.refused() > 0, "the agent kept trying while offline");
    link.restore();
    let mut shown = wait_for_rotation(server, &host, "provisional", "completed").await;
    // The rotation closes at VERIFIED; the agent's COMPLETED may come in its next delivery.
    for _ in 0..600 {
        if provisional_steps(&shown).iter().any(|(step, _)| step == "completed") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        shown = super::agent_story::mailbox_json(server, MAILBOX).await;
    }
    let steps = provisional_steps(&shown);
    let names: Vec<&str> = steps.iter().map(|(step, _)| step.as_str()).collect();
    let order = ["started", "changed", "verified", "completed"];
    let positions: Vec<usize> = order
        .iter()
        .map(|s| names.iter().position(|n| n == s).unwrap_or_else(|| panic!("{s}: {shown:#}")))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "delivered in order: {names:?}");
    let times: Vec<&str> = order
        .iter()
        .map(|s| steps.iter().find(|(n, _)| n == s).map(|(_, at)| at.as_str()).unwrap_or(""))
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in the order they happened: {times:?}");
    assert_eq!(shown["last_verified_change"]["kind"], "provisional", "{shown:#}");
    assert!(
        host.log().contains("identity recovered"),
        "the expired certificate was recovered:\n{}",
        host.log()
    );
    let status = wait_for_agent(&host, "reçu par le serveur").await;
    assert!(!status.contains("en attente d'envoi"), "{status}");
    assert_eq!(sim.changes().len(), 1, "exactly one change");

    block_in_place(|| host.stop());
    assert_no_secret(server, &host, &[&provisional, NEW]).await;
    sim.stop().await;
}

async fn the_key_plugged_in_mid_change(server: &TestServer) {
    if !umockdev_available() {
        return;
    }
    let sim = OwaSim::start(SimOptions {
        host: "localhost".into(),
        change_delay: Duration::from_secs(2),
        ..SimOptions::default()
    })
    .await;
    let (mut host, provisional) = roll_out(server, &sim).await;
    block_in_place(|| host.start(None));
    wait_for_delivery(&host).await;

    // The person types the passwords, then plugs the key back in while Exchange works.
    let change = {
        let (socket, provisional) = (host.socket(), provisional.clone());
        std::thread::spawn(move || change_at(&socket, &[&provisional, NEW, NEW], &[]))
    };
    for _ in 0..100 {
        if sim.requests().iter().any(|r| {
            r.method == "POST" && r.path_and_query.starts_with("/owa/auth/expiredpassword.aspx")
        }) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    block_in_place(|| host.plug());
    let (code, out) = block_in_place(|| change.join().unwrap());

    // The step in flight finished (changed, verified, logged off); nothing else was started.
    assert_eq!(code, 0, "{out}\n{}", host.log());
    assert!(out.contains("rebranchée pendant le changement"), "{out}");
    assert!(out.contains("Outlook"), "{out}");
    assert_eq!(sim.password_of(MAILBOX).as_deref(), Some(NEW), "the ground truth");
    assert_eq!(sim.changes().len(), 1, "exactly one change");
    assert!(!sim.is_locked(MAILBOX));
    let shown = wait_for_rotation(server, &host, "provisional", "completed").await;
    assert_eq!(shown["last_verified_change"]["kind"], "provisional", "{shown:#}");

    block_in_place(|| host.stop());
    assert_no_secret(server, &host, &[&provisional, NEW]).await;
    sim.stop().await;
}

on_both_backends!(
    with agent_config;
    a_week_offline_then_back,
    the_key_plugged_in_mid_change,
);
