//! Production as in the source material, on the fleet `scripts/fleet --production` runs
//! on this machine (scripts/test starts it): each engine runs the examples in long-lived
//! containers whose service directory is a clone of a bare repository on the host. A
//! commit pushed there and rolled out with each container's UPDATE method is served by
//! every host; a commit VALIDATE rejects is served by none, each still answering from the
//! revision it had. The docker client reaches every engine over the transports the fleet
//! declares: unix sockets, TLS (and a wrong client certificate is refused at once), SSH
//! through a Host alias.
//!
//! The rollout here is the containers' own UPDATE run by `docker exec` on each host over
//! its preferred transport; `devloop update` across the fleet comes later.

mod common;
mod fleet_machine;

use std::path::Path;
use std::time::{Duration, Instant};

use fleet_machine::{
    Checkout, Fleet, FleetEngine, Transport, append_line, replace_in, revision_line, show, stderr,
    stdout,
};

/// How long refusing a wrong client certificate may take: the handshake, not a timeout.
const REFUSAL_WITHIN: Duration = Duration::from_secs(5);

/// A name unique to this test process, for listings and records the tests add.
fn unique(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .subsec_nanos();
    format!("{what}-{}-{nanos}", std::process::id())
}

/// Runs `f` on every engine at once (a rollout of batch size "all"), in engine order.
fn on_every_engine<T: Send>(
    fleet: &Fleet,
    f: impl Fn(&FleetEngine) -> T + Sync,
) -> Vec<(String, T)> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = fleet
            .engines
            .iter()
            .map(|engine| {
                let f = &f;
                (engine.name.clone(), scope.spawn(move || f(engine)))
            })
            .collect();
        handles
            .into_iter()
            .map(|(name, handle)| {
                let result = handle
                    .join()
                    .unwrap_or_else(|_| panic!("the thread of {name} panicked"));
                (name, result)
            })
            .collect()
    })
}

/// The UPDATE method of `container`, with DEVLOOP_REVISION when `revision` is given.
fn update(engine: &FleetEngine, container: &str, revision: Option<&str>) -> std::process::Output {
    let method = match container {
        "bind" => "/srv/named/bin/update",
        _ => "/service/bin/update",
    };
    let env: Vec<(&str, &str)> = revision
        .map(|r| ("DEVLOOP_REVISION", r))
        .into_iter()
        .collect();
    engine.exec(container, &env, &[method])
}

/// The revision `container` on `engine` serves, as its VALIDATE method says (and it passes).
fn served(engine: &FleetEngine, container: &str) -> String {
    let method = match container {
        "bind" => "/srv/named/bin/validate",
        _ => "/service/bin/validate",
    };
    let out = engine.look(container, &[method]);
    assert!(
        out.status.success(),
        "VALIDATE of {container} on {} fails\n{}",
        engine.name,
        show(&out)
    );
    revision_line(&stdout(&out))
        .unwrap_or_else(|| panic!("VALIDATE names no revision\n{}", show(&out)))
        .1
}

/// Leaves the repository's main branch on the example as it is in this checkout, however
/// the test ends: the fleet is shared, and the next user must not find a broken tip.
struct RestoreMain<'a>(&'a Checkout);

impl Drop for RestoreMain<'_> {
    fn drop(&mut self) {
        if !self.0.try_restore("main") {
            eprintln!(
                "could not put main back on the example: the next rollout may find a rejected tip"
            );
        }
    }
}

#[test]
fn every_engine_answers_over_each_transport_it_declares() {
    let fleet = Fleet::up();
    let declared =
        |pick: fn(&FleetEngine) -> bool| fleet.engines.iter().filter(|e| pick(e)).count();
    assert!(declared(|e| e.tls.is_some()) > 0, "no engine declares TLS");
    assert!(declared(|e| e.ssh.is_some()) > 0, "no engine declares SSH");

    for engine in &fleet.engines {
        for transport in engine.transports() {
            // The same engine, whatever the way in: its data root and its label.
            let out = engine.docker(
                transport,
                &["info", "--format", "{{.DockerRootDir}} {{json .Labels}}"],
            );
            assert!(
                out.status.success(),
                "{} over {transport:?}\n{}",
                engine.name,
                show(&out)
            );
            let said = stdout(&out);
            assert!(
                said.starts_with(&format!("{} ", engine.data_root))
                    && said.contains(&format!("devloop-fleet.engine={}", engine.name)),
                "{} over {} is another engine: {said}",
                engine.name,
                transport.host()
            );
        }
        if let Some(Transport::Tls { host, .. }) = &engine.tls {
            let wrong = Transport::Tls {
                host: host.clone(),
                certs: fleet.wrong_client_certs.clone(),
            };
            let started = Instant::now();
            let out = engine.docker(&wrong, &["version", "--format", "{{.Server.Version}}"]);
            assert!(
                !out.status.success(),
                "{host} accepted a client certificate of another CA\n{}",
                show(&out)
            );
            assert!(
                started.elapsed() < REFUSAL_WITHIN,
                "refusing the wrong certificate took {:?}",
                started.elapsed()
            );
            assert!(
                stderr(&out).contains("bad certificate"),
                "{host}: the refusal names the certificate\n{}",
                show(&out)
            );
            // And no certificate at all (plain HTTP to the TLS port) gets nothing either.
            let plain = engine.docker(
                &Transport::Plain(host.clone()),
                &["version", "--format", "{{.Server.Version}}"],
            );
            assert!(
                !plain.status.success() && !stdout(&plain).contains('.'),
                "{host} answered without TLS\n{}",
                show(&plain)
            );
        }
    }
}

#[test]
fn an_rbldnsd_revision_is_served_everywhere_and_a_rejected_one_nowhere() {
    let fleet = Fleet::production();
    let _lock = fleet.lock_production("rbldnsd");
    let checkout = Checkout::clone(&fleet, "rbldnsd");
    let _restore = RestoreMain(&checkout);
    let listed = format!("{}.example", unique("mx.rollout"));
    let query = |name: &str| format!("{name}.senderhost.bl.rbl");

    // A good revision on main: the example plus one listing.
    checkout.reset_to_example(|work| {
        append_line(
            &work.join("zones/bl"),
            &format!("{listed} :127.0.0.2:Rolled out"),
        );
    });
    let good = checkout.commit_and_push(&format!("list {listed}"), "main");
    let rollout = on_every_engine(&fleet, |engine| {
        let before = served(engine, "rbldnsd");
        (before, update(engine, "rbldnsd", None))
    });
    for (name, (before, out)) in &rollout {
        assert!(out.status.success(), "UPDATE on {name}\n{}", show(out));
        assert_eq!(
            revision_line(&stdout(out)),
            Some((before.clone(), good.clone())),
            "UPDATE on {name} says what it served before and after\n{}",
            show(out)
        );
    }
    on_every_engine(&fleet, |engine| {
        let answers = engine.rbldnsd_answers(&[&query(&listed)]);
        assert_eq!(answers, ["127.0.0.2"], "{}", engine.name);
        assert_eq!(served(engine, "rbldnsd"), good, "{}", engine.name);
    });

    // A revision VALIDATE rejects (the RFC 5782 test entry is gone), with a listing of its
    // own: no host serves any of it.
    let rejected_listing = format!("{}.example", unique("mx.rejected"));
    checkout.reset_to_example(|work| {
        let bl = work.join("zones/bl");
        append_line(&bl, &format!("{listed} :127.0.0.2:Rolled out"));
        append_line(&bl, &format!("{rejected_listing} :127.0.0.2:Never served"));
        replace_in(&bl, "\ntest :127.0.0.2:RFC 5782 test entry\n", "\n");
    });
    let bad = checkout.commit_and_push("drop the RFC 5782 test entry", "main");
    for (name, out) in on_every_engine(&fleet, |engine| update(engine, "rbldnsd", None)) {
        assert_eq!(
            out.status.code(),
            Some(1),
            "UPDATE on {name}\n{}",
            show(&out)
        );
        let said = stdout(&out);
        assert!(
            said.contains(&format!("FAIL update: revision {bad} failed validation")),
            "UPDATE on {name} says the revision was rejected\n{}",
            show(&out)
        );
        assert!(
            said.contains("FAIL test.senderhost.bl.rbl should be listed"),
            "{said}"
        );
        assert_eq!(
            revision_line(&said),
            Some((good.clone(), good.clone())),
            "{said}"
        );
    }
    on_every_engine(&fleet, |engine| {
        let answers = engine.rbldnsd_answers(&[
            &query(&rejected_listing),
            &query(&listed),
            "test.senderhost.bl.rbl",
        ]);
        assert_eq!(answers, ["", "127.0.0.2", "127.0.0.2"], "{}", engine.name);
        assert_eq!(served(engine, "rbldnsd"), good, "{}", engine.name);
    });

    // DEVLOOP_REVISION picks the revision, whatever the tip of main (still the rejected
    // one): a good commit on a branch of its own.
    let pinned_listing = format!("{}.example", unique("mx.pinned"));
    checkout.reset_to_example(|work| {
        append_line(
            &work.join("zones/bl"),
            &format!("{pinned_listing} :127.0.0.3:Pinned"),
        );
    });
    let branch = unique("pinned");
    let pinned = checkout.commit_and_push("a pinned revision", &branch);
    let outcomes = on_every_engine(&fleet, |engine| update(engine, "rbldnsd", Some(&pinned)));
    checkout.delete_branch(&branch);
    for (name, out) in &outcomes {
        assert!(out.status.success(), "UPDATE on {name}\n{}", show(out));
        assert_eq!(
            revision_line(&stdout(out)),
            Some((good.clone(), pinned.clone()))
        );
    }
    on_every_engine(&fleet, |engine| {
        let answers = engine.rbldnsd_answers(&[&query(&pinned_listing), &query(&listed)]);
        assert_eq!(answers, ["127.0.0.3", ""], "{}", engine.name);
    });
}

#[test]
fn a_bind_revision_is_served_everywhere_and_a_broken_zone_nowhere() {
    let fleet = Fleet::production();
    let _lock = fleet.lock_production("bind");
    let checkout = Checkout::clone(&fleet, "bind");
    let _restore = RestoreMain(&checkout);
    let zone_file = |work: &Path| work.join("zones/example.com.zone");
    // Serials only grow: seconds since the epoch are above the example's YYYYMMDDnn.
    let serial = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs();
    let record = unique("rollout");
    let with_record = |work: &Path, serial: u64| {
        replace_in(
            &zone_file(work),
            "2025010101 ; serial",
            &format!("{serial} ; serial"),
        );
        append_line(&zone_file(work), &format!("{record} IN A 192.0.2.77"));
    };

    checkout.reset_to_example(|work| with_record(work, serial));
    let good = checkout.commit_and_push(&format!("add {record}"), "main");
    for (name, out) in on_every_engine(&fleet, |engine| update(engine, "bind", None)) {
        assert!(out.status.success(), "UPDATE on {name}\n{}", show(&out));
        let said = stdout(&out);
        assert!(
            said.contains(&format!("ok   zone example.com: serving serial {serial}")),
            "{said}"
        );
        assert_eq!(
            revision_line(&said).map(|r| r.1),
            Some(good.clone()),
            "{said}"
        );
    }
    on_every_engine(&fleet, |engine| {
        let name = format!("{record}.example.com");
        let answers = engine.bind_answers(&[(&name, "A")]);
        assert_eq!(answers, ["192.0.2.77"], "{}", engine.name);
        assert_eq!(served(engine, "bind"), good, "{}", engine.name);
    });

    // A zone named-checkzone rejects: no host reloads, each serves the good revision.
    let broken = unique("broken");
    checkout.reset_to_example(|work| {
        with_record(work, serial + 1);
        append_line(&zone_file(work), &format!("{broken} IN A 192.0.2.777"));
    });
    let bad = checkout.commit_and_push("a broken address", "main");
    for (name, out) in on_every_engine(&fleet, |engine| update(engine, "bind", None)) {
        assert_eq!(
            out.status.code(),
            Some(1),
            "UPDATE on {name}\n{}",
            show(&out)
        );
        let said = stdout(&out);
        assert!(
            said.contains(&format!(
                "FAIL update: revision {bad} failed validation; named not reloaded"
            )),
            "{said}"
        );
        assert!(
            said.contains("bad dotted quad"),
            "the checker's complaint is shown\n{said}"
        );
        assert_eq!(
            revision_line(&said),
            Some((good.clone(), good.clone())),
            "{said}"
        );
    }
    on_every_engine(&fleet, |engine| {
        let soa = &engine.bind_answers(&[("example.com", "SOA")])[0];
        assert!(
            soa.contains(&format!(" {serial} ")),
            "{}: {soa}",
            engine.name
        );
        assert_eq!(served(engine, "bind"), good, "{}", engine.name);
    });
}
