//! `iro-advice demo seed`: clearly synthetic data for trying the service and for measuring
//! it. IROs and advisers over the real authorities in proportion to their population,
//! queries with plausible lifecycles (declines, routes, reminders, replies, outcomes),
//! pressure reports concentrated in a few authorities, and one log leaf for every act, at
//! the act's own time, so that the log and the statistics tell the same story.
//!
//! Rows are written to the service's own tables with multi-row inserts, and the log through
//! [`crate::log::store::append_batch`] (the same leaf encoding, pseudonyms and tree as live
//! acts; one signed checkpoint per batch instead of per act). Messages carry no ciphertext:
//! a seeded reply is its log leaf and the query's `first_reply_at`. Seeded accounts have no
//! usable password and no key; every email ends in `@demo.iro-advice.invalid`.
//!
//! The whole seed is one transaction: it lands complete or not at all.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::accounts::passwords;
use crate::db::now;
use crate::db::schema::{accounts, pressure_reports, queries, query_declines};
use crate::db::{on_backend, write_transaction, DbConnection};
use crate::log::store::{append_batch, BatchLeaf};
use crate::log::{Actor, Details, Event, Kind, LogError, LogKeys, Subject};
use iro_advice_model::accounts::{Password, Role};
use iro_advice_model::period::Month;
use iro_advice_model::pressure::PressureKind;
use iro_advice_model::queries::{Category, DeclineReason, Outcome, Stage, Urgency};

/// The email domain of every seeded account: reserved, so no mail can ever reach anyone.
pub const DEMO_DOMAIN: &str = "demo.iro-advice.invalid";

#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub iros: usize,
    pub queries: usize,
    /// The first month with activity; the seed runs from there to now, or to the start of
    /// `until` when given (so that the same seed gives the same data on any later day).
    pub from: Month,
    pub until: Option<Month>,
    /// The same seed gives the same data (apart from identifiers' pseudonyms and nonces).
    pub seed: u64,
    pub reminder_routine_minutes: i64,
    pub reminder_urgent_minutes: i64,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct SeedSummary {
    pub iros: usize,
    pub advisers: usize,
    pub queries: usize,
    pub declines: usize,
    pub pressure_reports: usize,
    pub log_leaves: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo data is refused under the {0} profile")]
    Refused(String),
    #[error("the database already holds accounts; demo data goes only into an empty one")]
    NotEmpty,
    #[error("--from must be a month before the current one, and before --until")]
    FromNotInPast,
    #[error("--until must not be later than the current month")]
    UntilInFuture,
    #[error("--iros must be at least 1 and --queries at most 1,000,000")]
    Size,
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Log(#[from] LogError),
}

/// SplitMix64: small, fast and good enough for synthetic data; seeded so runs repeat.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    /// Exponentially distributed hours with the given mean, as a duration.
    fn hours(&mut self, mean: f64) -> Duration {
        let h = -(1.0 - self.unit()).ln() * mean;
        Duration::seconds((h * 3600.0) as i64 + 60)
    }
    fn uuid(&mut self) -> String {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next().to_le_bytes());
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }
    fn pick<T: Copy>(&mut self, weighted: &Weighted<T>) -> T {
        weighted.pick(self.unit())
    }
}

/// A weighted choice, by cumulative weight.
struct Weighted<T> {
    items: Vec<T>,
    cumulative: Vec<f64>,
}

impl<T: Copy> Weighted<T> {
    fn new(pairs: impl IntoIterator<Item = (T, f64)>) -> Self {
        let (mut items, mut cumulative, mut sum) = (Vec::new(), Vec::new(), 0.0);
        for (item, w) in pairs {
            sum += w;
            items.push(item);
            cumulative.push(sum);
        }
        Weighted { items, cumulative }
    }
    fn pick(&self, u: f64) -> T {
        let target = u * self.cumulative.last().copied().unwrap_or(0.0);
        let i = self.cumulative.partition_point(|c| *c <= target);
        self.items[i.min(self.items.len() - 1)]
    }
}

/// An act to be logged, compactly: indices into the seed's own tables.
struct Act {
    at: NaiveDateTime,
    kind: Kind,
    /// An index into `accounts`, or `None` for the service itself.
    actor: Option<u32>,
    subject: SubjectRef,
    authority: u16,
    /// What the statistics count about it, in its leaf's opening.
    details: Details,
}

#[derive(Clone, Copy)]
enum SubjectRef {
    Query(u32),
    Account(u32),
    Pressure(u32),
}

struct Account {
    id: String,
    authority: Option<u16>,
    registered: NaiveDateTime,
}

/// Fills an empty database. `keys` are the running service's log keys.
pub fn seed(
    conn: &mut DbConnection,
    keys: &LogKeys,
    options: &SeedOptions,
) -> Result<SeedSummary, DemoError> {
    if options.iros == 0 || options.queries > 1_000_000 {
        return Err(DemoError::Size);
    }
    let now = now();
    let end = match options.until {
        Some(until) if Month::of(now.date()) < until => return Err(DemoError::UntilInFuture),
        Some(until) => until.first_day().and_hms_opt(0, 0, 0).expect("midnight"),
        None => now,
    };
    let start = options
        .from
        .first_day()
        .and_hms_opt(0, 0, 0)
        .expect("midnight");
    if end <= start {
        return Err(DemoError::FromNotInPast);
    }
    // Hashed once: nobody knows this password, and no seeded account can log in with it.
    let unusable = passwords::hash(
        &Password::new(crate::keys::hex(&crate::keys::random_bytes::<24>()))
            .expect("a long random password"),
    );
    write_transaction(conn, |conn| {
        let existing: i64 = accounts::table.count().get_result(conn)?;
        if existing > 0 {
            return Err(DemoError::NotEmpty);
        }
        let mut rng = Rng(options.seed);
        let world = World::new(&mut rng, options, start, end);
        world.write(conn, keys, &unusable)
    })
}

struct QueryRow {
    id: String,
    iro: u32,
    adviser: u32,
    authority: u16,
    category: Category,
    stage: Stage,
    urgency: Urgency,
    created: NaiveDateTime,
    routed: NaiveDateTime,
    accepted: Option<NaiveDateTime>,
    first_reply: Option<NaiveDateTime>,
    closed: Option<(NaiveDateTime, Outcome)>,
    reminded: Option<NaiveDateTime>,
    declined: bool,
}

struct World {
    accounts: Vec<Account>,
    roles: Vec<(&'static str, Option<&'static str>)>,
    iros: usize,
    queries: Vec<QueryRow>,
    declines: Vec<(u32, u32, DeclineReason, NaiveDateTime)>,
    pressure: Vec<(
        String,
        u32,
        u16,
        PressureKind,
        NaiveDate,
        bool,
        NaiveDateTime,
    )>,
    acts: Vec<Act>,
}

impl World {
    fn new(rng: &mut Rng, o: &SeedOptions, start: NaiveDateTime, end: NaiveDateTime) -> World {
        let all = iro_advice_model::authorities::all();
        let by_population = Weighted::new(
            all.iter()
                .enumerate()
                .map(|(i, a)| (i as u16, a.population as f64)),
        );
        // A few authorities where IROs are under pressure: they report it, and ask less.
        let pressured: Vec<u16> = (0..8).map(|_| rng.pick(&by_population)).collect();
        let span = (end - start).num_seconds().max(1);
        let at = |rng: &mut Rng, from: NaiveDateTime| {
            let left = (end - from).num_seconds().max(1);
            from + Duration::seconds((rng.next() % left as u64) as i64)
        };

        let mut world = World {
            accounts: Vec::new(),
            roles: Vec::new(),
            iros: o.iros,
            queries: Vec::with_capacity(o.queries),
            declines: Vec::new(),
            pressure: Vec::new(),
            acts: Vec::with_capacity(o.queries * 5),
        };
        // IROs: most join at launch, the rest over the months that follow.
        for _ in 0..o.iros {
            let authority = rng.pick(&by_population);
            let registered = if rng.chance(0.6) {
                start + Duration::seconds((rng.next() % (14 * 86_400).min(span as u64)) as i64)
            } else {
                at(rng, start)
            };
            world.add_account(rng, Some(authority), registered, ("iro", None));
        }
        let solicitors = (o.iros / 8).max(5);
        let peers = (o.iros / 15).max(3);
        for i in 0..solicitors + peers {
            let peer = i >= solicitors;
            let authority = peer.then(|| rng.pick(&by_population));
            let registered =
                start + Duration::seconds((rng.next() % (7 * 86_400).min(span as u64)) as i64);
            let kind = if peer { "peer" } else { "solicitor" };
            world.add_account(rng, authority, registered, ("adviser", Some(kind)));
        }
        let advisers: Vec<u32> = (o.iros..world.accounts.len()).map(|i| i as u32).collect();

        // Who asks: 15% of IROs never do (40% where they are under pressure); the rest ask
        // at rates that vary a good deal from one IRO to the next.
        let askers = Weighted::new((0..o.iros).filter_map(|i| {
            let authority = world.accounts[i]
                .authority
                .expect("every seeded IRO has an authority");
            let never = if pressured.contains(&authority) {
                0.4
            } else {
                0.15
            };
            (!rng.chance(never)).then(|| (i as u32, 0.2 + rng.unit() * 2.0))
        }));
        let categories = Weighted::new(
            [18.0, 20.0, 14.0, 12.0, 10.0, 6.0, 5.0, 8.0, 7.0]
                .into_iter()
                .enumerate()
                .map(|(i, w)| (Category::ALL[i], w)),
        );
        let stages = Weighted::new(
            [30.0, 30.0, 20.0, 10.0, 6.0, 4.0]
                .into_iter()
                .enumerate()
                .map(|(i, w)| (Stage::ALL[i], w)),
        );
        let outcomes = Weighted::new([
            (Outcome::AdviceGiven, 55.0),
            (Outcome::ResolvedInformally, 20.0),
            (Outcome::Escalated, 12.0),
            (Outcome::ReferredToCafcass, 6.0),
            (Outcome::Withdrawn, 7.0),
        ]);
        let reasons = Weighted::new([
            (DeclineReason::Conflict, 25.0),
            (DeclineReason::Capacity, 45.0),
            (DeclineReason::Expertise, 20.0),
            (DeclineReason::Other, 10.0),
        ]);
        let kinds = Weighted::new(PressureKind::ALL.iter().map(|k| (*k, 1.0)));

        if !askers.items.is_empty() {
            for q in 0..o.queries {
                let iro = rng.pick(&askers);
                let account = &world.accounts[iro as usize];
                let authority = account
                    .authority
                    .expect("every seeded IRO has an authority");
                let created = at(rng, account.registered);
                world.add_query(
                    rng,
                    q as u32,
                    (iro, authority, created),
                    &advisers,
                    (&categories, &stages, &outcomes, &reasons),
                    o,
                    end,
                );
            }
        }

        // Pressure reports: one for every dozen queries, most from the pressured authorities.
        let from_pressured: Vec<u32> = (0..o.iros as u32)
            .filter(|i| {
                pressured.contains(
                    &world.accounts[*i as usize]
                        .authority
                        .expect("every seeded IRO has an authority"),
                )
            })
            .collect();
        for p in 0..o.queries / 12 {
            let iro = if !from_pressured.is_empty() && rng.chance(0.7) {
                from_pressured[rng.below(from_pressured.len())]
            } else {
                rng.below(o.iros) as u32
            };
            let account = &world.accounts[iro as usize];
            let authority = account
                .authority
                .expect("every seeded IRO has an authority");
            let reported = at(rng, account.registered);
            let occurred = (reported - rng.hours(72.0)).date().max(start.date());
            let kind = rng.pick(&kinds);
            world.pressure.push((
                rng.uuid(),
                iro,
                authority,
                kind,
                occurred,
                rng.chance(0.1),
                reported,
            ));
            world.acts.push(Act {
                at: reported,
                kind: Kind::PressureReported,
                actor: Some(iro),
                subject: SubjectRef::Pressure(p as u32),
                authority,
                details: Details::Pressure(kind),
            });
        }
        world.acts.sort_by_key(|a| a.at);
        world
    }

    fn add_account(
        &mut self,
        rng: &mut Rng,
        authority: Option<u16>,
        registered: NaiveDateTime,
        role: (&'static str, Option<&'static str>),
    ) {
        let index = self.accounts.len() as u32;
        self.accounts.push(Account {
            id: rng.uuid(),
            authority,
            registered,
        });
        self.roles.push(role);
        self.acts.push(Act {
            at: registered,
            kind: Kind::AccountCreated,
            actor: None,
            subject: SubjectRef::Account(index),
            authority: authority.unwrap_or(u16::MAX),
            details: Details::Account {
                role: role.0.parse().unwrap_or(Role::Adviser),
                counted: true,
            },
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn add_query(
        &mut self,
        rng: &mut Rng,
        index: u32,
        (iro, authority, created): (u32, u16, NaiveDateTime),
        advisers: &[u32],
        (categories, stages, outcomes, reasons): (
            &Weighted<Category>,
            &Weighted<Stage>,
            &Weighted<Outcome>,
            &Weighted<DeclineReason>,
        ),
        o: &SeedOptions,
        end: NaiveDateTime,
    ) {
        let urgency = if rng.chance(0.2) {
            Urgency::Urgent
        } else {
            Urgency::Routine
        };
        let urgent = urgency == Urgency::Urgent;
        // A peer adviser is never asked about their own authority.
        let choose = |rng: &mut Rng, not: Option<u32>| loop {
            let a = advisers[rng.below(advisers.len())];
            let own = self.accounts[a as usize].authority == Some(authority);
            if !own && Some(a) != not {
                return a;
            }
        };
        let mut adviser = choose(rng, None);
        let mut q = QueryRow {
            id: rng.uuid(),
            iro,
            adviser,
            authority,
            category: rng.pick(categories),
            stage: rng.pick(stages),
            urgency,
            created,
            routed: created,
            accepted: None,
            first_reply: None,
            closed: None,
            reminded: None,
            declined: false,
        };
        let mut acts = vec![(
            created,
            Kind::QuerySubmitted,
            Some(iro),
            Details::Query {
                category: q.category,
                stage: q.stage,
            },
        )];
        let reminder = Duration::minutes(if urgent {
            o.reminder_urgent_minutes
        } else {
            o.reminder_routine_minutes
        });
        'life: {
            if rng.chance(0.12) {
                let declined = q.routed + rng.hours(if urgent { 2.0 } else { 10.0 });
                if declined > end {
                    break 'life;
                }
                let reason = rng.pick(reasons);
                self.declines.push((index, adviser, reason, declined));
                acts.push((
                    declined,
                    Kind::QueryDeclined,
                    Some(adviser),
                    Details::Decline(reason),
                ));
                q.declined = true;
                if rng.chance(0.15) {
                    let closed = declined + rng.hours(24.0);
                    if closed <= end {
                        q.closed = Some((closed, Outcome::Withdrawn));
                        acts.push((
                            closed,
                            Kind::QueryClosed,
                            Some(iro),
                            Details::Outcome(Outcome::Withdrawn),
                        ));
                    }
                    break 'life;
                }
                let routed = declined + rng.hours(6.0);
                if routed > end {
                    break 'life;
                }
                adviser = choose(rng, Some(adviser));
                q.adviser = adviser;
                q.routed = routed;
                q.declined = false;
                acts.push((routed, Kind::QueryRouted, Some(iro), Details::None));
            }
            // Some are never taken up: withdrawn after a week or so.
            let accepted = if rng.chance(0.05) {
                None
            } else {
                Some(q.routed + rng.hours(if urgent { 3.0 } else { 20.0 }))
            };
            let due = q.routed + reminder;
            if accepted.is_none_or(|a| a > due) && due <= end {
                q.reminded = Some(due);
                acts.push((due, Kind::ReminderSent, None, Details::None));
            }
            let Some(accepted) = accepted.filter(|a| *a <= end) else {
                let closed = q.routed + Duration::days(7) + rng.hours(72.0);
                if accepted.is_none() && closed <= end {
                    q.closed = Some((closed, Outcome::Withdrawn));
                    acts.push((
                        closed,
                        Kind::QueryClosed,
                        Some(iro),
                        Details::Outcome(Outcome::Withdrawn),
                    ));
                }
                break 'life;
            };
            q.accepted = Some(accepted);
            acts.push((accepted, Kind::QueryAccepted, Some(adviser), Details::None));
            let reply = accepted + rng.hours(if urgent { 2.0 } else { 16.0 });
            if reply > end {
                break 'life;
            }
            q.first_reply = Some(reply);
            acts.push((reply, Kind::MessageSent, Some(adviser), Details::None));
            let mut last = reply;
            if rng.chance(0.5) {
                last = reply + rng.hours(12.0);
                if last > end {
                    break 'life;
                }
                acts.push((last, Kind::MessageSent, Some(iro), Details::None));
            }
            let closed = last + rng.hours(7.0 * 24.0);
            if closed <= end {
                let outcome = rng.pick(outcomes);
                q.closed = Some((closed, outcome));
                acts.push((
                    closed,
                    Kind::QueryClosed,
                    Some(iro),
                    Details::Outcome(outcome),
                ));
            }
        }
        for (at, kind, actor, details) in acts {
            self.acts.push(Act {
                at,
                kind,
                actor,
                subject: SubjectRef::Query(index),
                authority,
                details,
            });
        }
        self.queries.push(q);
    }

    fn write(
        self,
        conn: &mut DbConnection,
        keys: &LogKeys,
        password_hash: &str,
    ) -> Result<SeedSummary, DemoError> {
        let codes: Vec<&str> = iro_advice_model::authorities::all()
            .iter()
            .map(|a| a.code.as_str())
            .collect();
        let code = |i: u16| codes.get(i as usize).copied();

        for (chunk_no, chunk) in self.accounts.chunks(1_000).enumerate() {
            let rows: Vec<_> = chunk
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let n = chunk_no * 1_000 + i;
                    let (role, kind) = self.roles[n];
                    (
                        accounts::id.eq(&a.id),
                        accounts::role.eq(role),
                        accounts::email.eq(format!("{role}-{n:06}@{DEMO_DOMAIN}")),
                        accounts::display_name.eq(format!("Demo {role} {n}")),
                        accounts::password_hash.eq(password_hash),
                        accounts::authority_code.eq(a.authority.and_then(code)),
                        accounts::adviser_kind.eq(kind),
                        accounts::status.eq("active"),
                        accounts::accepting.eq(role == "adviser"),
                        accounts::totp_enabled.eq(false),
                        accounts::totp_last_step.eq(0i64),
                        accounts::created_at.eq(a.registered),
                        accounts::approved_at.eq(Some(a.registered)),
                    )
                })
                .collect();
            on_backend!(conn, |c| diesel::insert_into(accounts::table)
                .values(&rows)
                .execute(c))?;
        }
        let id = |i: u32| self.accounts[i as usize].id.as_str();

        for chunk in self.queries.chunks(1_000) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|q| {
                    let status = match (q.closed, q.declined, q.accepted) {
                        (Some(_), _, _) => "closed",
                        (None, true, _) => "declined",
                        (None, false, Some(_)) => "accepted",
                        (None, false, None) => "submitted",
                    };
                    (
                        queries::id.eq(&q.id),
                        queries::iro_id.eq(id(q.iro)),
                        queries::adviser_id.eq(id(q.adviser)),
                        queries::authority_code
                            .eq(code(q.authority).expect("every seeded IRO has an authority")),
                        queries::category.eq(q.category.as_str()),
                        queries::stage.eq(q.stage.as_str()),
                        queries::urgency.eq(q.urgency.as_str()),
                        queries::status.eq(status),
                        queries::outcome.eq(q.closed.map(|(_, o)| o.as_str())),
                        queries::created_at.eq(q.created),
                        queries::routed_at.eq(q.routed),
                        queries::accepted_at.eq(q.accepted),
                        queries::first_reply_at.eq(q.first_reply),
                        queries::closed_at.eq(q.closed.map(|(t, _)| t)),
                        queries::reminded_at.eq(q.reminded),
                    )
                })
                .collect();
            on_backend!(conn, |c| diesel::insert_into(queries::table)
                .values(&rows)
                .execute(c))?;
        }
        for chunk in self.declines.chunks(2_000) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|(q, adviser, reason, at)| {
                    (
                        query_declines::query_id.eq(&self.queries[*q as usize].id),
                        query_declines::adviser_id.eq(id(*adviser)),
                        query_declines::reason.eq(reason.as_str()),
                        query_declines::declined_at.eq(*at),
                    )
                })
                .collect();
            on_backend!(conn, |c| diesel::insert_into(query_declines::table)
                .values(&rows)
                .execute(c))?;
        }
        for chunk in self.pressure.chunks(2_000) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|(pid, iro, authority, kind, occurred, shared, at)| {
                    (
                        pressure_reports::id.eq(pid),
                        pressure_reports::iro_id.eq(id(*iro)),
                        pressure_reports::authority_code
                            .eq(code(*authority).expect("every seeded IRO has an authority")),
                        pressure_reports::kind.eq(kind.as_str()),
                        pressure_reports::occurred_on.eq(*occurred),
                        pressure_reports::shared_with_nairo.eq(*shared),
                        pressure_reports::created_at.eq(*at),
                    )
                })
                .collect();
            on_backend!(conn, |c| diesel::insert_into(pressure_reports::table)
                .values(&rows)
                .execute(c))?;
        }

        // Every act, in the order it happened, a leaf each.
        let mut pseudonyms: HashMap<i64, Vec<u8>> = HashMap::new();
        let mut size = 0;
        for chunk in self.acts.chunks(20_000) {
            let batch: Vec<BatchLeaf> = chunk
                .iter()
                .map(|act| {
                    let (actor, actor_key) = match act.actor {
                        Some(i) => (Actor::Account(id(i)), i64::from(i)),
                        None if act.kind == Kind::AccountCreated => (Actor::Operator, -1),
                        None => (Actor::System, -2),
                    };
                    let subject = match act.subject {
                        SubjectRef::Query(i) => Subject::Query(&self.queries[i as usize].id),
                        SubjectRef::Account(i) => Subject::Account(id(i)),
                        SubjectRef::Pressure(i) => {
                            Subject::PressureReport(&self.pressure[i as usize].0)
                        }
                    };
                    let event = Event {
                        details: act.details,
                        kind: act.kind,
                        actor,
                        subject,
                        authority: code(act.authority),
                    };
                    let written = keys.write(&event, act.at.and_utc().timestamp());
                    BatchLeaf {
                        kind: act.kind,
                        data: written.data,
                        opening: written.opening,
                        actor: pseudonyms
                            .entry(actor_key)
                            .or_insert_with(|| keys.actor_pseudonym(actor).to_vec())
                            .clone(),
                        at: act.at,
                    }
                })
                .collect();
            size = append_batch(conn, keys, &batch)?;
        }
        Ok(SeedSummary {
            iros: self.iros,
            advisers: self.accounts.len() - self.iros,
            queries: self.queries.len(),
            declines: self.declines.len(),
            pressure_reports: self.pressure.len(),
            log_leaves: size,
        })
    }
}
