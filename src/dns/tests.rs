//! Queries against the in-process server of `testserver`, and the pure helpers.

use std::error::Error;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use regex::Regex;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, UdpSocket};
use tokio::time::Instant;

use super::testserver::TestServer;
use super::*;

type TestResult = Result<(), Box<dyn Error>>;

const RBL_HOST: &str = "sh8.mailingliststart.com.senderhost.bl.rbl";

fn question(server: &TestServer, name: &str, kind: RecordKind) -> Query {
    Query {
        name: name.to_owned(),
        kind,
        udp: Some(server.udp),
        tcp: Some(server.tcp),
        transport: Transport::UdpThenTcp,
        timeout: Duration::from_secs(2),
    }
}

async fn ask(server: &TestServer, name: &str, kind: RecordKind) -> Result<Answer, DnsError> {
    query(&question(server, name, kind)).await
}

fn values(list: &[&str]) -> Vec<String> {
    list.iter().map(|v| (*v).to_owned()).collect()
}

fn mismatch(expected: &str, got: &str) -> Result<(), Mismatch> {
    Err(Mismatch {
        expected: expected.to_owned(),
        got: got.to_owned(),
    })
}

/// A port nothing listens on: bound, then released.
async fn closed_tcp_port() -> Result<SocketAddr, Box<dyn Error>> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    Ok(listener.local_addr()?)
}

/// A timeout longer than the clock can count is "no limit", not a panic.
#[tokio::test]
async fn a_timeout_beyond_the_clock_still_gets_the_answer() -> TestResult {
    let server = TestServer::start().await?;
    for transport in [Transport::Udp, Transport::Tcp] {
        let query = Query {
            transport,
            timeout: Duration::MAX,
            ..question(&server, RBL_HOST, RecordKind::A)
        };
        assert_eq!(query_answer_rcode(&query).await?, "NOERROR");
    }
    Ok(())
}

async fn query_answer_rcode(q: &Query) -> Result<String, DnsError> {
    Ok(query(q).await?.rcode)
}

#[tokio::test]
async fn exact_a_answer_passes_and_reads_like_dig() -> TestResult {
    let server = TestServer::start().await?;
    let answer = ask(&server, RBL_HOST, RecordKind::A).await?;

    assert_eq!(answer.rcode, "NOERROR");
    assert!(answer.authoritative);
    assert!(!answer.truncated && !answer.via_tcp);
    assert_eq!(
        evaluate(
            &[Expectation::Records(values(&["127.0.0.2"]))],
            &answer,
            RecordKind::A
        ),
        Ok(())
    );
    assert_eq!(
        describe(&answer),
        "sh8.mailingliststart.com.senderhost.bl.rbl. 2100 IN A 127.0.0.2"
    );
    Ok(())
}

#[tokio::test]
async fn exact_answers_ignore_order_but_not_extra_records() -> TestResult {
    let server = TestServer::start().await?;
    let answer = ask(&server, "two.test", RecordKind::A).await?;

    let both = Expectation::Records(values(&["127.0.0.4", "127.0.0.3"]));
    assert_eq!(evaluate(&[both], &answer, RecordKind::A), Ok(()));
    let one = Expectation::Records(values(&["127.0.0.2"]));
    assert_eq!(
        evaluate(&[one], &answer, RecordKind::A),
        mismatch("A 127.0.0.2", "A 127.0.0.3, A 127.0.0.4")
    );
    let subset = Expectation::Records(values(&["127.0.0.3"]));
    assert!(evaluate(&[subset], &answer, RecordKind::A).is_err());
    Ok(())
}

#[tokio::test]
async fn exact_answer_against_nxdomain_says_nxdomain() -> TestResult {
    let server = TestServer::start().await?;
    let answer = ask(&server, "unlisted.test", RecordKind::A).await?;

    let result = evaluate(
        &[Expectation::Records(values(&["127.0.0.2"]))],
        &answer,
        RecordKind::A,
    );
    assert_eq!(result, mismatch("A 127.0.0.2", "NXDOMAIN"));
    assert_eq!(
        result.err().map(|m| m.to_string()).as_deref(),
        Some("expected A 127.0.0.2, got NXDOMAIN")
    );
    assert_eq!(describe(&answer), "NXDOMAIN");
    Ok(())
}

#[tokio::test]
async fn txt_strings_are_joined_and_matched_by_pattern() -> TestResult {
    let server = TestServer::start().await?;
    let answer = ask(&server, RBL_HOST, RecordKind::Txt).await?;

    assert_eq!(answer.records.len(), 1);
    assert_eq!(answer.records[0].data, "listed: spam source");
    let pattern = |p: &str| Regex::new(p).map(Expectation::Pattern);
    assert_eq!(
        evaluate(&[pattern("spam")?], &answer, RecordKind::Txt),
        Ok(())
    );
    assert_eq!(
        evaluate(&[pattern("^ham")?], &answer, RecordKind::Txt),
        mismatch(
            "a TXT record matching /^ham/",
            r#"TXT "listed: spam source""#
        )
    );
    // TXT is compared exactly: case matters.
    let exact = Expectation::Records(values(&["listed: spam source"]));
    assert_eq!(evaluate(&[exact], &answer, RecordKind::Txt), Ok(()));
    let shouting = Expectation::Records(values(&["LISTED: SPAM SOURCE"]));
    assert!(evaluate(&[shouting], &answer, RecordKind::Txt).is_err());
    assert_eq!(
        describe(&answer),
        r#"sh8.mailingliststart.com.senderhost.bl.rbl. 2100 IN TXT "listed: spam source""#
    );
    Ok(())
}

#[tokio::test]
async fn nxdomain_expectation() -> TestResult {
    let server = TestServer::start().await?;
    let missing = ask(&server, "unlisted.test", RecordKind::A).await?;
    assert_eq!(missing.rcode, "NXDOMAIN");
    assert_eq!(
        evaluate(&[Expectation::NxDomain], &missing, RecordKind::A),
        Ok(())
    );

    let listed = ask(&server, RBL_HOST, RecordKind::A).await?;
    assert_eq!(
        evaluate(&[Expectation::NxDomain], &listed, RecordKind::A),
        mismatch("NXDOMAIN", "A 127.0.0.2")
    );
    Ok(())
}

#[tokio::test]
async fn nodata_expectation() -> TestResult {
    let server = TestServer::start().await?;
    let answer = ask(&server, "nodata.test", RecordKind::Txt).await?;

    assert_eq!(answer.rcode, "NOERROR");
    assert!(answer.records.is_empty());
    assert_eq!(
        evaluate(&[Expectation::NoData], &answer, RecordKind::Txt),
        Ok(())
    );
    assert_eq!(
        evaluate(&[Expectation::NxDomain], &answer, RecordKind::Txt),
        mismatch("NXDOMAIN", "NOERROR, no TXT records")
    );
    assert_eq!(
        evaluate(&[Expectation::Answered], &answer, RecordKind::Txt),
        mismatch("at least one TXT record", "NOERROR, no TXT records")
    );
    assert_eq!(describe(&answer), "NOERROR, no records");
    Ok(())
}

#[tokio::test]
async fn rcode_expectation() -> TestResult {
    let server = TestServer::start().await?;
    let refused = ask(&server, "refused.test", RecordKind::A).await?;
    assert_eq!(refused.rcode, "REFUSED");
    assert!(!refused.authoritative);
    let rcode = |r: &str| Expectation::Rcode(r.to_owned());
    assert_eq!(
        evaluate(&[rcode("refused")], &refused, RecordKind::A),
        Ok(())
    );
    assert_eq!(
        evaluate(&[rcode("NOERROR")], &refused, RecordKind::A),
        mismatch("NOERROR", "REFUSED")
    );

    let listed = ask(&server, RBL_HOST, RecordKind::A).await?;
    assert_eq!(
        evaluate(&[rcode("servfail")], &listed, RecordKind::A),
        mismatch("SERVFAIL", "NOERROR: A 127.0.0.2")
    );
    Ok(())
}

#[tokio::test]
async fn ttl_expectation() -> TestResult {
    let server = TestServer::start().await?;
    let listed = ask(&server, RBL_HOST, RecordKind::A).await?;
    assert_eq!(
        evaluate(&[Expectation::Ttl(2100)], &listed, RecordKind::A),
        Ok(())
    );

    let mixed = ask(&server, "mixed-ttl.test", RecordKind::A).await?;
    assert_eq!(
        evaluate(&[Expectation::Ttl(60)], &mixed, RecordKind::A),
        mismatch(
            "TTL 60 on every A record",
            "A 127.0.0.5 (TTL 60), A 127.0.0.6 (TTL 120)"
        )
    );

    let missing = ask(&server, "unlisted.test", RecordKind::A).await?;
    assert_eq!(
        evaluate(&[Expectation::Ttl(60)], &missing, RecordKind::A),
        mismatch("TTL 60 on every A record", "NXDOMAIN")
    );
    Ok(())
}

#[tokio::test]
async fn any_of_expectation() -> TestResult {
    let server = TestServer::start().await?;
    let answer = ask(&server, "two.test", RecordKind::A).await?;

    let hit = Expectation::AnyOf(values(&["127.0.0.9", "127.0.0.4"]));
    assert_eq!(evaluate(&[hit], &answer, RecordKind::A), Ok(()));
    let miss = Expectation::AnyOf(values(&["127.0.0.8", "127.0.0.9"]));
    assert_eq!(
        evaluate(&[miss], &answer, RecordKind::A),
        mismatch("A 127.0.0.8 or A 127.0.0.9", "A 127.0.0.3, A 127.0.0.4")
    );
    Ok(())
}

#[tokio::test]
async fn the_first_failing_expectation_is_reported() -> TestResult {
    let server = TestServer::start().await?;
    let answer = ask(&server, RBL_HOST, RecordKind::A).await?;

    let expectations = [
        Expectation::Answered,
        Expectation::Ttl(2100),
        Expectation::Ttl(1),
        Expectation::NxDomain,
    ];
    assert_eq!(
        evaluate(&expectations, &answer, RecordKind::A).map_err(|m| m.expected),
        Err("TTL 1 on every A record".to_owned())
    );
    Ok(())
}

#[tokio::test]
async fn names_compare_without_case_or_trailing_dot() -> TestResult {
    let server = TestServer::start().await?;
    let mx = ask(&server, "mail.test", RecordKind::Mx).await?;
    assert_eq!(mx.records[0].data, "10 mx.test.");
    let expect = |v: &str| Expectation::Records(values(&[v]));
    assert_eq!(
        evaluate(&[expect("10 MX.test")], &mx, RecordKind::Mx),
        Ok(())
    );
    assert_eq!(
        evaluate(&[expect("10 mx.test.")], &mx, RecordKind::Mx),
        Ok(())
    );
    assert!(evaluate(&[expect("20 mx.test")], &mx, RecordKind::Mx).is_err());

    let cname = ask(&server, "ALIAS.test.", RecordKind::Cname).await?;
    assert_eq!(
        evaluate(&[expect("two.test")], &cname, RecordKind::Cname),
        Ok(())
    );

    let v6 = ask(&server, "v6.test", RecordKind::Aaaa).await?;
    assert_eq!(
        evaluate(&[expect("2001:DB8:0::1")], &v6, RecordKind::Aaaa),
        Ok(())
    );

    let soa = ask(&server, "test", RecordKind::Soa).await?;
    assert_eq!(
        soa.records[0].data,
        "ns.test. hostmaster.test. 2024010101 3600 600 86400 300"
    );
    Ok(())
}

#[tokio::test]
async fn only_records_of_the_queried_type_count() -> TestResult {
    let server = TestServer::start().await?;
    let answer = ask(&server, "alias.test", RecordKind::A).await?;

    assert_eq!(answer.records.len(), 3, "{answer:?}");
    assert_eq!(answer.records[0].kind, "CNAME");
    let both = Expectation::Records(values(&["127.0.0.3", "127.0.0.4"]));
    assert_eq!(evaluate(&[both], &answer, RecordKind::A), Ok(()));

    let txt = ask(&server, "alias.test", RecordKind::Txt).await?;
    assert_eq!(
        evaluate(&[Expectation::Answered], &txt, RecordKind::Txt),
        mismatch(
            "at least one TXT record",
            "NOERROR, no TXT records (the answer holds CNAME two.test.)"
        )
    );
    Ok(())
}

#[tokio::test]
async fn any_query_compares_against_every_record() -> TestResult {
    let server = TestServer::start().await?;
    let answer = ask(&server, RBL_HOST, RecordKind::Any).await?;

    assert_eq!(answer.records.len(), 2);
    let text = Expectation::AnyOf(values(&["listed: spam source"]));
    let address = Expectation::AnyOf(values(&["127.0.0.2"]));
    assert_eq!(evaluate(&[text, address], &answer, RecordKind::Any), Ok(()));
    let exact = Expectation::Records(values(&["127.0.0.2"]));
    assert_eq!(
        evaluate(&[exact], &answer, RecordKind::Any),
        mismatch("127.0.0.2", r#"A 127.0.0.2, TXT "listed: spam source""#)
    );
    Ok(())
}

#[tokio::test]
async fn truncated_udp_reply_is_asked_again_over_tcp() -> TestResult {
    let server = TestServer::start().await?;
    let answer = ask(&server, "big.test", RecordKind::Txt).await?;

    assert!(answer.via_tcp);
    assert!(!answer.truncated);
    assert_eq!(answer.records.len(), 40);
    assert_eq!(
        evaluate(&[Expectation::Answered], &answer, RecordKind::Txt),
        Ok(())
    );
    Ok(())
}

#[tokio::test]
async fn truncated_reply_without_a_tcp_port_is_reported_as_truncated() -> TestResult {
    let server = TestServer::start().await?;
    let mut q = question(&server, "big.test", RecordKind::Txt);
    q.tcp = None;
    let answer = query(&q).await?;

    assert!(answer.truncated);
    assert!(!answer.via_tcp);
    assert!(answer.records.is_empty());
    assert_eq!(
        evaluate(&[Expectation::Answered], &answer, RecordKind::Txt),
        mismatch(
            "at least one TXT record",
            "NOERROR, no TXT records (truncated reply, and no TCP port to ask again)"
        )
    );

    // Plain UDP never retries, even with a TCP port at hand.
    let mut udp_only = question(&server, "big.test", RecordKind::Txt);
    udp_only.transport = Transport::Udp;
    assert!(query(&udp_only).await?.truncated);
    Ok(())
}

#[tokio::test]
async fn tcp_transport_and_tcp_only_ports() -> TestResult {
    let server = TestServer::start().await?;
    let mut q = question(&server, RBL_HOST, RecordKind::A);
    q.transport = Transport::Tcp;
    let answer = query(&q).await?;
    assert!(answer.via_tcp);
    assert_eq!(answer.records[0].data, "127.0.0.2");

    // With only a TCP port published, UdpThenTcp goes straight to TCP.
    let mut tcp_only = question(&server, RBL_HOST, RecordKind::A);
    tcp_only.udp = None;
    assert!(query(&tcp_only).await?.via_tcp);
    Ok(())
}

#[tokio::test]
async fn silent_udp_server_times_out_quickly() -> TestResult {
    let silent = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = silent.local_addr()?;
    let q = Query {
        name: RBL_HOST.to_owned(),
        kind: RecordKind::A,
        udp: Some(addr),
        tcp: None,
        transport: Transport::UdpThenTcp,
        timeout: Duration::from_millis(300),
    };

    let started = Instant::now();
    let error = query(&q).await.err().ok_or("a silent server answered")?;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        matches!(error, DnsError::Timeout { server, after }
            if server == Endpoint { addr, tcp: false } && after == Duration::from_millis(300)),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!("no answer from {addr}/udp within 300ms")
    );
    // The query was sent three times: once, then at 100ms and 200ms.
    let mut buf = [0u8; 512];
    for _ in 0..3 {
        silent.try_recv(&mut buf)?;
    }
    assert!(silent.try_recv(&mut buf).is_err());
    Ok(())
}

#[tokio::test]
async fn datagram_with_another_id_is_ignored() -> TestResult {
    let server = TestServer::start().await?;
    let answer = ask(&server, "wrongid.test", RecordKind::A).await?;

    let data: Vec<&str> = answer.records.iter().map(|r| r.data.as_str()).collect();
    assert_eq!(data, ["127.0.0.2"]);
    Ok(())
}

#[tokio::test]
async fn dropped_datagram_is_sent_again() -> TestResult {
    let server = TestServer::start().await?;
    let mut q = question(&server, "dropfirst.test", RecordKind::A);
    q.timeout = Duration::from_millis(600);
    let answer = query(&q).await?;

    assert!(!answer.via_tcp);
    assert_eq!(answer.records[0].data, "127.0.0.2");
    assert!(answer.elapsed >= Duration::from_millis(200));
    Ok(())
}

#[tokio::test]
async fn tcp_connection_refused_and_closed_are_io_errors() -> TestResult {
    let closed = closed_tcp_port().await?;
    let q = Query {
        name: RBL_HOST.to_owned(),
        kind: RecordKind::A,
        udp: None,
        tcp: Some(closed),
        transport: Transport::Tcp,
        timeout: Duration::from_secs(1),
    };
    let error = query(&q).await.err().ok_or("a closed port answered")?;
    assert!(matches!(error, DnsError::Io { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot query {closed}/tcp: ")),
        "{error}"
    );

    // What docker-proxy does while nothing listens in the container: accept, then close.
    // The query is read first so that the close is a FIN, not a reset.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let hangs_up = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut query = [0u8; 2];
            let _ = stream.read_exact(&mut query).await;
            let mut rest = vec![0u8; usize::from(u16::from_be_bytes(query))];
            let _ = stream.read_exact(&mut rest).await;
        }
    });
    let error = query(&Query {
        tcp: Some(hangs_up),
        ..q
    })
    .await
    .err()
    .ok_or("a closed connection answered")?;
    assert_eq!(
        error.to_string(),
        format!("cannot query {hangs_up}/tcp: the connection was closed before a complete reply")
    );
    Ok(())
}

#[tokio::test]
async fn missing_ports_and_bad_names_fail_before_sending() -> TestResult {
    let mut q = Query {
        name: RBL_HOST.to_owned(),
        kind: RecordKind::A,
        udp: None,
        tcp: None,
        transport: Transport::Udp,
        timeout: Duration::from_secs(1),
    };
    let error = query(&q).await.err().ok_or("no port, yet an answer")?;
    assert_eq!(error.to_string(), "no UDP port is published for DNS");

    q.udp = Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 9)));
    q.name = "$(touch /tmp/pwned)".to_owned();
    let error = query(&q).await.err().ok_or("a bad name was sent")?;
    assert!(matches!(error, DnsError::Name(NameError::BadChar { .. })));
    Ok(())
}

#[tokio::test]
async fn probe_reports_any_reply() -> TestResult {
    let server = TestServer::start().await?;
    let tiny = Duration::from_millis(200);
    assert!(probe(server.udp, false, "ready.test", tiny).await);
    assert!(probe(server.tcp, true, "refused.test", tiny).await);

    let silent = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let started = Instant::now();
    assert!(!probe(silent.local_addr()?, false, "ready.test", tiny).await);
    assert!(started.elapsed() < Duration::from_millis(500));
    assert!(!probe(closed_tcp_port().await?, true, "ready.test", tiny).await);
    assert!(!probe(server.udp, false, "bad name", tiny).await);
    Ok(())
}

#[test]
fn rbl_names() {
    assert_eq!(
        rbl_name("1.2.3.4", "bl.rbl").as_deref(),
        Ok("4.3.2.1.bl.rbl")
    );
    assert_eq!(
        rbl_name("127.0.0.2", "zen.example.").as_deref(),
        Ok("2.0.0.127.zen.example.")
    );
    assert_eq!(
        rbl_name("sh8.mailingliststart.com", "senderhost.bl.rbl").as_deref(),
        Ok(RBL_HOST)
    );
    assert_eq!(
        rbl_name("sh8.mailingliststart.com.", "senderhost.bl.rbl").as_deref(),
        Ok(RBL_HOST)
    );
    assert_eq!(
        rbl_name("2001:db8::1", "v6.bl").as_deref(),
        Ok("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.v6.bl")
    );
    assert!(rbl_name("a;b", "bl.rbl").is_err());
    assert!(rbl_name("1.2.3.4", "").is_err());
    assert!(rbl_name("1.2.3.4", "bl rbl").is_err());
}

#[test]
fn validate_name_refuses_what_is_not_a_plain_name() {
    let refused = [
        "$(touch /tmp/pwned)",
        "a;b",
        "",
        ".",
        "a..b",
        ".a",
        &"x".repeat(64),
        "ä.com",
        "a b",
        "a/b",
        "'quoted'",
        "back`tick`",
    ];
    for name in refused {
        assert!(validate_name(name).is_err(), "{name:?} was accepted");
    }
    let long_name = vec!["a".repeat(63); 4].join(".");
    assert_eq!(long_name.len(), 255);
    assert!(matches!(
        validate_name(&long_name),
        Err(NameError::TooLong { length: 255, .. })
    ));

    for name in [
        "sh8.mailingliststart.com",
        "_dmarc.example.com",
        "1.2.3.4.bl.rbl",
        "example.com.",
        "-odd-.bl.rbl",
        &"x".repeat(63),
    ] {
        assert_eq!(validate_name(name), Ok(()), "{name:?}");
    }
}

#[test]
fn validate_name_says_what_is_wrong() {
    let message = |name: &str| validate_name(name).err().map(|e| e.to_string());
    assert_eq!(
        message("$(touch /tmp/pwned)").as_deref(),
        Some(
            r#"invalid DNS name "$(touch /tmp/pwned)": character 1 '$' is a shell metacharacter; a name holds only letters, digits, '-', '_' and dots"#
        )
    );
    assert_eq!(
        validate_name("a..b"),
        Err(NameError::EmptyLabel {
            name: "a..b".to_owned(),
            position: 3
        })
    );
    assert!(matches!(
        validate_name("ä.com"),
        Err(NameError::BadChar { ch: 'ä', position: 1, why, .. }) if why.contains("xn--")
    ));
    assert!(matches!(
        validate_name(&format!("ok.{}", "y".repeat(64))),
        Err(NameError::LabelTooLong { length: 64, .. })
    ));
    assert_eq!(message("").as_deref(), Some("a DNS name cannot be empty"));
}

#[test]
fn record_kinds_parse_and_print() {
    assert_eq!("aaaa".parse::<RecordKind>(), Ok(RecordKind::Aaaa));
    assert_eq!("Txt".parse::<RecordKind>(), Ok(RecordKind::Txt));
    for kind in RecordKind::ALL {
        assert_eq!(kind.to_string().parse::<RecordKind>(), Ok(kind));
    }
    let error = "HINFO".parse::<RecordKind>().err().map(|e| e.to_string());
    assert_eq!(
        error.as_deref(),
        Some(
            r#"unknown record type "HINFO": expected one of A, AAAA, TXT, MX, NS, SOA, PTR, CNAME, ANY, SRV, CAA"#
        )
    );
}

#[test]
fn dig_command_lines() {
    let udp = SocketAddr::from((Ipv4Addr::LOCALHOST, 32768));
    let tcp = SocketAddr::from((Ipv4Addr::LOCALHOST, 32769));
    let mut q = Query {
        name: "sh8.x.bl.rbl".to_owned(),
        kind: RecordKind::A,
        udp: Some(udp),
        tcp: Some(tcp),
        transport: Transport::UdpThenTcp,
        timeout: Duration::from_secs(2),
    };
    assert_eq!(
        dig_command(&q),
        "dig @127.0.0.1 -p 32768 +norecurse sh8.x.bl.rbl A"
    );
    q.transport = Transport::Tcp;
    q.kind = RecordKind::Txt;
    assert_eq!(
        dig_command(&q),
        "dig @127.0.0.1 -p 32769 +norecurse +tcp sh8.x.bl.rbl TXT"
    );
    q.name = "it's $(bad)".to_owned();
    assert_eq!(
        dig_command(&q),
        r"dig @127.0.0.1 -p 32769 +norecurse +tcp 'it'\''s $(bad)' TXT"
    );
}

#[test]
fn durations_read_like_a_person_wrote_them() {
    assert_eq!(human_duration(Duration::from_secs(2)), "2s");
    assert_eq!(human_duration(Duration::from_millis(300)), "300ms");
    assert_eq!(human_duration(Duration::from_millis(1500)), "1.5s");
}
