//! DNS queries against the service's published ports, and the expectations a check holds their answers to.
//!
//! A check must see what the service itself said: the rcode, the AA and TC bits, the TTLs
//! as served. A resolver would recurse, cache, retry elsewhere and hide all of that, so this
//! module sends one hand-built query (hickory-proto for the wire format, tokio sockets for
//! the transport) and turns the reply into plain strings the expectations and the reports
//! can compare and print.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use hickory_proto::op::{self, Edns, Message, MessageType, ResponseCode};
use hickory_proto::rr::{self, Name, RData, RecordType};
use regex::Regex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Instant;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod testserver;

/// How many times a UDP query is sent again, spread evenly over its timeout. docker-proxy
/// drops datagrams that arrive while the container behind it is still starting, and a
/// single lost datagram must not fail a check.
const UDP_RESENDS: u32 = 2;

/// The EDNS0 payload size of the DNS flag day 2020: large enough that most answers fit,
/// small enough to avoid IP fragmentation.
const EDNS_PAYLOAD: u16 = 1232;

/// The record types a check may ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum RecordKind {
    A,
    Aaaa,
    Txt,
    Mx,
    Ns,
    Soa,
    Ptr,
    Cname,
    Any,
    Srv,
    Caa,
}

impl RecordKind {
    pub(crate) const ALL: [RecordKind; 11] = [
        RecordKind::A,
        RecordKind::Aaaa,
        RecordKind::Txt,
        RecordKind::Mx,
        RecordKind::Ns,
        RecordKind::Soa,
        RecordKind::Ptr,
        RecordKind::Cname,
        RecordKind::Any,
        RecordKind::Srv,
        RecordKind::Caa,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RecordKind::A => "A",
            RecordKind::Aaaa => "AAAA",
            RecordKind::Txt => "TXT",
            RecordKind::Mx => "MX",
            RecordKind::Ns => "NS",
            RecordKind::Soa => "SOA",
            RecordKind::Ptr => "PTR",
            RecordKind::Cname => "CNAME",
            RecordKind::Any => "ANY",
            RecordKind::Srv => "SRV",
            RecordKind::Caa => "CAA",
        }
    }

    fn record_type(self) -> RecordType {
        match self {
            RecordKind::A => RecordType::A,
            RecordKind::Aaaa => RecordType::AAAA,
            RecordKind::Txt => RecordType::TXT,
            RecordKind::Mx => RecordType::MX,
            RecordKind::Ns => RecordType::NS,
            RecordKind::Soa => RecordType::SOA,
            RecordKind::Ptr => RecordType::PTR,
            RecordKind::Cname => RecordType::CNAME,
            RecordKind::Any => RecordType::ANY,
            RecordKind::Srv => RecordType::SRV,
            RecordKind::Caa => RecordType::CAA,
        }
    }

    /// Whether a record of type `kind` (as in [`Record::kind`]) is one this query asked for;
    /// an ANY query asked for all of them.
    fn covers(self, kind: &str) -> bool {
        self == RecordKind::Any || kind == self.as_str()
    }

    fn valid_list() -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|kind| kind.as_str()).collect();
        names.join(", ")
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RecordKind {
    type Err = UnknownRecordKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownRecordKind {
                given: s.to_owned(),
            })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown record type {given:?}: expected one of {}",
    RecordKind::valid_list()
)]
pub(crate) struct UnknownRecordKind {
    pub given: String,
}

/// Which transport carries the query.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Transport {
    Udp,
    Tcp,
    /// UDP, and the same question again over TCP when the UDP reply is truncated (TC bit),
    /// as a stub resolver would do.
    #[default]
    UdpThenTcp,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::UdpThenTcp => "udp, then tcp on truncation",
        })
    }
}

/// One question for the service. The UDP and TCP addresses are separate because Docker
/// may publish the two protocols of one container port on different host ports.
#[derive(Clone, Debug)]
pub(crate) struct Query {
    pub name: String,
    pub kind: RecordKind,
    pub udp: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
    pub transport: Transport,
    /// For each exchange: UDP (with its resends) gets this long, and so does the TCP retry.
    pub timeout: Duration,
}

/// The reply as the service sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Answer {
    /// The mnemonic dig prints: "NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED", ...
    pub rcode: String,
    pub authoritative: bool,
    /// Set only when the final reply is still truncated, i.e. no TCP retry was possible.
    pub truncated: bool,
    pub via_tcp: bool,
    /// The answer section, in the order served.
    pub records: Vec<Record>,
    pub elapsed: Duration,
}

/// One resource record of the answer section, in presentation form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    /// The owner name, with its trailing dot.
    pub name: String,
    /// The type mnemonic: "A", "TXT", ... ("TYPE65" for types hickory does not know).
    pub kind: String,
    pub ttl: u32,
    /// A/AAAA the address, TXT the strings concatenated without quotes, names with their
    /// trailing dot, MX "10 mail.example.com.", SOA "mname. rname. serial refresh retry
    /// expire minimum".
    pub data: String,
}

/// A server address and the protocol used to talk to it; shown as "127.0.0.1:32768/udp".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub addr: SocketAddr,
    pub tcp: bool,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let protocol = if self.tcp { "tcp" } else { "udp" };
        write!(f, "{}/{protocol}", self.addr)
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum DnsError {
    #[error("no answer from {server} within {}", human_duration(*.after))]
    Timeout { server: Endpoint, after: Duration },
    /// The I/O error is part of the message rather than a `source`, because a check's
    /// report shows this one line and "connection refused" is the useful part of it.
    #[error("cannot query {server}: {error}")]
    Io { server: Endpoint, error: io::Error },
    #[error("malformed reply from {server}: {reason}")]
    Malformed { server: Endpoint, reason: String },
    #[error("{}", no_server_text(*.transport))]
    NoServer { transport: Transport },
    #[error(transparent)]
    Name(#[from] NameError),
    #[error("cannot encode a query for {name:?}: {reason}")]
    Encode { name: String, reason: String },
}

fn no_server_text(transport: Transport) -> &'static str {
    match transport {
        Transport::Udp => "no UDP port is published for DNS",
        Transport::Tcp => "no TCP port is published for DNS",
        Transport::UdpThenTcp => "no UDP or TCP port is published for DNS",
    }
}

/// Ask the service one question and return its reply, whatever the rcode.
pub(crate) async fn query(q: &Query) -> Result<Answer, DnsError> {
    let started = Instant::now();
    let request = Request::new(&q.name, q.kind.record_type())?;
    let no_server = DnsError::NoServer {
        transport: q.transport,
    };
    let (reply, via_tcp) = match q.transport {
        Transport::Udp => {
            let udp = q.udp.ok_or(no_server)?;
            (request.over_udp(udp, q.timeout, UDP_RESENDS).await?, false)
        }
        Transport::Tcp => {
            let tcp = q.tcp.ok_or(no_server)?;
            (request.over_tcp(tcp, q.timeout).await?, true)
        }
        Transport::UdpThenTcp => match (q.udp, q.tcp) {
            (Some(udp), tcp) => {
                let reply = request.over_udp(udp, q.timeout, UDP_RESENDS).await?;
                match tcp {
                    Some(tcp) if reply.metadata.truncation => {
                        (request.over_tcp(tcp, q.timeout).await?, true)
                    }
                    _ => (reply, false),
                }
            }
            (None, Some(tcp)) => (request.over_tcp(tcp, q.timeout).await?, true),
            (None, None) => return Err(no_server),
        },
    };
    Ok(Answer {
        rcode: rcode_name(reply.metadata.response_code),
        authoritative: reply.metadata.authoritative,
        truncated: reply.metadata.truncation,
        via_tcp,
        records: reply.answers.iter().map(Record::from_wire).collect(),
        elapsed: started.elapsed(),
    })
}

/// One cheap attempt, for polling readiness: true if any well-formed reply to a question
/// for `name` (type A) came back within `per_try`, whatever its rcode. An invalid `name`
/// never gets a reply, so the caller should have validated it when reading the config.
pub(crate) async fn probe(server: SocketAddr, tcp: bool, name: &str, per_try: Duration) -> bool {
    let Ok(request) = Request::new(name, RecordType::A) else {
        return false;
    };
    let reply = if tcp {
        request.over_tcp(server, per_try).await
    } else {
        request.over_udp(server, per_try, 0).await
    };
    reply.is_ok()
}

/// A query on the wire, and what a reply must echo to belong to it.
struct Request {
    id: u16,
    question: op::Query,
    wire: Vec<u8>,
}

impl Request {
    fn new(name: &str, record_type: RecordType) -> Result<Self, DnsError> {
        validate_name(name)?;
        let encode_error = |reason: String| DnsError::Encode {
            name: name.to_owned(),
            reason,
        };
        // From raw labels rather than `Name::from_ascii`, which refuses labels that
        // validate_name deliberately lets through (a leading '-', seen in RBL zones).
        let bare = name.strip_suffix('.').unwrap_or(name);
        let qname = Name::from_labels(bare.split('.').map(str::as_bytes))
            .map_err(|e| encode_error(e.to_string()))?;
        let question = op::Query::query(qname, record_type);

        let mut message = Message::query();
        message.metadata.recursion_desired = false;
        message.add_query(question.clone());
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        message.set_edns(edns);
        let wire = message.to_vec().map_err(|e| encode_error(e.to_string()))?;

        Ok(Self {
            id: message.metadata.id,
            question,
            wire,
        })
    }

    /// Sends the query, resending it `resends` times at even intervals, and waits until the
    /// timeout for a datagram that answers it; datagrams with another id are ignored.
    async fn over_udp(
        &self,
        server: SocketAddr,
        timeout: Duration,
        resends: u32,
    ) -> Result<Message, DnsError> {
        let endpoint = Endpoint {
            addr: server,
            tcp: false,
        };
        let io_error = |error| DnsError::Io {
            server: endpoint,
            error,
        };
        let local = match server.ip() {
            IpAddr::V4(ip) if ip.is_loopback() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(ip) if ip.is_loopback() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        let socket = UdpSocket::bind(SocketAddr::new(local, 0))
            .await
            .map_err(io_error)?;
        // Connected, so the kernel drops datagrams from any other source, and an ICMP
        // port-unreachable surfaces as "connection refused" instead of a silent timeout.
        socket.connect(server).await.map_err(io_error)?;

        let started = Instant::now();
        let deadline = crate::deadline::after_tokio(started, timeout);
        let interval = timeout / (resends + 1);
        let mut resent = 0;
        let mut buf = vec![0u8; usize::from(u16::MAX)];
        socket.send(&self.wire).await.map_err(io_error)?;
        loop {
            let next_send = crate::deadline::after_tokio(started, interval * (resent + 1));
            let resend_due = resent < resends && next_send < deadline;
            let wake = if resend_due { next_send } else { deadline };
            match tokio::time::timeout_at(wake, socket.recv(&mut buf)).await {
                Err(_) if resend_due => {
                    socket.send(&self.wire).await.map_err(io_error)?;
                    resent += 1;
                }
                Err(_) => {
                    return Err(DnsError::Timeout {
                        server: endpoint,
                        after: timeout,
                    });
                }
                Ok(Err(error)) => return Err(io_error(error)),
                Ok(Ok(len)) => {
                    let datagram = &buf[..len];
                    if datagram.len() < 2 || u16::from_be_bytes([buf[0], buf[1]]) != self.id {
                        continue;
                    }
                    return self.accept(datagram, endpoint);
                }
            }
        }
    }

    /// Sends the query with the two-byte length prefix of RFC 1035 4.2.2 and reads one reply;
    /// `timeout` covers connect, write and read together.
    async fn over_tcp(&self, server: SocketAddr, timeout: Duration) -> Result<Message, DnsError> {
        let endpoint = Endpoint {
            addr: server,
            tcp: true,
        };
        match tokio::time::timeout(timeout, self.tcp_exchange(endpoint)).await {
            Ok(reply) => reply,
            Err(_) => Err(DnsError::Timeout {
                server: endpoint,
                after: timeout,
            }),
        }
    }

    async fn tcp_exchange(&self, endpoint: Endpoint) -> Result<Message, DnsError> {
        let io_error = |error: io::Error| {
            // docker-proxy accepts the connection and then closes it when nothing listens
            // in the container yet; "early eof" would not say that.
            let error = if error.kind() == io::ErrorKind::UnexpectedEof {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the connection was closed before a complete reply",
                )
            } else {
                error
            };
            DnsError::Io {
                server: endpoint,
                error,
            }
        };
        let length = u16::try_from(self.wire.len()).map_err(|_| DnsError::Encode {
            name: self.question.name.to_ascii(),
            reason: "the query is longer than 65535 bytes".to_owned(),
        })?;
        let mut framed = Vec::with_capacity(self.wire.len() + 2);
        framed.extend_from_slice(&length.to_be_bytes());
        framed.extend_from_slice(&self.wire);

        let mut stream = TcpStream::connect(endpoint.addr).await.map_err(io_error)?;
        stream.write_all(&framed).await.map_err(io_error)?;
        let mut prefix = [0u8; 2];
        stream.read_exact(&mut prefix).await.map_err(io_error)?;
        let length = usize::from(u16::from_be_bytes(prefix));
        if length == 0 {
            return Err(DnsError::Malformed {
                server: endpoint,
                reason: "a zero-length message".to_owned(),
            });
        }
        let mut reply = vec![0u8; length];
        stream.read_exact(&mut reply).await.map_err(io_error)?;
        self.accept(&reply, endpoint)
    }

    /// Parses a reply and checks that it answers this query. The id check is done here too
    /// because over TCP a wrong id is not a stray datagram but a broken server.
    fn accept(&self, bytes: &[u8], server: Endpoint) -> Result<Message, DnsError> {
        let malformed = |reason: String| DnsError::Malformed { server, reason };
        let reply = Message::from_vec(bytes).map_err(|e| malformed(e.to_string()))?;
        if reply.metadata.id != self.id {
            return Err(malformed(format!(
                "its id {} is not the query's id {}",
                reply.metadata.id, self.id
            )));
        }
        if reply.metadata.message_type != MessageType::Response {
            return Err(malformed("it is a query, not a response".to_owned()));
        }
        // Error replies (FORMERR, NOTIMP...) and truncated ones may legitimately leave the
        // question section empty; anything else must echo the question.
        let may_omit_question =
            reply.metadata.truncation || reply.metadata.response_code != ResponseCode::NoError;
        match reply.queries.as_slice() {
            [] if may_omit_question => Ok(reply),
            [question] if *question == self.question => Ok(reply),
            [] => Err(malformed("its question section is empty".to_owned())),
            [question] => Err(malformed(format!(
                "it answers another question: {} {} {}",
                question.name.to_ascii(),
                question.query_class,
                question.query_type
            ))),
            questions => Err(malformed(format!(
                "it has {} questions instead of one",
                questions.len()
            ))),
        }
    }
}

/// The mnemonics dig prints, rather than hickory's prose ("Non-Existent Domain").
fn rcode_name(code: ResponseCode) -> String {
    let name = match code {
        ResponseCode::NoError => "NOERROR",
        ResponseCode::FormErr => "FORMERR",
        ResponseCode::ServFail => "SERVFAIL",
        ResponseCode::NXDomain => "NXDOMAIN",
        ResponseCode::NotImp => "NOTIMP",
        ResponseCode::Refused => "REFUSED",
        ResponseCode::YXDomain => "YXDOMAIN",
        ResponseCode::YXRRSet => "YXRRSET",
        ResponseCode::NXRRSet => "NXRRSET",
        ResponseCode::NotAuth => "NOTAUTH",
        ResponseCode::NotZone => "NOTZONE",
        ResponseCode::BADVERS | ResponseCode::BADSIG => "BADVERS",
        ResponseCode::BADKEY => "BADKEY",
        ResponseCode::BADTIME => "BADTIME",
        ResponseCode::BADMODE => "BADMODE",
        ResponseCode::BADNAME => "BADNAME",
        ResponseCode::BADALG => "BADALG",
        ResponseCode::BADTRUNC => "BADTRUNC",
        ResponseCode::BADCOOKIE => "BADCOOKIE",
        ResponseCode::Unknown(code) => return format!("RCODE{code}"),
    };
    name.to_owned()
}

impl Record {
    fn from_wire(record: &rr::Record) -> Self {
        let kind = match record.record_type() {
            RecordType::Unknown(code) => format!("TYPE{code}"),
            known => known.to_string(),
        };
        Record {
            name: record.name.to_ascii(),
            kind,
            ttl: record.ttl,
            data: rdata_text(&record.data),
        }
    }

    fn is_txt(&self) -> bool {
        self.kind == "TXT"
    }

    /// "A 127.0.0.2", or `TXT "spam source"`: TXT data quoted so its spaces read as data.
    fn short(&self) -> String {
        format!("{} {}", self.kind, self.shown_data())
    }

    fn shown_data(&self) -> String {
        if self.is_txt() {
            quote(&self.data)
        } else {
            self.data.clone()
        }
    }
}

fn rdata_text(data: &RData) -> String {
    match data {
        RData::A(a) => a.0.to_string(),
        RData::AAAA(aaaa) => aaaa.0.to_string(),
        RData::TXT(txt) => txt
            .txt_data
            .iter()
            .map(|part| String::from_utf8_lossy(part))
            .collect(),
        RData::MX(mx) => format!("{} {}", mx.preference, mx.exchange.to_ascii()),
        RData::NS(ns) => ns.0.to_ascii(),
        RData::CNAME(cname) => cname.0.to_ascii(),
        RData::PTR(ptr) => ptr.0.to_ascii(),
        // hickory keeps refresh, retry and expire as i32; on the wire and in dig they are
        // unsigned, so print them that way.
        RData::SOA(soa) => format!(
            "{} {} {} {} {} {} {}",
            soa.mname.to_ascii(),
            soa.rname.to_ascii(),
            soa.serial,
            soa.refresh as u32,
            soa.retry as u32,
            soa.expire as u32,
            soa.minimum
        ),
        RData::SRV(srv) => format!(
            "{} {} {} {}",
            srv.priority,
            srv.weight,
            srv.port,
            srv.target.to_ascii()
        ),
        other => other.to_string(),
    }
}

fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for ch in text.chars() {
        if matches!(ch, '"' | '\\') {
            quoted.push('\\');
        }
        quoted.push(ch);
    }
    quoted.push('"');
    quoted
}

/// The answer the way `dig +noall +answer` prints it, one record a line; the rcode when
/// there are no records.
pub(crate) fn describe(answer: &Answer) -> String {
    let mut lines: Vec<String> = answer
        .records
        .iter()
        .map(|r| format!("{} {} IN {} {}", r.name, r.ttl, r.kind, r.shown_data()))
        .collect();
    if lines.is_empty() {
        lines.push(if answer.rcode == "NOERROR" {
            "NOERROR, no records".to_owned()
        } else {
            answer.rcode.clone()
        });
    }
    if answer.truncated {
        lines.push("(truncated reply, and no TCP port to ask again)".to_owned());
    }
    lines.join("\n")
}

/// What a check requires of an answer. Values are compared with the data of the records
/// of the queried type (of all records for ANY): names case-insensitively and with the
/// trailing dot optional, addresses as addresses, TXT exactly.
#[derive(Clone, Debug)]
pub(crate) enum Expectation {
    /// Exactly these records, in any order.
    Records(Vec<String>),
    /// At least one record equal to one of these.
    AnyOf(Vec<String>),
    /// At least one record whose data matches.
    Pattern(Regex),
    NxDomain,
    /// NOERROR and no records of the queried type.
    NoData,
    Rcode(String),
    /// Every record of the queried type has this TTL (and there is at least one).
    Ttl(u32),
    /// NOERROR with at least one record of the queried type.
    Answered,
}

/// Why an answer failed an expectation, in words for the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mismatch {
    /// What the check asked for: "A 127.0.0.2", "NXDOMAIN", "TTL 300 on every A record".
    pub expected: String,
    /// What came back: "NXDOMAIN", "A 127.0.0.3, A 127.0.0.4", "NOERROR, no A records".
    pub got: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {}, got {}", self.expected, self.got)
    }
}

/// Holds `answer` to every expectation in turn and reports the first one it fails.
pub(crate) fn evaluate(
    expectations: &[Expectation],
    answer: &Answer,
    kind: RecordKind,
) -> Result<(), Mismatch> {
    let view = View { answer, kind };
    for expectation in expectations {
        expectation.check(&view)?;
    }
    Ok(())
}

impl Expectation {
    fn check(&self, view: &View<'_>) -> Result<(), Mismatch> {
        let relevant: Vec<&Record> = view.relevant().collect();
        let noerror = view.answer.rcode == "NOERROR";
        let plain = Emphasis::default();
        let (passed, expected, emphasis) = match self {
            Expectation::Records(values) => {
                let every_record_expected = relevant
                    .iter()
                    .all(|r| values.iter().any(|v| same_data(r, v)));
                let every_value_served = values
                    .iter()
                    .all(|v| relevant.iter().any(|r| same_data(r, v)));
                let expected = if values.is_empty() {
                    format!("no {}", view.records_word())
                } else {
                    view.expected_values(values, ", ")
                };
                (every_record_expected && every_value_served, expected, plain)
            }
            Expectation::AnyOf(values) => (
                relevant
                    .iter()
                    .any(|r| values.iter().any(|v| same_data(r, v))),
                view.expected_values(values, " or "),
                plain,
            ),
            Expectation::Pattern(pattern) => (
                relevant.iter().any(|r| pattern.is_match(&r.data)),
                format!(
                    "{} matching /{}/",
                    view.indefinite_record(),
                    pattern.as_str()
                ),
                plain,
            ),
            Expectation::NxDomain => (
                view.answer.rcode == "NXDOMAIN",
                "NXDOMAIN".to_owned(),
                plain,
            ),
            Expectation::NoData => (
                noerror && relevant.is_empty(),
                format!("NOERROR, no {}", view.records_word()),
                plain,
            ),
            Expectation::Rcode(rcode) => (
                view.answer.rcode.eq_ignore_ascii_case(rcode.trim()),
                rcode.trim().to_ascii_uppercase(),
                Emphasis {
                    rcode: true,
                    ..plain
                },
            ),
            Expectation::Ttl(ttl) => (
                !relevant.is_empty() && relevant.iter().all(|r| r.ttl == *ttl),
                format!("TTL {ttl} on every {}", view.record_word()),
                Emphasis { ttl: true, ..plain },
            ),
            Expectation::Answered => (
                noerror && !relevant.is_empty(),
                format!("at least one {}", view.record_word()),
                plain,
            ),
        };
        if passed {
            Ok(())
        } else {
            Err(Mismatch {
                expected,
                got: view.summary(emphasis),
            })
        }
    }
}

/// What a mismatch shows of the answer besides its records: the rcode even when it is
/// NOERROR (for an rcode expectation), the TTLs (for a TTL expectation).
#[derive(Clone, Copy, Default)]
struct Emphasis {
    rcode: bool,
    ttl: bool,
}

/// An answer seen through the type that was asked for.
struct View<'a> {
    answer: &'a Answer,
    kind: RecordKind,
}

impl View<'_> {
    fn relevant(&self) -> impl Iterator<Item = &Record> {
        self.answer
            .records
            .iter()
            .filter(|r| self.kind.covers(&r.kind))
    }

    fn record_word(&self) -> String {
        match self.kind {
            RecordKind::Any => "record".to_owned(),
            kind => format!("{kind} record"),
        }
    }

    fn records_word(&self) -> String {
        format!("{}s", self.record_word())
    }

    fn indefinite_record(&self) -> String {
        match self.kind {
            RecordKind::A | RecordKind::Aaaa => format!("an {}", self.record_word()),
            _ => format!("a {}", self.record_word()),
        }
    }

    /// "A 127.0.0.2, A 127.0.0.3"; with ANY there is no type to prefix the values with.
    fn expected_values(&self, values: &[String], separator: &str) -> String {
        let shown: Vec<String> = values
            .iter()
            .map(|value| match self.kind {
                RecordKind::Any => value.clone(),
                RecordKind::Txt => format!("TXT {}", quote(value)),
                kind => format!("{kind} {value}"),
            })
            .collect();
        shown.join(separator)
    }

    /// What came back, in the words of a mismatch: the records of the queried type, the
    /// rcode unless it is a plain NOERROR, and what else the answer held when none of its
    /// records are of that type.
    fn summary(&self, emphasis: Emphasis) -> String {
        let relevant: Vec<&Record> = self.relevant().collect();
        let rcode = &self.answer.rcode;
        let mut text = if relevant.is_empty() {
            let others: Vec<String> = self.answer.records.iter().map(|r| r.short()).collect();
            let mut text = if rcode == "NOERROR" {
                format!("NOERROR, no {}", self.records_word())
            } else {
                rcode.clone()
            };
            if !others.is_empty() {
                text.push_str(&format!(" (the answer holds {})", others.join(", ")));
            }
            text
        } else {
            let list: Vec<String> = relevant
                .iter()
                .map(|r| {
                    if emphasis.ttl {
                        format!("{} (TTL {})", r.short(), r.ttl)
                    } else {
                        r.short()
                    }
                })
                .collect();
            let list = list.join(", ");
            if rcode != "NOERROR" || emphasis.rcode {
                format!("{rcode}: {list}")
            } else {
                list
            }
        };
        if self.answer.truncated {
            text.push_str(" (truncated reply, and no TCP port to ask again)");
        }
        text
    }
}

fn same_data(record: &Record, expected: &str) -> bool {
    if record.is_txt() {
        return record.data == expected;
    }
    if let (Ok(got), Ok(want)) = (
        record.data.parse::<IpAddr>(),
        expected.trim().parse::<IpAddr>(),
    ) {
        return got == want;
    }
    normalized(&record.data) == normalized(expected)
}

/// Lower case, single spaces, and no trailing dot on any word, so that "10 MX.example.com"
/// equals "10 mx.example.com.".
fn normalized(data: &str) -> String {
    let words: Vec<String> = data
        .split_whitespace()
        .map(|word| word.strip_suffix('.').unwrap_or(word).to_ascii_lowercase())
        .collect();
    words.join(" ")
}

/// Why a string cannot be a DNS name here. Task arguments end up in query names and in the
/// `dig` line shown to the user, so anything beyond letters, digits, '-', '_' and dots is
/// refused with the offending character named.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NameError {
    #[error("a DNS name cannot be empty")]
    Empty,
    #[error(
        "invalid DNS name {name:?}: character {position} {ch:?} {why}; a name holds only letters, digits, '-', '_' and dots"
    )]
    BadChar {
        name: String,
        ch: char,
        /// 1-based, in characters.
        position: usize,
        why: &'static str,
    },
    #[error(
        "invalid DNS name {name:?}: empty label at character {position} (a leading dot or two dots in a row)"
    )]
    EmptyLabel { name: String, position: usize },
    #[error(
        "invalid DNS name {name:?}: label {label:?} is {length} characters long, the limit is 63"
    )]
    LabelTooLong {
        name: String,
        label: String,
        length: usize,
    },
    #[error("invalid DNS name {name:?}: it is {length} characters long, the limit is 253")]
    TooLong { name: String, length: usize },
}

/// Checks that `name` is a plain DNS name: dot-separated labels of 1 to 63 letters, digits,
/// '-' or '_', at most 253 characters, with an optional trailing dot. Hyphen placement is
/// not checked, as RBL zones hold names a host name rule would refuse.
pub(crate) fn validate_name(name: &str) -> Result<(), NameError> {
    let bare = name.strip_suffix('.').unwrap_or(name);
    if bare.is_empty() {
        return Err(NameError::Empty);
    }
    if let Some((index, ch)) = name
        .chars()
        .enumerate()
        .find(|(_, ch)| !(ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.')))
    {
        return Err(NameError::BadChar {
            name: name.to_owned(),
            ch,
            position: index + 1,
            why: why_refused(ch),
        });
    }
    // Only ASCII is left, so byte offsets are character positions.
    let mut position = 1;
    for label in bare.split('.') {
        if label.is_empty() {
            return Err(NameError::EmptyLabel {
                name: name.to_owned(),
                position,
            });
        }
        if label.len() > 63 {
            return Err(NameError::LabelTooLong {
                name: name.to_owned(),
                label: label.to_owned(),
                length: label.len(),
            });
        }
        position += label.len() + 1;
    }
    if bare.len() > 253 {
        return Err(NameError::TooLong {
            name: name.to_owned(),
            length: bare.len(),
        });
    }
    Ok(())
}

fn why_refused(ch: char) -> &'static str {
    match ch {
        c if !c.is_ascii() => "is not ASCII (write an internationalised name in its xn-- form)",
        c if c.is_ascii_whitespace() || c.is_ascii_control() => {
            "is white space or a control character"
        }
        '$' | '`' | '(' | ')' | ';' | '&' | '|' | '<' | '>' | '\'' | '"' | '\\' | '*' | '?'
        | '[' | ']' | '{' | '}' | '~' | '!' | '#' => "is a shell metacharacter",
        _ => "is not allowed",
    }
}

/// The name to look `subject` up under in the list `zone` (RFC 5782): an IPv4 address with
/// its octets reversed, an IPv6 address as 32 reversed nibbles, a host name as it is.
/// `rbl_name("1.2.3.4", "bl.rbl")` is "4.3.2.1.bl.rbl".
pub(crate) fn rbl_name(subject: &str, zone: &str) -> Result<String, NameError> {
    validate_name(zone)?;
    let reversed = if let Ok(v4) = subject.parse::<Ipv4Addr>() {
        let octets: Vec<String> = v4.octets().iter().rev().map(u8::to_string).collect();
        octets.join(".")
    } else if let Ok(v6) = subject.parse::<Ipv6Addr>() {
        let nibbles: Vec<String> = v6
            .octets()
            .iter()
            .rev()
            .flat_map(|byte| [byte & 0x0f, byte >> 4])
            .map(|nibble| format!("{nibble:x}"))
            .collect();
        nibbles.join(".")
    } else {
        validate_name(subject)?;
        subject.strip_suffix('.').unwrap_or(subject).to_owned()
    };
    let name = format!("{reversed}.{zone}");
    validate_name(&name)?;
    Ok(name)
}

/// The `dig` command line that asks what `q` asks, for the user to paste: over the
/// transport the query starts with, without recursion.
pub(crate) fn dig_command(q: &Query) -> String {
    let (server, tcp) = match q.transport {
        Transport::Udp => (q.udp, false),
        Transport::Tcp => (q.tcp, true),
        Transport::UdpThenTcp => match q.udp {
            Some(udp) => (Some(udp), false),
            None => (q.tcp, true),
        },
    };
    let mut words = vec!["dig".to_owned()];
    if let Some(server) = server {
        words.push(format!("@{}", server.ip()));
        words.push("-p".to_owned());
        words.push(server.port().to_string());
    }
    words.push("+norecurse".to_owned());
    if tcp {
        words.push("+tcp".to_owned());
    }
    words.push(crate::shellwords::quote(&q.name));
    words.push(q.kind.to_string());
    words.join(" ")
}

/// "2s", "300ms", "1.5s".
fn human_duration(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{}ms", duration.as_millis())
    } else if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}
