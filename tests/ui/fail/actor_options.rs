// Every mistake in `#[actor(...)]` is reported, not only the first.
use snowglobe::{Actor, DynMessage};

#[derive(Actor)]
#[actor(msg = DynMessage<Self>, capacity = 0)]
struct Empty;

#[derive(Actor)]
#[actor(msg = DynMessage<Self>, capacity = 8, unbounded)]
struct Both;

#[derive(Actor)]
#[actor(msg = DynMessage<Self>, capacity = 8, capacity = 16)]
#[actor(msg = DynMessage<Self>)]
struct Twice;

#[derive(Actor)]
#[actor(msg = DynMessage<Self>, size = 8, unbounded = true)]
struct Unknown;

#[derive(Actor)]
#[actor(msg = DynMessage<Self>, capacity = "eight")]
struct NotANumber;

fn main() {}
