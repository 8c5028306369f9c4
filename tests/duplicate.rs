//! `Message::duplicate`, the copy the simulator's network delivers a second time: what
//! `#[messages]` generates for it (a copy field by field when every argument's type is
//! `Clone`, with or without a `Clone` derive on the struct; `None` when one is not) and the
//! default of a hand-written message (`None`).

use snowglobe::{Actor, Message, System, messages};
use tokio::sync::oneshot;

/// A ledger entry that exists once: not `Clone`.
#[derive(Debug, PartialEq)]
struct Entry {
    cents: u64,
}

#[derive(Actor, Default)]
struct Ledger {
    charged: u64,
    entries: Vec<Entry>,
}

#[messages]
impl Ledger {
    /// Charges `cents` for `order`; replies with the total charged so far. No `Clone` derive:
    /// every argument is `Clone`, which is what counts.
    #[message]
    fn charge(&mut self, order: u64, cents: u64, _memo: String, tags: Vec<&'static str>) -> u64 {
        let _ = (order, tags);
        self.charged += cents;
        self.charged
    }

    /// Refunds `cents`; the struct derives `Clone` as well.
    #[message(derive(Clone, Debug, PartialEq))]
    fn refund(&mut self, cents: u64) -> u64 {
        self.charged -= cents;
        self.charged
    }

    /// The total charged; a unit struct.
    #[message]
    fn balance(&self) -> u64 {
        self.charged
    }

    /// Answers through a channel of its own, which cannot be copied.
    #[message]
    fn report(&mut self, order: u64, to: oneshot::Sender<u64>) {
        let _ = (order, to.send(self.charged));
    }

    /// Books an entry, which cannot be copied.
    #[message]
    fn book(&mut self, entry: Entry) {
        self.entries.push(entry);
    }

    /// Books several entries: a `Vec` is `Clone` only when its items are, and they are not.
    #[message]
    fn book_all(&mut self, entries: Vec<Entry>) {
        self.entries.extend(entries);
    }
}

#[test]
fn a_message_whose_arguments_are_clone_duplicates_field_by_field() {
    let charge = Charge {
        order: 7,
        cents: 1250,
        memo: "first".to_owned(),
        tags: vec!["card", "eu"],
    };
    let copy = charge
        .duplicate()
        .expect("every field of `Charge` is `Clone`");
    assert_eq!(copy.order, charge.order);
    assert_eq!(copy.cents, charge.cents);
    assert_eq!(copy.memo, charge.memo);
    assert_eq!(copy.tags, charge.tags);

    let refund = Refund { cents: 50 };
    assert_eq!(refund.duplicate(), Some(refund.clone()));
}

#[test]
fn a_message_without_arguments_always_duplicates() {
    assert!(matches!(Balance.duplicate(), Some(Balance)));
}

#[test]
fn a_message_with_an_argument_that_is_not_clone_does_not_duplicate() {
    let (to, _answer) = oneshot::channel();
    assert!(Report { order: 7, to }.duplicate().is_none());
    assert!(
        Book {
            entry: Entry { cents: 1 }
        }
        .duplicate()
        .is_none()
    );
    let entries = vec![Entry { cents: 1 }, Entry { cents: 2 }];
    assert!(BookAll { entries }.duplicate().is_none());
}

#[tokio::test]
async fn the_copy_is_handled_like_the_original() {
    let system = System::new();
    let ledger = system.spawn(Ledger::default()).unwrap();
    let charge = Charge {
        order: 1,
        cents: 100,
        memo: String::new(),
        tags: Vec::new(),
    };
    let copy = charge.duplicate().unwrap();
    assert_eq!(ledger.ask(charge).await.unwrap(), 100);
    // Delivered twice, a handler that is not idempotent charges twice.
    assert_eq!(ledger.ask(copy).await.unwrap(), 200);
    system.shutdown().await;
}

/// A hand-written message that is `Clone` but keeps the default.
#[derive(Clone)]
struct Ping;

impl Message for Ping {
    type Reply = ();
}

/// A hand-written message that overrides it.
#[derive(Clone, Debug, PartialEq)]
struct Pong(u32);

impl Message for Pong {
    type Reply = ();

    fn duplicate(&self) -> Option<Self> {
        Some(self.clone())
    }
}

#[test]
fn a_hand_written_message_does_not_duplicate_unless_it_says_so() {
    // `Clone` alone does not make it duplicate: the default cannot see it.
    assert!(Ping.duplicate().is_none());
    assert_eq!(Pong(2).duplicate(), Some(Pong(2)));
}
