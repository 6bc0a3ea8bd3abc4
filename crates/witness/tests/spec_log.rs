//! The witness against a log written here from the C2SP texts alone (signed-note,
//! tlog-checkpoint, RFC 6962 hashing), over plain HTTP with a request written by hand: what
//! another log or client built to the spec would send and expect back.

// Tests stop at the first surprise; only the service must not.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ring::signature::{Ed25519KeyPair, KeyPair};
use sha2::{Digest, Sha256};

const ORIGIN: &str = "spec.example/log";

/// A log as the specs describe it: RFC 6962 leaf and node hashes, and checkpoints signed
/// as a C2SP signed note with an Ed25519 key (signature type 0x01).
struct SpecLog {
    key: Ed25519KeyPair,
    leaves: Vec<[u8; 32]>,
}

impl SpecLog {
    fn new(seed: u8) -> Self {
        let key = Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).unwrap();
        SpecLog {
            key,
            leaves: Vec::new(),
        }
    }

    fn key_hash(&self) -> [u8; 4] {
        let mut h = Sha256::new();
        h.update(ORIGIN.as_bytes());
        h.update(b"\n\x01");
        h.update(self.key.public_key().as_ref());
        h.finalize()[..4].try_into().unwrap()
    }

    /// `<name>+<hex key hash>+<base64(0x01 || public key)>`.
    fn verifier_key(&self) -> String {
        let mut raw = vec![0x01];
        raw.extend_from_slice(self.key.public_key().as_ref());
        let hash: String = self.key_hash().iter().map(|b| format!("{b:02x}")).collect();
        format!("{ORIGIN}+{hash}+{}", B64.encode(raw))
    }

    fn append(&mut self, data: &[u8]) {
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(data);
        self.leaves.push(h.finalize().into());
    }

    fn root(&self, n: usize) -> [u8; 32] {
        fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
            match leaves.len() {
                0 => Sha256::digest([]).into(),
                1 => leaves[0],
                n => {
                    let k = n.next_power_of_two() / 2;
                    let mut h = Sha256::new();
                    h.update([1u8]);
                    h.update(mth(&leaves[..k]));
                    h.update(mth(&leaves[k..]));
                    h.finalize().into()
                }
            }
        }
        mth(&self.leaves[..n])
    }

    /// The checkpoint of the first `n` leaves, as a signed note.
    fn checkpoint(&self, n: usize) -> String {
        let text = format!("{ORIGIN}\n{n}\n{}\n", B64.encode(self.root(n)));
        let mut sig = self.key_hash().to_vec();
        sig.extend_from_slice(self.key.sign(text.as_bytes()).as_ref());
        format!("{text}\n\u{2014} {ORIGIN} {}\n", B64.encode(sig))
    }
}

/// One HTTP/1.1 request, written by hand: the status and content type of the answer.
fn post(addr: &str, body: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST /add-checkpoint HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let kind = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_default();
    (status, kind, body.to_owned())
}

fn request(old: usize, note: &str) -> String {
    format!("old {old}\n\n{note}")
}

#[test]
fn the_same_size_with_another_root_is_a_409_without_a_size() {
    let mut log = SpecLog::new(7);
    for i in 0..5u8 {
        log.append(&[i]);
    }
    let dir = tempfile::tempdir().unwrap();
    iro_advice_witness::init(dir.path(), "spec.example/witness").unwrap();
    let witness = iro_advice_witness::Witness::open(dir.path(), &[log.verifier_key()]).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        actix_web::rt::System::new()
            .block_on(iro_advice_witness::http::serve(witness, listener, None))
    });
    let mut tries = 0;
    while TcpStream::connect(&addr).is_err() && tries < 100 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        tries += 1;
    }

    // The first checkpoint, from nothing: cosigned.
    let (status, _, body) = post(&addr, &request(0, &log.checkpoint(5)));
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("\u{2014} spec.example/witness "), "{body}");
    // The same checkpoint again, from its own size: cosigned again (nothing to prove).
    let (status, _, body) = post(&addr, &request(5, &log.checkpoint(5)));
    assert_eq!(status, 200, "{body}");

    // The same log key, the same size, another history: "If the old size matches the
    // checkpoint size, the witness MUST check that the root hashes are also identical. If
    // they don't match, the witness MUST respond with a 409 Conflict", and it is not a
    // text/x.tlog.size answer, which would tell the client to retry from another size.
    let mut other = SpecLog::new(7);
    for i in 10..15u8 {
        other.append(&[i]);
    }
    let (status, kind, body) = post(&addr, &request(5, &other.checkpoint(5)));
    assert_eq!(status, 409, "{body}");
    assert_ne!(kind, "text/x.tlog.size");
    assert!(body.parse::<u64>().is_err(), "no size: {body}");
    // A stale old size is the other 409: the size the witness holds, as text/x.tlog.size.
    let (status, kind, body) = post(&addr, &request(3, &other.checkpoint(5)));
    assert_eq!(
        (status, kind.as_str(), body.as_str()),
        (409, "text/x.tlog.size", "5\n")
    );
    // And the honest log still moves on from what was cosigned.
    log.append(b"more");
    let (status, _, body) = post(&addr, &request(5, &log.checkpoint(6)));
    // Size 5 to 6 needs a proof: without one, the proof does not verify.
    assert_eq!(status, 422, "{body}");
}
