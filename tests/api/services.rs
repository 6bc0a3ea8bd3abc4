//! The query and pressure services, called directly on a database with no HTTP in between,
//! as kanidm tests its server library apart from its HTTPS layer: each rule is checked on
//! SQLite and PostgreSQL, and a refusal is checked to change nothing.

use iro_advice_model::accounts::{AccountId, AdviserKind, Language, Role};
use iro_advice_model::authorities::AuthorityCode;
use iro_advice_model::ciphertext::AgeArmored;
use iro_advice_model::problem::ProblemType;
use iro_advice_model::queries::{Category, DeclineReason, Outcome, QueryId, Stage, Urgency};
use iro_advice_server::accounts::store::{self, NewAccount};
use iro_advice_server::accounts::{Caller, IroCaller};
use iro_advice_server::db::{write_transaction, Database};
use iro_advice_server::http::error::ApiError;
use iro_advice_server::queries::service::{self, AskInput, RouteInput};
use iro_advice_server::tx::{Tx, WriteContext};
use tempfile::TempDir;

use iro_advice_testkit::{test_settings, unique_name, Backend, PgTestDb};

/// A migrated database with the service's keys, and nothing else.
struct Services {
    db: Database,
    context: WriteContext,
    _dir: TempDir,
    _pg: Option<PgTestDb>,
}

impl Services {
    fn open(backend: Backend) -> Services {
        let dir = tempfile::tempdir().unwrap();
        let (pg, url) = match backend {
            Backend::Sqlite => (
                None,
                format!("sqlite://{}", dir.path().join("services.db").display()),
            ),
            Backend::Postgres => {
                let pg = PgTestDb::create().expect("TEST_DATABASE_URL names a PostgreSQL server");
                let url = pg.url.clone();
                (Some(pg), url)
            }
        };
        let settings = test_settings(dir.path(), &url, &[]);
        Services {
            db: iro_advice_server::http::server::prepare_database(&settings).unwrap(),
            context: iro_advice_server::http::server::write_context(&settings).unwrap(),
            _dir: dir,
            _pg: pg,
        }
    }

    /// Runs `f` in one write transaction, as a handler's `state.write` does.
    fn write<T, E: From<diesel::result::Error>>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.db.get().unwrap();
        write_transaction(&mut conn, |conn| f(&mut Tx::new(conn, &self.context)))
    }

    fn count(&self, table: &str) -> i64 {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.db.get().unwrap();
        diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
            .get_result::<Count>(&mut *conn)
            .unwrap()
            .n
    }

    /// An active account with a key, as signing up and `keygen` would leave it.
    fn account(&self, role: Role, authority: Option<&str>, kind: Option<AdviserKind>) -> Person {
        let id = AccountId::generate();
        let identity = age::x25519::Identity::generate();
        let email = format!("{}@services.test", unique_name(role.as_str()));
        let mut conn = self.db.get().unwrap();
        store::insert_account(
            &mut conn,
            &NewAccount {
                id: &id,
                role,
                email: &email,
                display_name: "Test Person",
                password_hash: "unused",
                authority_code: authority,
                adviser_kind: kind,
                notification_email: None,
                approved: true,
                language: Language::En,
            },
        )
        .unwrap();
        store::set_key(&mut conn, &id, &identity.to_public().to_string(), None).unwrap();
        Person {
            caller: Caller {
                account_id: id,
                role,
                authority: authority.map(|a| AuthorityCode::parse(a).unwrap()),
                adviser_kind: kind,
                session_id: String::new(),
            },
            identity,
        }
    }
}

struct Person {
    caller: Caller,
    identity: age::x25519::Identity,
}

impl Person {
    fn iro(&self) -> IroCaller {
        IroCaller::try_from(self.caller.clone()).unwrap()
    }
    fn recipient(&self) -> age::x25519::Recipient {
        self.identity.to_public()
    }
}

fn to(text: &str, readers: &[&Person]) -> AgeArmored {
    let recipients: Vec<_> = readers.iter().map(|p| p.recipient()).collect();
    iro_advice_client::encrypt_armored(text.as_bytes(), &recipients).unwrap()
}

/// The problem type a client would be answered with for the service's refusal.
fn problem<E: Into<ApiError>>(result: Result<impl std::fmt::Debug, E>) -> ProblemType {
    match result {
        Ok(done) => panic!("the service did not refuse: {done:?}"),
        Err(e) => e.into().problem_type(),
    }
}

macro_rules! on_both_databases {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[test]
            fn sqlite() {
                super::$test(super::Services::open(iro_advice_testkit::Backend::Sqlite));
            }
            #[test]
            #[cfg_attr(not(postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
            fn postgres() {
                super::$test(super::Services::open(iro_advice_testkit::Backend::Postgres));
            }
        }
    )*};
}

on_both_databases!(
    a_query_goes_from_ask_to_close_with_a_leaf_and_a_notice_per_act,
    routing_replaces_every_message_or_nothing,
    an_adviser_answers_once_and_only_queries_put_to_them,
    conflicted_advisers_cannot_be_asked_and_nothing_is_stored,
    pressure_reports_in_the_future_leave_nothing,
);

const HEREFORDSHIRE: &str = "E06000019";
const SHROPSHIRE: &str = "E06000051";

fn ask(s: &Services, iro: &Person, adviser: &Person, text: &str) -> QueryId {
    let input = AskInput {
        adviser_id: adviser.caller.account_id.clone(),
        category: Category::Placement,
        stage: Stage::Informal,
        urgency: Urgency::Routine,
        body: to(text, &[iro, adviser]),
    };
    s.write(|tx| service::ask(tx, &iro.iro(), input)).unwrap().0
}

fn a_query_goes_from_ask_to_close_with_a_leaf_and_a_notice_per_act(s: Services) {
    let iro = s.account(Role::Iro, Some(HEREFORDSHIRE), None);
    let adviser = s.account(Role::Adviser, None, Some(AdviserKind::Solicitor));
    let id = ask(&s, &iro, &adviser, "May the plan drift?");
    assert_eq!((s.count("log_leaves"), s.count("outbox")), (1, 1));

    let accepted = s
        .write(|tx| service::accept(tx, &adviser.caller, &id))
        .unwrap();
    assert_eq!(accepted.leaf_index, Some(1));
    let reply = to("It may not.", &[&iro, &adviser]);
    s.write(|tx| service::reply(tx, &adviser.caller, &id, &reply))
        .unwrap();
    let closed = s
        .write(|tx| service::close(tx, &iro.iro(), &id, Outcome::AdviceGiven))
        .unwrap();
    assert_eq!(closed.leaf_index, Some(3));
    // Submitted, accepted, answered, closed: a leaf each, and the other side told each time.
    assert_eq!((s.count("log_leaves"), s.count("outbox")), (4, 4));
    assert_eq!(s.count("messages"), 2);

    // Closed is closed: a second close and a late reply are refused and add nothing.
    let again = s.write(|tx| service::close(tx, &iro.iro(), &id, Outcome::Withdrawn));
    assert_eq!(problem(again), ProblemType::QueryState);
    let late = s.write(|tx| service::reply(tx, &iro.caller, &id, &reply));
    assert_eq!(problem(late), ProblemType::QueryState);
    assert_eq!((s.count("log_leaves"), s.count("messages")), (4, 2));
}

fn routing_replaces_every_message_or_nothing(s: Services) {
    let iro = s.account(Role::Iro, Some(HEREFORDSHIRE), None);
    let first = s.account(Role::Adviser, None, Some(AdviserKind::Solicitor));
    let second = s.account(Role::Adviser, None, Some(AdviserKind::Solicitor));
    let id = ask(&s, &iro, &first, "Who decides contact?");
    s.write(|tx| service::decline(tx, &first.caller, &id, DeclineReason::Capacity))
        .unwrap();
    let message = {
        let mut conn = s.db.get().unwrap();
        iro_advice_server::queries::store::messages_of(&mut conn, &id).unwrap()[0]
            .id
            .clone()
    };
    let leaves = s.count("log_leaves");

    // Left out, given twice, or back to the adviser who declined: refused, nothing changes.
    let none = RouteInput {
        adviser_id: second.caller.account_id.clone(),
        messages: vec![],
    };
    let refused = s.write(|tx| service::route(tx, &iro.iro(), &id, none));
    assert_eq!(problem(refused), ProblemType::MessagesMismatch);
    let twice = RouteInput {
        adviser_id: second.caller.account_id.clone(),
        messages: vec![
            (
                message.clone(),
                to("Who decides contact?", &[&iro, &second]),
            ),
            (
                message.clone(),
                to("Who decides contact?", &[&iro, &second]),
            ),
        ],
    };
    let refused = s.write(|tx| service::route(tx, &iro.iro(), &id, twice));
    assert_eq!(problem(refused), ProblemType::MessagesMismatch);
    let back = RouteInput {
        adviser_id: first.caller.account_id.clone(),
        messages: vec![(message.clone(), to("Who decides contact?", &[&iro, &first]))],
    };
    let refused = s.write(|tx| service::route(tx, &iro.iro(), &id, back));
    assert_eq!(problem(refused), ProblemType::AdviserNotEligible);
    assert_eq!(s.count("log_leaves"), leaves);
    let unchanged = s
        .write(|tx| {
            let keys = tx.log_keys();
            service::visible(tx.conn, &keys, &iro.caller, &id)
        })
        .unwrap();
    assert_eq!(unchanged.adviser_id, first.caller.account_id);

    // Every message once, re-encrypted: the new adviser can read it, the old one cannot.
    let input = RouteInput {
        adviser_id: second.caller.account_id.clone(),
        messages: vec![(message, to("Who decides contact?", &[&iro, &second]))],
    };
    s.write(|tx| service::route(tx, &iro.iro(), &id, input))
        .unwrap();
    assert_eq!(s.count("log_leaves"), leaves + 1);
    let stored = {
        let mut conn = s.db.get().unwrap();
        iro_advice_server::queries::store::messages_of(&mut conn, &id).unwrap()
    };
    let body = stored[0].body.clone().unwrap();
    let plain = iro_advice_client::decrypt_armored(&body, &second.identity).unwrap();
    assert_eq!(plain, b"Who decides contact?");
    assert!(iro_advice_client::decrypt_armored(&body, &first.identity).is_err());
}

fn an_adviser_answers_once_and_only_queries_put_to_them(s: Services) {
    let iro = s.account(Role::Iro, Some(HEREFORDSHIRE), None);
    let first = s.account(Role::Adviser, None, Some(AdviserKind::Solicitor));
    let second = s.account(Role::Adviser, None, Some(AdviserKind::Solicitor));
    let id = ask(&s, &iro, &first, "Is the placement lawful?");
    s.write(|tx| service::accept(tx, &first.caller, &id))
        .unwrap();
    let twice = s.write(|tx| service::accept(tx, &first.caller, &id));
    assert_eq!(problem(twice), ProblemType::QueryState);
    let decline = s.write(|tx| service::decline(tx, &first.caller, &id, DeclineReason::Other));
    assert_eq!(problem(decline), ProblemType::QueryState);
    // Someone the query was never put to sees nothing, exactly as if it did not exist.
    let stranger = s.write(|tx| service::accept(tx, &second.caller, &id));
    assert_eq!(problem(stranger), ProblemType::NotFound);
    assert_eq!(s.count("query_declines"), 0);
}

fn conflicted_advisers_cannot_be_asked_and_nothing_is_stored(s: Services) {
    let iro = s.account(Role::Iro, Some(HEREFORDSHIRE), None);
    // A peer adviser employed by the IRO's own authority, and a solicitor who acts for it.
    let peer = s.account(Role::Adviser, Some(HEREFORDSHIRE), Some(AdviserKind::Peer));
    let solicitor = s.account(Role::Adviser, None, Some(AdviserKind::Solicitor));
    {
        let mut conn = s.db.get().unwrap();
        let codes = [AuthorityCode::parse(HEREFORDSHIRE).unwrap()];
        store::set_conflicts(&mut conn, &solicitor.caller.account_id, &codes).unwrap();
    }
    for adviser in [&peer, &solicitor] {
        let input = AskInput {
            adviser_id: adviser.caller.account_id.clone(),
            category: Category::Contact,
            stage: Stage::None,
            urgency: Urgency::Urgent,
            body: to("A question", &[&iro, adviser]),
        };
        let refused = s.write(|tx| service::ask(tx, &iro.iro(), input));
        assert_eq!(problem(refused), ProblemType::AdviserNotEligible);
    }
    assert_eq!(
        (
            s.count("queries"),
            s.count("messages"),
            s.count("log_leaves"),
            s.count("outbox")
        ),
        (0, 0, 0, 0)
    );
    // The same peer may be asked by an IRO of another authority.
    let elsewhere = s.account(Role::Iro, Some(SHROPSHIRE), None);
    ask(&s, &elsewhere, &peer, "A question from Shropshire");
    assert_eq!(s.count("queries"), 1);
}

fn pressure_reports_in_the_future_leave_nothing(s: Services) {
    use iro_advice_model::pressure::PressureKind;
    use iro_advice_server::pressure::NewReport;
    let iro = s.account(Role::Iro, Some(HEREFORDSHIRE), None);
    let report = |days: i64| NewReport {
        kind: PressureKind::DiscouragedFromAdvice,
        occurred_on: chrono::Utc::now().date_naive() + chrono::Duration::days(days),
        narrative: None,
        share_with_nairo: false,
        signature: None,
    };
    let refused =
        s.write(|tx| iro_advice_server::pressure::record_report(tx, &iro.iro(), report(3), false));
    assert_eq!(problem(refused), ProblemType::InvalidDate);
    let unshareable = NewReport {
        share_with_nairo: true,
        ..report(0)
    };
    let refused = s
        .write(|tx| iro_advice_server::pressure::record_report(tx, &iro.iro(), unshareable, false));
    assert_eq!(problem(refused), ProblemType::NairoRecipientUnset);
    assert_eq!((s.count("pressure_reports"), s.count("log_leaves")), (0, 0));
    let (_, receipt) = s
        .write(|tx| iro_advice_server::pressure::record_report(tx, &iro.iro(), report(-1), false))
        .unwrap();
    assert_eq!(receipt.leaf_index, Some(0));
    assert_eq!((s.count("pressure_reports"), s.count("log_leaves")), (1, 1));
}
