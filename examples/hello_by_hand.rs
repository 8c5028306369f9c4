//! `examples/hello.rs` without macros: the message types, the handlers, the mailbox enum and
//! its dispatch written out against snowglobe's public traits. This is (nearly line for line)
//! what `#[derive(Actor)]` and `#[messages]` generate.
//!
//! Run it with `cargo run --example hello_by_hand`.

use snowglobe::{Accepts, Actor, Context, Dispatch, Handler, Message, ReplyTo, System};

/// A greeter that remembers whom it greeted.
#[derive(Default)]
struct Greeter {
    visitors: Vec<String>,
}

// --- the messages: one type each, naming its reply -------------------------------------

/// Greets `name`; replies with the greeting.
struct Greet {
    name: String,
}
impl Message for Greet {
    type Reply = String;
}

/// Forgets every visitor.
struct Reset;
impl Message for Reset {
    type Reply = ();
}

/// How many visitors so far.
struct Count;
impl Message for Count {
    type Reply = usize;
}

// --- the handlers ------------------------------------------------------------------------

impl Handler<Greet> for Greeter {
    async fn handle(&mut self, msg: Greet, _ctx: &mut Context<Self>) -> String {
        let greeting = format!("hello, {} (visitor #{})", msg.name, self.visitors.len() + 1);
        self.visitors.push(msg.name);
        greeting
    }
}

impl Handler<Reset> for Greeter {
    async fn handle(&mut self, _: Reset, _ctx: &mut Context<Self>) {
        self.visitors.clear();
    }
}

impl Handler<Count> for Greeter {
    async fn handle(&mut self, _: Count, _ctx: &mut Context<Self>) -> usize {
        self.visitors.len()
    }
}

// --- the mailbox: one variant per message, stored inline (no allocation per message) ------

enum GreeterMsg {
    Greet(Greet, ReplyTo<String>),
    Reset(Reset, ReplyTo<()>),
    Count(Count, ReplyTo<usize>),
}

impl Dispatch<Greeter> for GreeterMsg {
    async fn dispatch(self, actor: &mut Greeter, ctx: &mut Context<Greeter>) {
        match self {
            GreeterMsg::Greet(msg, reply) => reply.send(actor.handle(msg, ctx).await),
            GreeterMsg::Reset(msg, reply) => {
                actor.handle(msg, ctx).await;
                reply.send(());
            }
            GreeterMsg::Count(msg, reply) => reply.send(actor.handle(msg, ctx).await),
        }
    }

    fn message_type(&self) -> &'static str {
        match self {
            GreeterMsg::Greet(..) => "Greet",
            GreeterMsg::Reset(..) => "Reset",
            GreeterMsg::Count(..) => "Count",
        }
    }
}

impl Accepts<Greet> for GreeterMsg {
    fn from_message(msg: Greet, reply: ReplyTo<String>) -> Self {
        GreeterMsg::Greet(msg, reply)
    }
}

impl Accepts<Reset> for GreeterMsg {
    fn from_message(msg: Reset, reply: ReplyTo<()>) -> Self {
        GreeterMsg::Reset(msg, reply)
    }
}

impl Accepts<Count> for GreeterMsg {
    fn from_message(msg: Count, reply: ReplyTo<usize>) -> Self {
        GreeterMsg::Count(msg, reply)
    }
}

// --- the actor names its mailbox -----------------------------------------------------------

impl Actor for Greeter {
    type Msg = GreeterMsg;
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let system = System::new();
    let greeter = system.spawn(Greeter::default())?;

    // ask: send and wait for the typed reply
    let name = "ada".to_string();
    println!("{}", greeter.ask(Greet { name }).await?);
    let name = "grace".to_string();
    println!("{}", greeter.ask(Greet { name }).await?);

    // tell: send without waiting for a reply (waits only for mailbox room)
    greeter.tell(Reset).await?;
    let name = "edsger".to_string();
    println!("{}", greeter.ask(Greet { name }).await?);

    let count = greeter
        .ask(Count)
        .timeout(std::time::Duration::from_millis(100))
        .await?;
    println!("visitors since the reset: {count}");

    system.shutdown().await;
    Ok(())
}
