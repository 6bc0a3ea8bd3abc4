//! Password hashing: argon2id at OWASP's minimum (19 MiB, 2 passes, 1 lane) or stronger.
//!
//! Each hash needs 19 MiB of working memory and a core for tens of milliseconds, so the
//! service runs them through [`Hashing`]: a fixed number of slots (half the cores by
//! default), each a thread that runs only when the request workers leave a core idle, with a
//! working buffer allocated once and reused. At most that many buffers ever exist, hashing
//! never holds a database connection, and an attempt that finds every slot busy is refused
//! at once (503 with `Retry-After`) rather than queued: a flood of sign-ins
//! costs a bounded amount of memory and leaves the other routes their cores.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

use iro_advice_model::accounts::Password;

const M_COST: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

fn params() -> Params {
    Params::new(M_COST, T_COST, P_COST, None).expect("valid argon2 parameters")
}

fn hasher(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A working buffer for the current parameters.
fn buffer() -> Vec<Block> {
    vec![Block::default(); params().block_count()]
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`), computed in `memory`.
fn hash_with(password: &Password, memory: &mut [Block]) -> String {
    let salt = crate::keys::random_bytes::<16>();
    let mut out = [0u8; 32];
    hasher(params())
        .hash_password_into_with_memory(password.expose().as_bytes(), &salt, &mut out, memory)
        .expect("argon2 hashing with valid parameters");
    let salt = SaltString::encode_b64(&salt).expect("16-byte salt");
    let out = argon2::password_hash::Output::new(&out).expect("32-byte output");
    format!(
        "$argon2id$v=19$m={M_COST},t={T_COST},p={P_COST}${}${out}",
        salt.as_str()
    )
}

/// Checks a password against a stored PHC string in `memory` (or a buffer of its own, for a
/// hash made with other parameters); a malformed hash never verifies.
fn verify_with(password: &Password, stored: &str, memory: &mut [Block]) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let mut own;
    let memory = if memory.len() == params.block_count() {
        memory
    } else {
        own = vec![Block::default(); params.block_count()];
        &mut own[..]
    };
    let mut out = vec![0u8; expected.len()];
    if hasher(params)
        .hash_password_into_with_memory(password.expose().as_bytes(), salt, &mut out, memory)
        .is_err()
    {
        return false;
    }
    // Output's equality is constant-time.
    argon2::password_hash::Output::new(&out).is_ok_and(|computed| computed == expected)
}

/// A PHC string, for the command line (which hashes one password at a time).
pub fn hash(password: &Password) -> String {
    hash_with(password, &mut buffer())
}

/// Checks a password against a stored hash, for the command line and tests.
pub fn verify(password: &Password, stored: &str) -> bool {
    verify_with(password, stored, &mut buffer())
}

/// A hash no password has, to spend the same work on an email with no account, so that the
/// answer's timing does not tell whether the account exists.
fn dummy() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash(&Password::attempt("no account has this password".into())))
}

/// Every hashing slot is in use: the caller should answer 503 with `Retry-After`.
#[derive(Debug, thiserror::Error)]
#[error("every password-hashing slot is busy")]
pub struct Busy;

/// The service's bounded password hashing (see the module above).
pub struct Hashing {
    slots: Arc<Semaphore>,
    /// The owners' lane: as many slots again, for attempts from a device the account has
    /// signed in from before. Its jobs queue on the same threads behind at most one job per
    /// slot, so a flood that fills every ordinary slot delays the owner by about a hash and
    /// never sheds them.
    owners: Arc<Semaphore>,
    jobs: Mutex<std::sync::mpsc::Sender<Job>>,
    /// Working buffers allocated so far: at most one per hashing thread.
    buffers: Arc<AtomicUsize>,
    /// How long a hash takes here, in microseconds (a moving average): how long
    /// [`Slot::hold`] keeps a slot.
    typical_micros: AtomicU64,
    /// Hashes made since start.
    hashed: AtomicU64,
}

type Job = Box<dyn FnOnce(&mut [Block]) + Send>;

impl Hashing {
    /// `slots` hashes at once, each on a thread of its own; 0 means half the cores (at
    /// least one). Not every core: even at the lowest priority, a core busy hashing delays
    /// the threads that wake on it (the database's processes most), and a flood can keep
    /// every slot busy; half the cores still hash far more sign-ins than IROs make.
    pub fn new(slots: usize) -> Arc<Self> {
        let slots = match slots {
            0 => default_slots(),
            n => n,
        };
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let buffers = Arc::new(AtomicUsize::new(0));
        for n in 0..slots {
            let (queue, buffers) = (queue.clone(), buffers.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("password-hash-{n}"))
                .spawn(move || hashing_thread(&queue, &buffers));
            if let Err(e) = spawned {
                tracing::error!("cannot start a password-hashing thread: {e}");
            }
        }
        Arc::new(Hashing {
            slots: Arc::new(Semaphore::new(slots)),
            owners: Arc::new(Semaphore::new(slots)),
            jobs: Mutex::new(jobs),
            buffers,
            typical_micros: AtomicU64::new(INITIAL_TYPICAL_MICROS),
            hashed: AtomicU64::new(0),
        })
    }

    /// Takes a slot now, or says every slot is busy: taken before anything else is spent on
    /// an attempt, so that a shed attempt costs next to nothing.
    pub fn reserve(self: &Arc<Self>) -> Result<Slot, Busy> {
        let permit = self.slots.clone().try_acquire_owned().map_err(|_| Busy)?;
        Ok(Slot {
            hashing: self.clone(),
            permit,
        })
    }

    /// Takes a slot in the owners' lane, waiting for one (a few owners at once, never a
    /// flood: only a device token the account issued gets here).
    pub async fn reserve_for_owner(self: &Arc<Self>) -> Result<Slot, Busy> {
        let permit = self
            .owners
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Busy)?;
        Ok(Slot {
            hashing: self.clone(),
            permit,
        })
    }

    /// Folds one hash's time into the moving average (an eighth of the way).
    fn timed(&self, took: std::time::Duration) {
        let sample = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let old = self.typical_micros.load(Ordering::Relaxed);
        let new = old - old / 8 + sample / 8;
        self.typical_micros.store(new, Ordering::Relaxed);
        self.hashed.fetch_add(1, Ordering::Relaxed);
    }

    /// Hashes made since start: what sign-ins cost in cores.
    pub fn hashes_made(&self) -> u64 {
        self.hashed.load(Ordering::Relaxed)
    }

    /// How long a hash takes here, as [`Slot::hold`] keeps a slot.
    pub fn typical(&self) -> std::time::Duration {
        std::time::Duration::from_micros(self.typical_micros.load(Ordering::Relaxed))
    }

    /// How many working buffers exist: never more than the slots.
    pub fn buffers_allocated(&self) -> usize {
        self.buffers.load(Ordering::Relaxed)
    }

    /// Hashes a new password.
    pub async fn hash(self: &Arc<Self>, password: Password) -> Result<String, Busy> {
        self.reserve()?
            .run(move |memory| hash_with(&password, memory))
            .await
    }
}

/// What a hash is taken to cost before one has been timed: OWASP's parameters on a
/// server core of today.
const INITIAL_TYPICAL_MICROS: u64 = 20_000;

/// Half the cores, at least one.
pub fn default_slots() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// One hashing thread: at a lower scheduling priority than the threads that serve
/// requests, so that a flood of sign-ins, which keeps every slot busy, leaves other
/// requests their share of the cores; with a working buffer of its own, allocated at its
/// first hash and reused for every one after.
fn hashing_thread(queue: &Mutex<std::sync::mpsc::Receiver<Job>>, buffers: &AtomicUsize) {
    lower_priority();
    let mut memory: Option<Vec<Block>> = None;
    loop {
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else {
            return;
        };
        let memory = memory.get_or_insert_with(|| {
            buffers.fetch_add(1, Ordering::Relaxed);
            buffer()
        });
        // A panic must not take the thread, and with it a slot, away for good.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(memory)));
    }
}

/// The calling thread runs only when no ordinary thread wants the core (SCHED_IDLE; Linux
/// keeps the policy per thread), so a request never waits behind a hash; failing that, at
/// nice 10.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: sched_setscheduler reads `param` only during the call; pid 0 is the caller.
        let idle = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
        // SAFETY: setpriority only reads its integer arguments; who = 0 is the caller.
        if idle != 0 && unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 10) } != 0 {
            tracing::warn!("password hashing runs at normal priority");
        }
    }
}

/// A hashing slot, held from before an attempt is looked at until its hash is done.
pub struct Slot {
    hashing: Arc<Hashing>,
    permit: tokio::sync::OwnedSemaphorePermit,
}

impl Slot {
    /// Runs `f` with a working buffer on a hashing thread, releasing the slot when done.
    async fn run<T: Send + 'static>(
        self,
        f: impl FnOnce(&mut [Block]) -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let Slot { hashing, permit } = self;
        let (done, result) = tokio::sync::oneshot::channel();
        let timed = hashing.clone();
        let job: Job = Box::new(move |memory| {
            let started = std::time::Instant::now();
            let out = f(memory);
            timed.timed(started.elapsed());
            // Free before answering, so that the slot is free once the answer is seen.
            drop(permit);
            let _ = done.send(out);
        });
        hashing
            .jobs
            .lock()
            .map_err(|_| Busy)?
            .send(job)
            .map_err(|_| Busy)?;
        result.await.map_err(|_| Busy)
    }

    /// Keeps the slot for as long as a hash takes, without hashing: for an attempt whose
    /// answer no password could change. Slots then bound how fast such attempts are
    /// answered exactly as they bound hashed ones, but the core is left to other work (a
    /// hashing core, even at the lowest priority, slows the database's processes beside
    /// it).
    pub async fn hold(self) {
        let micros = self.hashing.typical_micros.load(Ordering::Relaxed);
        tokio::time::sleep(std::time::Duration::from_micros(micros)).await;
    }

    /// Checks `password` against `stored`, or against nothing (same cost) when there is no
    /// account.
    pub async fn verify(self, password: Password, stored: Option<String>) -> Result<bool, Busy> {
        self.run(move |memory| match stored {
            Some(stored) => verify_with(&password, &stored, memory),
            None => {
                verify_with(&password, dummy(), memory);
                false
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_at_owasp_parameters_and_verify() {
        let p = Password::new("correct horse battery".into()).unwrap();
        let h = hash(&p);
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify(&p, &h));
        assert!(!verify(
            &Password::attempt("correct horse battery!".into()),
            &h
        ));
        assert!(!verify(&p, "not a hash"));
        assert_ne!(h, hash(&p), "salted");
    }

    #[test]
    fn hashes_made_by_the_argon2_crate_itself_verify_whatever_their_parameters() {
        use argon2::password_hash::PasswordHasher;
        let p = Password::new("correct horse battery".into()).unwrap();
        let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
        for params in [params(), Params::new(8 * 1024, 3, 1, None).unwrap()] {
            let theirs = hasher(params)
                .hash_password(p.expose().as_bytes(), &salt)
                .unwrap()
                .to_string();
            assert!(verify(&p, &theirs), "{theirs}");
            assert!(!verify(&Password::attempt("wrong".into()), &theirs));
        }
    }

    #[tokio::test]
    async fn a_full_pool_refuses_at_once_and_buffers_are_reused() {
        let hashing = Hashing::new(1);
        let p = Password::new("correct horse battery".into()).unwrap();
        let stored = hashing.hash(p.clone()).await.unwrap();
        let held = hashing.reserve().unwrap();
        assert!(hashing.reserve().is_err(), "the one slot is taken");
        assert!(hashing.hash(p.clone()).await.is_err());
        drop(held);
        let slot = hashing.reserve().unwrap();
        assert!(slot.verify(p, Some(stored)).await.unwrap());
        let slot = hashing.reserve().unwrap();
        assert!(!slot
            .verify(Password::attempt("x".into()), None)
            .await
            .unwrap());
        assert_eq!(hashing.buffers_allocated(), 1, "one slot, one buffer");
        assert_eq!(hashing.hashes_made(), 3);
    }

    #[tokio::test]
    async fn a_held_slot_is_busy_for_as_long_as_a_hash_takes_and_hashes_nothing() {
        let hashing = Hashing::new(1);
        hashing
            .hash(Password::new("correct horse battery".into()).unwrap())
            .await
            .unwrap();
        let typical = hashing.typical();
        assert!(typical > std::time::Duration::ZERO);
        let started = std::time::Instant::now();
        let held = tokio::spawn(hashing.reserve().unwrap().hold());
        tokio::task::yield_now().await;
        assert!(hashing.reserve().is_err(), "the slot is held");
        held.await.unwrap();
        assert!(started.elapsed() >= typical, "{:?}", started.elapsed());
        assert!(hashing.reserve().is_ok(), "and then free");
        assert_eq!(hashing.hashes_made(), 1, "holding is not hashing");
    }
}
