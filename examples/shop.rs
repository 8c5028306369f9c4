//! A small shop in one process: three services that talk only through messages.
//!
//! - `inventory` keeps stock and holds reservations until an order is paid or given up;
//! - `payments` charges cards, once per order however often it is asked (an idempotent
//!   service: a repeated charge for the same order returns the first result);
//! - `orders` takes orders from customers: it asks inventory to reserve, asks payments to
//!   charge (each with a deadline), then tells inventory to commit or release.
//!
//! Customers place orders concurrently. Orders finds the other two services by name when it
//! starts. Run it with `cargo run --example shop`.

use std::collections::HashMap;
use std::time::Duration;

use snowglobe::{
    Actor, ActorRef, AskError, BoxError, Context, SpawnOptions, StopReason, System, messages,
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
    /// Charges `cents` to `card` for `order`; replies with a receipt number.
    #[message]
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

// --- orders ------------------------------------------------------------------------------

#[derive(Debug)]
enum OrderError {
    OutOfStock(OutOfStock),
    Declined(Declined),
    /// A service did not answer in time, or failed.
    Unavailable(String),
}

/// Takes orders. Finds inventory and payments by name when it starts.
#[derive(Default)]
struct Orders {
    services: Option<(ActorRef<Inventory>, ActorRef<Payments>)>,
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
        Ok(())
    }

    async fn on_stop(&mut self, _ctx: &mut Context<Self>, reason: &StopReason) {
        println!(
            "orders {reason}: {} placed, {} failed",
            self.placed, self.failed
        );
    }
}

fn unavailable<M>(service: &str, e: &AskError<M>) -> OrderError {
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
        let Some((inventory, payments)) = self.services.clone() else {
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

        let charged = payments
            .charge(order, cents, card)
            .timeout(Duration::from_millis(250))
            .await;
        match charged {
            Ok(Ok(_receipt)) => {
                inventory
                    .commit(order)
                    .tell()
                    .await
                    .map_err(|e| OrderError::Unavailable(format!("inventory: {e}")))?;
                self.placed += 1;
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

// --- the shop ----------------------------------------------------------------------------

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let system = System::new();

    let inventory =
        system.spawn_with(Inventory::default(), SpawnOptions::new().name("inventory"))?;
    let payments = system.spawn_with(Payments::default(), SpawnOptions::new().name("payments"))?;
    let orders = system.spawn_with(Orders::default(), SpawnOptions::new().name("orders"))?;

    inventory.restock("kettle", 5).tell().await?;
    inventory.restock("teapot", 2).tell().await?;

    // Six customers at once; each looks the orders service up by name.
    let customers = [
        ("ada", "kettle", 2, "4242 4242 4242 4242"),
        ("grace", "teapot", 1, "5555 5555 5555 4444"),
        ("edsger", "kettle", 2, "4000 0000 0000 0000"),
        ("barbara", "teapot", 2, "3782 822463 10005"),
        ("ken", "kettle", 1, "6011 1111 1111 1117"),
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
        "on the shelf: {} kettles, {} teapots; card network calls: {}",
        inventory.on_shelf("kettle").await?,
        inventory.on_shelf("teapot").await?,
        payments.card_calls().await?,
    );

    // The orders service is stopped first (it was spawned last): shutdown goes in reverse.
    system.shutdown().await;
    assert!(!orders.is_alive());
    Ok(())
}
