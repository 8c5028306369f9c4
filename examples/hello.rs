//! The smallest snowglobe program: one actor, asked and told through the methods
//! `#[messages]` generates. `examples/hello_by_hand.rs` is the same program without macros.
//!
//! Run it with `cargo run --example hello`.

use snowglobe::{Actor, System, messages};

/// A greeter that remembers whom it greeted.
#[derive(Actor, Default)]
struct Greeter {
    visitors: Vec<String>,
}

#[messages]
impl Greeter {
    /// Greets `name`; replies with the greeting.
    #[message]
    fn greet(&mut self, name: String) -> String {
        let greeting = format!("hello, {name} (visitor #{})", self.visitors.len() + 1);
        self.visitors.push(name);
        greeting
    }

    /// Forgets every visitor.
    #[message]
    fn reset(&mut self) {
        self.visitors.clear();
    }

    /// How many visitors so far.
    #[message]
    fn count(&self) -> usize {
        self.visitors.len()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let system = System::new();
    let greeter = system.spawn(Greeter::default())?;

    // ask: send and wait for the typed reply
    println!("{}", greeter.greet("ada".into()).await?);
    println!("{}", greeter.greet("grace".into()).await?);

    // tell: send without waiting for a reply (waits only for mailbox room)
    greeter.reset().tell().await?;
    println!("{}", greeter.greet("edsger".into()).await?);

    // the same ask, by message value, with a deadline of its own
    let count = greeter
        .ask(Count)
        .timeout(std::time::Duration::from_millis(100))
        .await?;
    println!("visitors since the reset: {count}");

    system.shutdown().await;
    Ok(())
}
