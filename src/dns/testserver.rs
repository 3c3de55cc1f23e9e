//! A small authoritative DNS server for the tests: UDP and TCP on 127.0.0.1, answering from
//! a fixed table, with a few names that misbehave on purpose.
//!
//! | name                                        | behaviour                                  |
//! |---------------------------------------------|--------------------------------------------|
//! | sh8.mailingliststart.com.senderhost.bl.rbl  | A 127.0.0.2 and a two-string TXT, TTL 2100 |
//! | two.test                                    | A 127.0.0.3 and 127.0.0.4                  |
//! | mixed-ttl.test                              | two A records with TTLs 60 and 120         |
//! | alias.test                                  | CNAME two.test.                            |
//! | big.test                                    | 40 TXT records: TC over UDP, full over TCP |
//! | wrongid.test                                | over UDP, a decoy with another id first    |
//! | dropfirst.test                              | the first UDP query is dropped             |
//! | refused.test                                | REFUSED                                    |
//! | anything else outside the table             | NXDOMAIN with the SOA of test.             |

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

pub(super) struct TestServer {
    pub(super) udp: SocketAddr,
    pub(super) tcp: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl TestServer {
    pub(super) async fn start() -> io::Result<Self> {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let state = Arc::new(State::default());
        let (udp_addr, tcp_addr) = (udp.local_addr()?, tcp.local_addr()?);
        let udp_task = tokio::spawn(serve_udp(udp, Arc::clone(&state)));
        let tcp_task = tokio::spawn(serve_tcp(tcp, state));
        Ok(Self {
            udp: udp_addr,
            tcp: tcp_addr,
            tasks: vec![udp_task, tcp_task],
        })
    }
}

#[derive(Default)]
struct State {
    dropped_first: AtomicBool,
}

async fn serve_udp(socket: UdpSocket, state: Arc<State>) {
    let mut buf = vec![0u8; 65535];
    while let Ok((len, peer)) = socket.recv_from(&mut buf).await {
        let Ok(request) = Message::from_vec(&buf[..len]) else {
            continue;
        };
        for datagram in respond(&request, false, &state) {
            if socket.send_to(&datagram, peer).await.is_err() {
                break;
            }
        }
    }
}

async fn serve_tcp(listener: TcpListener, state: Arc<State>) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(serve_connection(stream, Arc::clone(&state)));
    }
}

async fn serve_connection(mut stream: TcpStream, state: Arc<State>) -> io::Result<()> {
    loop {
        let mut prefix = [0u8; 2];
        stream.read_exact(&mut prefix).await?;
        let mut message = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
        stream.read_exact(&mut message).await?;
        let Ok(request) = Message::from_vec(&message) else {
            return Ok(());
        };
        for reply in respond(&request, true, &state) {
            let length = u16::try_from(reply.len()).map_err(io::Error::other)?;
            stream.write_all(&length.to_be_bytes()).await?;
            stream.write_all(&reply).await?;
        }
    }
}

/// The messages to send back for `request`, in order; none to drop it.
fn respond(request: &Message, over_tcp: bool, state: &State) -> Vec<Vec<u8>> {
    let Some(question) = request.queries.first() else {
        return Vec::new();
    };
    let name = question.name.to_ascii().to_ascii_lowercase();
    let name = name.trim_end_matches('.');
    let mut reply = Message::response(request.metadata.id, request.metadata.op_code);
    reply.metadata.authoritative = true;
    reply.add_query(question.clone());
    if request.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        reply.set_edns(edns);
    }

    let mut replies = Vec::new();
    match name {
        "refused.test" => {
            reply.metadata.authoritative = false;
            reply.metadata.response_code = ResponseCode::Refused;
        }
        "dropfirst.test" if !over_tcp && !state.dropped_first.swap(true, Ordering::SeqCst) => {
            return Vec::new();
        }
        "big.test" if !over_tcp => reply.metadata.truncation = true,
        "wrongid.test" if !over_tcp => {
            let mut decoy =
                Message::response(request.metadata.id ^ 0xffff, request.metadata.op_code);
            decoy.add_query(question.clone());
            decoy.add_answer(a(name, 10, [10, 9, 9, 9]));
            replies.extend(decoy.to_vec().ok());
            reply.add_answers(select(name, question.query_type));
        }
        _ => {
            let all = table(name);
            if all.is_empty() {
                reply.metadata.response_code = ResponseCode::NXDomain;
                reply.add_authorities(
                    table("test")
                        .into_iter()
                        .filter(|r| r.record_type() == RecordType::SOA),
                );
            } else {
                reply.add_answers(select(name, question.query_type));
            }
        }
    }
    replies.extend(reply.to_vec().ok());
    replies
}

/// The records of `name` that answer a question of type `wanted`, following a CNAME.
fn select(name: &str, wanted: RecordType) -> Vec<Record> {
    let mut answers = Vec::new();
    for record in table(name) {
        match &record.data {
            _ if wanted == RecordType::ANY || record.record_type() == wanted => {
                answers.push(record)
            }
            RData::CNAME(target) => {
                let target = target.0.to_ascii();
                answers.push(record);
                answers.extend(select(target.trim_end_matches('.'), wanted));
            }
            _ => {}
        }
    }
    answers
}

fn table(name: &str) -> Vec<Record> {
    let txt = |ttl, parts: &[&str]| {
        let parts = parts.iter().map(|p| (*p).to_owned()).collect();
        record(name, ttl, RData::TXT(TXT::new(parts)))
    };
    match name {
        "test" => vec![
            record(
                name,
                300,
                RData::SOA(SOA::new(
                    fqdn("ns.test"),
                    fqdn("hostmaster.test"),
                    2024010101,
                    3600,
                    600,
                    86400,
                    300,
                )),
            ),
            record(name, 300, RData::NS(NS(fqdn("ns.test")))),
        ],
        "sh8.mailingliststart.com.senderhost.bl.rbl" => vec![
            a(name, 2100, [127, 0, 0, 2]),
            txt(2100, &["listed: ", "spam source"]),
        ],
        "two.test" => vec![a(name, 300, [127, 0, 0, 3]), a(name, 300, [127, 0, 0, 4])],
        "mixed-ttl.test" => vec![a(name, 60, [127, 0, 0, 5]), a(name, 120, [127, 0, 0, 6])],
        "nodata.test" => vec![a(name, 300, [127, 0, 0, 7])],
        "v6.test" => vec![record(
            name,
            300,
            RData::AAAA(AAAA(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))),
        )],
        "mail.test" => vec![record(name, 300, RData::MX(MX::new(10, fqdn("mx.test"))))],
        "alias.test" => vec![record(name, 300, RData::CNAME(CNAME(fqdn("two.test"))))],
        "wrongid.test" | "dropfirst.test" => vec![a(name, 300, [127, 0, 0, 2])],
        "big.test" => (0..40)
            .map(|i| txt(300, &[&format!("{i:02} {}", "x".repeat(60))]))
            .collect(),
        _ => Vec::new(),
    }
}

fn a(name: &str, ttl: u32, octets: [u8; 4]) -> Record {
    record(name, ttl, RData::A(A(Ipv4Addr::from(octets))))
}

fn record(name: &str, ttl: u32, data: RData) -> Record {
    Record::from_rdata(fqdn(name), ttl, data)
}

fn fqdn(name: &str) -> Name {
    Name::from_labels(name.split('.').map(str::as_bytes)).unwrap_or_default()
}
