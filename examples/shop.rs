//! A small shop in one process: five services that talk only through messages.
//!
//! - `inventory` keeps stock and holds reservations until an order is paid or given up;
//! - `payments` charges cards, once per order however often it is asked: a retried charge
//!   carries the id of its first attempt, and `#[message(idempotent)]` answers it with the
//!   first result, even after a restart. A malformed card number makes it panic: it is
//!   supervised, so it is restarted with fresh state while the other services go on;
//! - `orders` takes orders from customers: it asks inventory to reserve (with a deadline),
//!   asks payments to charge through a resilience policy (a retry with backoff for timeouts,
//!   a circuit breaker, a deadline per attempt), then tells inventory to commit or release,
//!   and publishes `OrderPlaced` on the event bus, not knowing who listens;
//! - `shipping` reads placed orders from a durable topic and acknowledges each: it would not
//!   miss one even if it crashed;
//! - `analytics` subscribes to the live events and would rather drop old ones than slow
//!   orders down.
//!
//! Customers place orders concurrently. Orders finds the other services by name when it
//! starts. Run it with `cargo run --example shop`.

use std::collections::HashMap;
use std::time::Duration;

use snowglobe::resilience::{CircuitBreaker, CircuitBreakerConfig, Policy, Retry};
use snowglobe::{
    Actor, ActorRef, Backoff, BoxError, ChildSpec, Consume, Context, Delivery, DurableTopic,
    Record, Retention, SpawnOptions, StopReason, Subscribe, System, Topic, messages,
};

type Sku = &'static str;
type OrderId = u32;

// --- inventory ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
struct OutOfStock {
    sku: Sku,
    wanted: u32,
    left: u32,
}

/// Stock per SKU, and the units each open order holds.
#[derive(Actor, Default)]
struct Inventory {
    stock: HashMap<Sku, u32>,
    held: HashMap<OrderId, (Sku, u32)>,
}

#[messages]
impl Inventory {
    /// Adds units of `sku`.
    #[message]
    fn restock(&mut self, sku: Sku, qty: u32) {
        *self.stock.entry(sku).or_default() += qty;
    }

    /// Holds `qty` units of `sku` for `order` until it is committed or released.
    #[message]
    fn reserve(&mut self, order: OrderId, sku: Sku, qty: u32) -> Result<(), OutOfStock> {
        let left = self.stock.entry(sku).or_default();
        if *left < qty {
            return Err(OutOfStock {
                sku,
                wanted: qty,
                left: *left,
            });
        }
        *left -= qty;
        self.held.insert(order, (sku, qty));
        Ok(())
    }

    /// The order was paid: its units are gone for good.
    #[message]
    fn commit(&mut self, order: OrderId) {
        self.held.remove(&order);
    }

    /// The order was given up: its units go back on the shelf.
    #[message]
    fn release(&mut self, order: OrderId) {
        if let Some((sku, qty)) = self.held.remove(&order) {
            *self.stock.entry(sku).or_default() += qty;
        }
    }

    /// Units of `sku` on the shelf.
    #[message]
    fn on_shelf(&self, sku: Sku) -> u32 {
        self.stock.get(sku).copied().unwrap_or(0)
    }
}

// --- payments ----------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
struct Declined(String);

/// Charges cards; remembers every charge by order, so a repeated request is not charged twice.
#[derive(Actor, Default)]
struct Payments {
    charges: HashMap<OrderId, Result<u64, Declined>>,
    next_receipt: u64,
    card_calls: u32,
}

#[messages]
impl Payments {
    /// Charges `cents` to `card` for `order`; replies with a receipt number. A retry of the
    /// same request gets the first reply without charging again (`idempotent`).
    #[message(idempotent, derive(Clone))]
    async fn charge(
        &mut self,
        order: OrderId,
        cents: u64,
        card: String,
        ctx: &mut Context<Self>,
    ) -> Result<u64, Declined> {
        if let Some(earlier) = self.charges.get(&order) {
            return earlier.clone();
        }
        // A bug in card validation: a malformed number panics. Supervision restarts payments.
        assert!(
            card.chars().all(|c| c.is_ascii_digit() || c == ' '),
            "malformed card number {card:?}"
        );
        // The card network takes a moment (on the system's clock).
        ctx.system().sleep(Duration::from_millis(3)).await;
        self.card_calls += 1;
        let result = if card.ends_with("0000") {
            Err(Declined(format!(
                "card ending {} declined",
                &card[card.len() - 4..]
            )))
        } else {
            self.next_receipt += 1;
            let _ = cents;
            Ok(self.next_receipt)
        };
        self.charges.insert(order, result.clone());
        result
    }

    /// How many times the card network was called.
    #[message]
    fn card_calls(&self) -> u32 {
        self.card_calls
    }
}

// --- events ------------------------------------------------------------------------------

/// Published by orders once an order is paid.
#[derive(Debug, Clone)]
struct OrderPlaced {
    order: OrderId,
    sku: Sku,
    qty: u32,
}

impl snowglobe::Message for OrderPlaced {
    type Reply = ();
}

// --- orders ------------------------------------------------------------------------------

#[derive(Debug)]
enum OrderError {
    OutOfStock(OutOfStock),
    Declined(Declined),
    /// A service did not answer in time, or failed.
    Unavailable(String),
}

/// Takes orders. Finds inventory and payments by name when it starts.
struct Orders {
    services: Option<(ActorRef<Inventory>, ActorRef<Payments>)>,
    /// How orders calls payments: retries with backoff, a breaker, a deadline per attempt.
    to_payments: Option<Policy>,
    /// Live events, for whoever listens now.
    placed_events: Topic<OrderPlaced>,
    /// The same events, kept for consumers that must not miss one.
    placed_log: DurableTopic<OrderPlaced>,
    next_order: OrderId,
    placed: u32,
    failed: u32,
}

impl Actor for Orders {
    type Msg = OrdersMsg;

    async fn on_start(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        let inventory = ctx.system().lookup::<Inventory>("inventory")?;
        let payments = ctx.system().lookup::<Payments>("payments")?;
        self.services = Some((inventory, payments));
        let system = ctx.system();
        let breaker = CircuitBreaker::new(system, CircuitBreakerConfig::new("payments"))?;
        self.to_payments = Some(
            Policy::builder(system)
                .retry(Retry::new(3).backoff(Duration::from_millis(5), Duration::from_millis(50)))
                .circuit_breaker(breaker)
                .timeout(Duration::from_millis(250))
                .build(),
        );
        Ok(())
    }

    async fn on_stop(&mut self, _ctx: &mut Context<Self>, reason: &StopReason) {
        println!(
            "orders {reason}: {} placed, {} failed",
            self.placed, self.failed
        );
    }
}

fn unavailable(service: &str, e: &dyn std::fmt::Display) -> OrderError {
    OrderError::Unavailable(format!("{service}: {e}"))
}

#[messages]
impl Orders {
    /// Places an order for `qty` units of `sku`, paid with `card`; replies with the order id.
    #[message]
    async fn place(
        &mut self,
        sku: Sku,
        qty: u32,
        cents: u64,
        card: String,
    ) -> Result<OrderId, OrderError> {
        let (Some((inventory, payments)), Some(to_payments)) =
            (self.services.clone(), self.to_payments.clone())
        else {
            return Err(OrderError::Unavailable("not started".into()));
        };
        self.next_order += 1;
        let order = self.next_order;

        let reserved = inventory
            .reserve(order, sku, qty)
            .timeout(Duration::from_millis(100))
            .await
            .map_err(|e| unavailable("inventory", &e))?;
        if let Err(out) = reserved {
            self.failed += 1;
            return Err(OrderError::OutOfStock(out));
        }

        let charged = to_payments.call(payments.charge(order, cents, card)).await;
        match charged {
            Ok(Ok(_receipt)) => {
                inventory
                    .commit(order)
                    .tell()
                    .await
                    .map_err(|e| OrderError::Unavailable(format!("inventory: {e}")))?;
                self.placed += 1;
                let event = OrderPlaced { order, sku, qty };
                self.placed_log
                    .publish(event.clone())
                    .map_err(|e| OrderError::Unavailable(format!("order log: {e}")))?;
                self.placed_events.publish(event).await;
                Ok(order)
            }
            Ok(Err(declined)) => {
                self.give_up(&inventory, order).await;
                Err(OrderError::Declined(declined))
            }
            Err(e) => {
                self.give_up(&inventory, order).await;
                Err(unavailable("payments", &e))
            }
        }
    }

    async fn give_up(&mut self, inventory: &ActorRef<Inventory>, order: OrderId) {
        self.failed += 1;
        // Releasing is fire-and-forget; if inventory is gone, so is the reservation.
        let _ = inventory.release(order).tell().await;
    }
}

// --- shipping and analytics ---------------------------------------------------------------

type PlacedRecord = Record<OrderPlaced>;

/// Ships placed orders, read from the durable log; acknowledges each once shipped.
#[derive(Actor, Default)]
struct Shipping {
    shipped: Vec<OrderId>,
}

#[messages]
impl Shipping {
    #[handler]
    fn on_placed(&mut self, record: PlacedRecord) {
        println!(
            "shipping: order #{} ({} × {}), offset {}",
            record.event.order, record.event.qty, record.event.sku, record.offset
        );
        self.shipped.push(record.event.order);
        record.ack();
    }

    /// The orders shipped so far.
    #[message]
    fn shipped(&self) -> Vec<OrderId> {
        self.shipped.clone()
    }
}

/// Counts units sold per SKU from the live events.
#[derive(Actor, Default)]
struct Analytics {
    units: HashMap<Sku, u32>,
}

#[messages]
impl Analytics {
    #[handler]
    fn on_placed(&mut self, event: OrderPlaced) {
        *self.units.entry(event.sku).or_default() += event.qty;
    }

    /// Units sold per SKU.
    #[message]
    fn units(&self) -> Vec<(Sku, u32)> {
        let mut units: Vec<_> = self.units.iter().map(|(s, n)| (*s, *n)).collect();
        units.sort_unstable();
        units
    }
}

// --- the shop ----------------------------------------------------------------------------

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // One line per panic instead of the default report: the shop expects one.
    std::panic::set_hook(Box::new(|info| eprintln!("panic in a service: {info}")));
    let system = System::new();
    let placed_events = system.events().topic::<OrderPlaced>();
    let placed_log = system
        .events()
        .durable::<OrderPlaced>("orders.placed", Retention::all().max_events(10_000))?;

    let inventory =
        system.spawn_with(Inventory::default(), SpawnOptions::new().name("inventory"))?;
    // Supervised: a panic restarts payments with fresh state; its name and address stay.
    let payments = system.spawn_supervised(
        ChildSpec::new(Payments::default)
            .name("payments")
            .backoff(Backoff::NONE),
    )?;
    let shipping = system.spawn_with(Shipping::default(), SpawnOptions::new().name("shipping"))?;
    placed_log.consume("shipping", shipping.clone(), Consume::new())?;
    let analytics = system.spawn(Analytics::default())?;
    placed_events.subscribe_with(
        analytics.clone(),
        Subscribe::new().delivery(Delivery::DropOldest { buffer: 64 }),
    )?;
    let orders = system.spawn_with(
        Orders {
            services: None,
            to_payments: None,
            placed_events,
            placed_log: placed_log.clone(),
            next_order: 0,
            placed: 0,
            failed: 0,
        },
        SpawnOptions::new().name("orders"),
    )?;

    inventory.restock("kettle", 5).tell().await?;
    inventory.restock("teapot", 2).tell().await?;

    // Six customers at once; each looks the orders service up by name.
    let customers = [
        ("ada", "kettle", 2, "4242 4242 4242 4242"),
        ("grace", "teapot", 1, "5555 5555 5555 4444"),
        ("edsger", "kettle", 2, "4000 0000 0000 0000"),
        ("barbara", "teapot", 2, "3782 822463 10005"),
        ("ken", "kettle", 1, "6011 1111 1111 1117"),
        ("mallory", "kettle", 1, "4242-oops"),
        ("frances", "kettle", 3, "4242 4242 4242 4242"),
    ];
    let mut tasks = Vec::new();
    for (name, sku, qty, card) in customers {
        let system = system.clone();
        tasks.push(tokio::spawn(async move {
            let orders = system
                .lookup::<Orders>("orders")
                .expect("orders is running");
            let result = orders
                .place(sku, qty, 1_999 * u64::from(qty), card.into())
                .await;
            (name, sku, qty, result)
        }));
    }
    for task in tasks {
        let (name, sku, qty, result) = task.await?;
        match result? {
            Ok(order) => println!("{name}: order #{order} for {qty} × {sku} placed"),
            Err(OrderError::OutOfStock(o)) => {
                println!("{name}: {qty} × {sku} out of stock ({} left)", o.left);
            }
            Err(OrderError::Declined(d)) => println!("{name}: payment declined: {}", d.0),
            Err(OrderError::Unavailable(why)) => println!("{name}: try again later: {why}"),
        }
    }

    // Nothing reserved is lost: every unit is on the shelf or in a paid order.
    println!(
        "on the shelf: {} kettles, {} teapots; payments restarted {} time(s), card network calls since: {}",
        inventory.on_shelf("kettle").await?,
        inventory.on_shelf("teapot").await?,
        payments.restarts(),
        payments.card_calls().await?,
    );

    // Shipping reads the log at its own pace: wait until it has acknowledged every order.
    let (_, published) = placed_log.offsets();
    while placed_log
        .consumer_stats("shipping")
        .is_some_and(|s| s.acked_up_to < published)
    {
        system.sleep(Duration::from_millis(1)).await;
    }
    println!("shipped: {:?}", shipping.shipped().await?);
    println!("units sold: {:?}", analytics.units().await?);
    println!("{}", system.tree());

    // The orders service is stopped first (it was spawned last): shutdown goes in reverse.
    system.shutdown().await;
    assert!(!orders.is_alive());
    Ok(())
}
