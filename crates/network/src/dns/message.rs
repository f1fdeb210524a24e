//! The few DNS message shapes the embedded server needs (RFC 1035): a query's header and
//! question read, and an answer of A records, an empty answer or an error written.

use std::net::Ipv4Addr;

/// Record type A.
pub(crate) const TYPE_A: u16 = 1;
/// Class IN.
const CLASS_IN: u16 = 1;
/// Response code: the server failed (no upstream answered).
pub(crate) const SERVFAIL: u8 = 2;
/// Response code: the query could not be understood.
pub(crate) const FORMERR: u8 = 1;
/// Time to live of the answers, Docker's.
const TTL: u32 = 600;

/// A parsed query: its ID, its (first) question, and where the question ends.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Query {
    pub(crate) id: u16,
    /// The name asked for, lowercase, without the final dot.
    pub(crate) name: String,
    pub(crate) qtype: u16,
    pub(crate) qclass: u16,
    /// Byte offset just past the question section's first question.
    question_end: usize,
    /// The query's recursion-desired bit, echoed in the answer.
    rd: bool,
}

/// Reads a standard query with at least one question; `None` for anything else.
pub(crate) fn parse_query(packet: &[u8]) -> Option<Query> {
    if packet.len() < 12 {
        return None;
    }
    let id = u16::from_be_bytes([packet[0], packet[1]]);
    let flags = u16::from_be_bytes([packet[2], packet[3]]);
    let is_response = flags & 0x8000 != 0;
    let opcode = (flags >> 11) & 0xf;
    let qdcount = u16::from_be_bytes([packet[4], packet[5]]);
    if is_response || opcode != 0 || qdcount == 0 {
        return None;
    }
    let mut pos = 12;
    let mut labels = Vec::new();
    loop {
        let len = *packet.get(pos)? as usize;
        pos += 1;
        if len == 0 {
            break;
        }
        // A question's name is never compressed; a pointer or an overlong label is an
        // invalid query.
        if len > 63 {
            return None;
        }
        let label = packet.get(pos..pos + len)?;
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        pos += len;
    }
    let qtype = u16::from_be_bytes([*packet.get(pos)?, *packet.get(pos + 1)?]);
    let qclass = u16::from_be_bytes([*packet.get(pos + 2)?, *packet.get(pos + 3)?]);
    Some(Query {
        id,
        name: labels.join("."),
        qtype,
        qclass,
        question_end: pos + 4,
        rd: flags & 0x0100 != 0,
    })
}

impl Query {
    /// Whether this asks for an IPv4 address of the Internet class.
    pub(crate) fn wants_a(&self) -> bool {
        self.qtype == TYPE_A && self.qclass == CLASS_IN
    }

    /// The answer: `addrs` as A records (none for another type of a known name), echoing
    /// the question, authoritative, recursion available.
    pub(crate) fn answer(&self, packet: &[u8], addrs: &[Ipv4Addr]) -> Vec<u8> {
        let mut out = self.header(packet, 0, addrs.len() as u16);
        for addr in addrs {
            out.extend_from_slice(&[0xc0, 12]); // the name: a pointer to the question's
            out.extend_from_slice(&TYPE_A.to_be_bytes());
            out.extend_from_slice(&CLASS_IN.to_be_bytes());
            out.extend_from_slice(&TTL.to_be_bytes());
            out.extend_from_slice(&4u16.to_be_bytes());
            out.extend_from_slice(&addr.octets());
        }
        out
    }

    /// An answer with no records and response code `rcode`.
    pub(crate) fn error(&self, packet: &[u8], rcode: u8) -> Vec<u8> {
        self.header(packet, rcode, 0)
    }

    fn header(&self, packet: &[u8], rcode: u8, ancount: u16) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.question_end + 16 * ancount as usize);
        out.extend_from_slice(&self.id.to_be_bytes());
        // QR, AA, RD as asked, RA.
        let flags: u16 =
            0x8000 | 0x0400 | if self.rd { 0x0100 } else { 0 } | 0x0080 | u16::from(rcode & 0xf);
        out.extend_from_slice(&flags.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&ancount.to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes());
        out.extend_from_slice(&packet[12..self.question_end]);
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A query as a stub resolver sends it.
    pub(crate) fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
        let mut q = Vec::new();
        q.extend_from_slice(&id.to_be_bytes());
        q.extend_from_slice(&0x0100u16.to_be_bytes());
        q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&CLASS_IN.to_be_bytes());
        q
    }

    #[test]
    fn reads_a_query() {
        let q = parse_query(&query(7, "Web.Front", TYPE_A)).unwrap();
        assert_eq!((q.id, q.name.as_str(), q.wants_a()), (7, "web.front", true));
        assert!(parse_query(&query(7, "web", 28)).is_some_and(|q| !q.wants_a()));
        let mut response = query(7, "web", TYPE_A);
        response[2] |= 0x80;
        assert!(
            parse_query(&response).is_none(),
            "a response is not a query"
        );
        assert!(
            parse_query(&query(7, "web", TYPE_A)[..14]).is_none(),
            "truncated"
        );
        let mut pointer = query(7, "web", TYPE_A);
        pointer[12] = 0xc0;
        assert!(parse_query(&pointer).is_none());
    }

    #[test]
    fn writes_answers() {
        let packet = query(0x1234, "db", TYPE_A);
        let q = parse_query(&packet).unwrap();
        let a = q.answer(
            &packet,
            &[Ipv4Addr::new(10, 0, 0, 3), Ipv4Addr::new(10, 0, 0, 4)],
        );
        assert_eq!(&a[..2], &[0x12, 0x34]);
        assert_eq!(a[2] & 0x80, 0x80, "a response");
        assert_eq!(a[3] & 0x0f, 0, "no error");
        assert_eq!(u16::from_be_bytes([a[6], a[7]]), 2, "two answers");
        assert_eq!(&a[12..packet.len()], &packet[12..], "the question echoed");
        assert_eq!(&a[a.len() - 4..], &[10, 0, 0, 4]);
        assert_eq!(a.len(), packet.len() + 2 * 16);
        let e = q.error(&packet, SERVFAIL);
        assert_eq!(e[3] & 0x0f, SERVFAIL);
        assert_eq!(u16::from_be_bytes([e[6], e[7]]), 0);
    }
}
