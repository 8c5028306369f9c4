//! A library-style crate: public actors, every feature of the macros, no warnings and no
//! missing docs allowed.
#![deny(warnings)]
#![deny(missing_docs)]

/// The actors, as a library would export them.
pub mod shop {
    use std::collections::HashMap;
    use std::time::Duration;

    use snowglobe::{Actor, BoxError, Context, DynMessage, Mailbox, messages};

    /// Not enough units in stock.
    #[derive(Debug, PartialEq, Eq)]
    pub struct OutOfStock;

    /// Stock levels per SKU.
    #[derive(Actor, Default)]
    #[actor(capacity = 64)]
    pub struct Inventory {
        stock: HashMap<u32, u32>,
        visits: u64,
    }

    #[messages]
    impl Inventory {
        /// Reserves `qty` units of `sku`; replies with the units left.
        ///
        /// # Errors
        ///
        /// [`OutOfStock`] when fewer than `qty` are in stock.
        #[message]
        pub async fn reserve(&mut self, sku: u32, qty: u32) -> Result<u32, OutOfStock> {
            tokio::task::yield_now().await;
            let left = self
                .stock
                .get_mut(&sku)
                .filter(|n| **n >= qty)
                .ok_or(OutOfStock)?;
            *left -= qty;
            Ok(*left)
        }

        /// Adds `qty` units of `sku`.
        #[message(derive(Clone, Debug, PartialEq))]
        pub fn restock(&mut self, sku: u32, qty: u32) {
            *self.stock.entry(sku).or_default() += qty;
        }

        /// The units of `sku` in stock.
        #[message(name = StockLevel)]
        pub fn stock(&self, sku: u32, ctx: &Context<Self>) -> u32 {
            let _ = ctx.id();
            self.stock.get(&sku).copied().unwrap_or(0)
        }

        /// Counts a visit; the context comes first here, and the note is ignored.
        #[snowglobe::message]
        pub async fn visit(&mut self, ctx: &mut Context<Self>, _note: String) -> u64 {
            let _ = ctx.now();
            self.visits += 1;
            self.visits
        }

        /// A copy of the whole inventory, as an actor value of its own.
        #[message]
        pub fn snapshot(&self) -> Option<Box<Self>> {
            Some(Box::new(Self {
                stock: self.stock.clone(),
                visits: self.visits,
            }))
        }

        /// Takes a `'static` label, which a message may hold.
        #[message]
        pub fn label(&mut self, label: &'static str) -> usize {
            label.len()
        }

        /// A method with a raw identifier for a name; its message is `Match`.
        #[message]
        pub fn r#match(&self, sku: u32) -> bool {
            self.stock.contains_key(&sku)
        }

        /// Compiled out: no struct, variant or client method exists for it.
        #[cfg(any())]
        #[message]
        pub fn never(&self) {}

        fn total(&self) -> u32 {
            self.stock.values().sum()
        }

        /// The total units, through a helper that is not a message.
        #[message]
        pub fn total_units(&self) -> u32 {
            self.total()
        }
    }

    /// An actor with private message methods, made public with `vis = pub`.
    #[derive(Actor, Default)]
    #[actor(unbounded)]
    pub struct Counter {
        n: u64,
    }

    #[messages(vis = pub)]
    impl Counter {
        #[message]
        fn bump(&mut self) -> u64 {
            self.n += 1;
            self.n
        }
    }

    /// A generic actor: the `#[messages]` block is for one concrete instance.
    #[derive(Actor, Default)]
    pub struct Cache<T> {
        entries: Vec<T>,
    }

    #[messages]
    impl Cache<String> {
        /// Stores an entry; replies with the number of entries.
        #[message]
        pub fn put(&mut self, entry: String) -> usize {
            self.entries.push(entry);
            self.entries.len()
        }
    }

    /// A generic actor with a boxed mailbox, named with `msg = ...`.
    #[derive(Actor)]
    #[actor(msg = DynMessage<Self>, capacity = 8)]
    pub struct Plain<T: Send + 'static> {
        /// The value.
        pub value: T,
    }

    /// Events defined apart from the actors that handle them.
    pub mod events {
        /// Something happened to `T`.
        pub struct Event<T>(pub T);

        impl<T: Send + 'static> snowglobe::Message for Event<T> {
            type Reply = usize;
        }

        /// A price request; replies in cents.
        pub struct PriceQuery;

        impl snowglobe::Message for PriceQuery {
            type Reply = u64;
        }

        /// A message no build of this crate handles.
        pub struct Never;

        impl snowglobe::Message for Never {
            type Reply = ();
        }
    }

    /// The second event type gets its own mailbox variant through an alias.
    pub type NamedEvent = events::Event<String>;

    /// An actor with `#[handler]` methods for types defined elsewhere, and one `#[message]`.
    #[derive(Actor, Default)]
    pub struct Ledger {
        counts: Vec<u32>,
        names: Vec<String>,
    }

    #[messages]
    impl Ledger {
        /// Counts an event.
        #[handler]
        pub fn count(&mut self, events::Event(n): events::Event<u32>) -> usize {
            self.counts.push(n);
            self.counts.len()
        }

        /// Records a named event.
        #[snowglobe::handler]
        pub async fn name(&mut self, event: NamedEvent, ctx: &Context<Self>) -> usize {
            let _ = ctx.id();
            self.names.push(event.0);
            self.names.len()
        }

        /// Quotes a price.
        #[handler]
        pub fn price(&self, _query: events::PriceQuery) -> u64 {
            100
        }

        /// Compiled out: no variant or handler exists for it.
        #[cfg(any())]
        #[handler]
        pub fn never(&self, _never: events::Never) {}

        /// The events so far.
        #[message]
        pub fn total(&self) -> usize {
            self.counts.len() + self.names.len()
        }
    }

    /// An actor with its own `impl Actor` (for `on_start`) and generated messages.
    #[derive(Default)]
    pub struct Session {
        started: bool,
    }

    impl Actor for Session {
        type Msg = SessionMsg;
        const MAILBOX: Mailbox = Mailbox::Bounded(4);

        async fn on_start(&mut self, _ctx: &mut Context<Self>) -> Result<(), BoxError> {
            self.started = true;
            Ok(())
        }
    }

    #[messages]
    impl Session {
        /// Whether `on_start` ran.
        #[message]
        pub fn started(&self) -> bool {
            self.started
        }

        /// Waits a while (virtual time in tests).
        #[message]
        pub async fn nap(&mut self, ctx: &mut Context<Self>, millis: u64) {
            let _ = ctx.id();
            tokio::time::sleep(Duration::from_millis(millis)).await;
        }
    }
}

use shop::{
    Cache, CacheClient, Counter, CounterClient, Inventory, InventoryClient, InventoryMsg, Ledger,
    LedgerClient, LedgerMsg, OutOfStock, Plain, Restock, Session, SessionClient, StockLevel,
    events,
};
use snowglobe::System;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let system = System::new();

    let inventory = system.spawn(Inventory::default()).unwrap();
    assert_eq!(inventory.mailbox_capacity(), Some(64));
    inventory.restock(7, 10).tell().await.unwrap();
    assert_eq!(inventory.reserve(7, 3).await.unwrap(), Ok(7));
    assert_eq!(inventory.reserve(7, 30).await.unwrap(), Err(OutOfStock));
    assert_eq!(inventory.ask(StockLevel { sku: 7 }).await.unwrap(), 7);
    assert_eq!(inventory.stock(7).await.unwrap(), 7);
    assert_eq!(inventory.visit(String::from("hi")).await.unwrap(), 1);
    assert!(inventory.snapshot().await.unwrap().is_some());
    assert_eq!(inventory.label("abc").await.unwrap(), 3);
    assert_eq!(inventory.total_units().await.unwrap(), 7);
    assert!(inventory.r#match(7).await.unwrap());
    assert!(!inventory.ask(shop::Match { sku: 8 }).await.unwrap());
    let restock = Restock { sku: 1, qty: 2 };
    assert_eq!(
        format!("{:?}", restock.clone()),
        "Restock { sku: 1, qty: 2 }"
    );
    inventory.try_tell(restock).unwrap();
    let _: Option<InventoryMsg> = None;

    let counter = system.spawn(Counter::default()).unwrap();
    assert_eq!(counter.mailbox_capacity(), None);
    assert_eq!(counter.bump().await.unwrap(), 1);

    let cache = system.spawn(Cache::<String>::default()).unwrap();
    assert_eq!(cache.put("a".into()).await.unwrap(), 1);

    let plain = system.spawn(Plain { value: 1_u8 }).unwrap();
    assert_eq!(plain.mailbox_capacity(), Some(8));

    let ledger = system.spawn(Ledger::default()).unwrap();
    assert_eq!(ledger.ask(events::Event(7_u32)).await.unwrap(), 1);
    assert_eq!(
        ledger.ask(events::Event(String::from("x"))).await.unwrap(),
        1
    );
    assert_eq!(ledger.ask(events::PriceQuery).await.unwrap(), 100);
    assert_eq!(ledger.total().await.unwrap(), 2);
    let _: Option<LedgerMsg> = None;

    let session = system.spawn(Session::default()).unwrap();
    assert!(session.started().await.unwrap());
    session.nap(1).await.unwrap();

    system.shutdown().await;
}
