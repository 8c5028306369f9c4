//! Procedural macros for [snowglobe](https://docs.rs/snowglobe): `#[derive(Actor)]`,
//! `#[messages]` and its `#[message]` marker.
//!
//! Use them through the `snowglobe` facade (`use snowglobe::{Actor, messages};`). They are
//! sugar: everything they generate can be written by hand against snowglobe's public traits,
//! and each macro's documentation below shows the code it stands for.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use snowglobe::{Actor, System, messages};
//!
//! #[derive(Actor, Default)]
//! struct Counter {
//!     n: u64,
//! }
//!
//! #[messages]
//! impl Counter {
//!     /// Adds `k`; replies with the new total.
//!     #[message]
//!     fn add(&mut self, k: u64) -> u64 {
//!         self.n += k;
//!         self.n
//!     }
//! }
//!
//! let system = System::new();
//! let counter = system.spawn(Counter::default()).unwrap();
//! assert_eq!(counter.add(2).await.unwrap(), 2); // ask, typed reply
//! counter.add(3).tell().await.unwrap(); // tell
//! assert_eq!(counter.ask(Add { k: 1 }).await.unwrap(), 6); // by value
//! # system.shutdown().await;
//! # }
//! ```
//!
//! The crate is a small compiler: each macro has a `parse` step (read the input and options),
//! a `validate` step (check them, report every mistake at the user's token) and an `expand`
//! step (write the code). On a mistake the input item is still emitted, so the rest of the
//! program keeps type-checking.

mod actor;
mod diagnostics;
mod message;
mod messages;

use proc_macro::TokenStream;

/// Implements `snowglobe::Actor` for a struct or enum.
///
/// The mailbox item is the enum that [`macro@messages`] generates for the type, unless
/// `#[actor(msg = Type)]` names another one. Options, in `#[actor(...)]`:
///
/// | option | effect |
/// |---|---|
/// | `capacity = 64` | `const MAILBOX = Mailbox::Bounded(64)` (at least 1) |
/// | `unbounded` | `const MAILBOX = Mailbox::Unbounded` (not with `capacity`) |
/// | `msg = Type` | `type Msg = Type`, for a hand-written mailbox or `DynMessage<Self>` |
///
/// Without `capacity` or `unbounded`, the trait's default mailbox applies. For lifecycle hooks
/// (`on_start`, `on_stop`) write `impl Actor` by hand instead, with
/// `type Msg = InventoryMsg;` naming the enum `#[messages]` generated.
///
/// ```
/// use std::collections::HashMap;
/// use snowglobe::{Actor, messages};
///
/// #[derive(Actor, Default)]
/// #[actor(capacity = 64)]
/// pub struct Inventory {
///     stock: HashMap<u32, u32>,
/// }
///
/// #[messages]
/// impl Inventory {
///     /// Adds `qty` units of `sku`.
///     #[message]
///     pub fn restock(&mut self, sku: u32, qty: u32) {
///         *self.stock.entry(sku).or_default() += qty;
///     }
/// }
/// ```
///
/// # Expansion
///
/// `#[derive(Actor)]` above stands for this impl (`__private::Messages` is the hidden link
/// from `Inventory` to the `InventoryMsg` enum `#[messages]` generates; written by hand,
/// name the enum directly):
///
/// ```
/// # use std::collections::HashMap;
/// # use snowglobe::messages;
/// # pub struct Inventory { stock: HashMap<u32, u32> }
/// # #[messages]
/// # impl Inventory {
/// #     /// Adds `qty` units of `sku`.
/// #     #[message]
/// #     pub fn restock(&mut self, sku: u32, qty: u32) {
/// #         *self.stock.entry(sku).or_default() += qty;
/// #     }
/// # }
/// #[automatically_derived]
/// impl ::snowglobe::Actor for Inventory {
///     type Msg = <Self as ::snowglobe::__private::Messages>::Msg; // = InventoryMsg
///     const MAILBOX: ::snowglobe::Mailbox = ::snowglobe::Mailbox::Bounded(64);
/// }
/// ```
///
/// A generic type gets a generic impl, bounded by `where Self: Send + 'static` (what `Actor`
/// requires); without `msg = ...`, it is also bounded to the instances a `#[messages]` block
/// exists for (`impl Cache<String>`). With a boxed mailbox:
///
/// ```
/// use snowglobe::{Actor, DynMessage};
///
/// #[derive(Actor)]
/// #[actor(msg = DynMessage<Self>, unbounded)]
/// struct Cache<T: Send + 'static> {
///     entries: Vec<T>,
/// }
/// ```
#[proc_macro_derive(Actor, attributes(actor))]
pub fn derive_actor(input: TokenStream) -> TokenStream {
    actor::derive(input.into()).into()
}

/// Turns the `#[message]` methods of an actor's impl block into messages: a struct per
/// method, the actor's mailbox enum, and a client trait to call the methods through an
/// `ActorRef`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::collections::HashMap;
/// use snowglobe::{Actor, Context, System, messages};
///
/// #[derive(Debug, PartialEq)]
/// pub struct OutOfStock;
///
/// #[derive(Actor, Default)]
/// pub struct Inventory {
///     stock: HashMap<u32, u32>,
/// }
///
/// #[messages]
/// impl Inventory {
///     /// Reserves `qty` units of `sku`; replies with the units left.
///     #[message]
///     pub async fn reserve(&mut self, sku: u32, qty: u32) -> Result<u32, OutOfStock> {
///         let left = self.stock.get_mut(&sku).filter(|n| **n >= qty).ok_or(OutOfStock)?;
///         *left -= qty;
///         Ok(*left)
///     }
///
///     /// Adds `qty` units of `sku`.
///     #[message]
///     pub fn restock(&mut self, sku: u32, qty: u32) {
///         *self.stock.entry(sku).or_default() += qty;
///     }
///
///     /// The units of `sku` in stock, as seen by the actor `ctx` belongs to.
///     #[message(name = StockLevel, derive(Clone, Debug))]
///     pub fn stock(&self, sku: u32, ctx: &mut Context<Self>) -> u32 {
///         let _ = ctx.id();
///         self.stock.get(&sku).copied().unwrap_or(0)
///     }
///
///     fn helper(&self) {} // not a message: left alone
/// }
///
/// let system = System::new();
/// let inventory = system.spawn(Inventory::default()).unwrap();
/// inventory.restock(7, 10).tell().await.unwrap(); // tell: waits for mailbox room
/// assert_eq!(inventory.reserve(7, 3).await.unwrap(), Ok(7)); // ask
/// assert_eq!(inventory.reserve(7, 30).await.unwrap(), Err(OutOfStock));
/// assert_eq!(inventory.ask(StockLevel { sku: 7 }).await.unwrap(), 7); // by value
/// # system.shutdown().await;
/// # }
/// ```
///
/// # What is generated
///
/// Besides the impl block itself (with the `#[message]` markers removed), for an actor
/// `Inventory`:
///
/// - per `#[message]` method, a struct named after it in `PascalCase` (`reserve` → `Reserve`,
///   or `#[message(name = ...)]`), whose fields are the method's arguments (a unit struct
///   when there are none), with `impl Message` (the reply is the return type, `()` without
///   one) and `impl Handler<Reserve> for Inventory` calling the method;
/// - `InventoryMsg`, the mailbox enum: one variant per message, with `Dispatch` and
///   `Accepts<M>` for each message;
/// - `InventoryClient`, a trait implemented for `ActorRef<Inventory>` with one method per
///   message, taking the same arguments and returning a `Request` (await it to ask; or
///   `.tell()`, `.try_tell()`, `.timeout(d)`).
///
/// The method's docs are copied to its struct and client method; every generated item is
/// documented, so crates with `#![deny(missing_docs)]` compile.
///
/// For the `reserve` method above, and with the `restock` and `stock` messages left out, this
/// is the code (written by hand, it compiles as it is):
///
/// ```
/// # use std::collections::HashMap;
/// # use snowglobe::Actor;
/// # #[derive(Debug, PartialEq)]
/// # pub struct OutOfStock;
/// # #[derive(Actor, Default)]
/// # #[actor(msg = InventoryMsg)]
/// # pub struct Inventory { stock: HashMap<u32, u32> }
/// # impl Inventory {
/// #     pub async fn reserve(&mut self, sku: u32, qty: u32) -> Result<u32, OutOfStock> {
/// #         let left = self.stock.get_mut(&sku).filter(|n| **n >= qty).ok_or(OutOfStock)?;
/// #         *left -= qty;
/// #         Ok(*left)
/// #     }
/// # }
/// /// Reserves `qty` units of `sku`; replies with the units left.
/// ///
/// /// The message of the `#[message]` method `Inventory::reserve`, (...)
/// pub struct Reserve {
///     /// The `sku` argument of `Inventory::reserve`.
///     pub sku: u32,
///     /// The `qty` argument of `Inventory::reserve`.
///     pub qty: u32,
/// }
///
/// #[automatically_derived]
/// impl ::snowglobe::Message for Reserve {
///     type Reply = Result<u32, OutOfStock>;
/// }
///
/// #[automatically_derived]
/// impl ::snowglobe::Handler<Reserve> for Inventory {
///     async fn handle(
///         &mut self,
///         msg: Reserve,
///         _: &mut ::snowglobe::Context<Self>, // named and passed on when the method takes it
///     ) -> Result<u32, OutOfStock> {
///         let Reserve { sku, qty } = msg;
///         self.reserve(sku, qty).await // no `.await` for a method that is not `async`
///     }
/// }
///
/// /// The mailbox item of `Inventory`, (...)
/// pub enum InventoryMsg {
///     /// A [`Reserve`] message and where its reply goes.
///     Reserve(Reserve, ::snowglobe::ReplyTo<<Reserve as ::snowglobe::Message>::Reply>),
/// }
///
/// #[automatically_derived]
/// impl ::snowglobe::Dispatch<Inventory> for InventoryMsg {
///     async fn dispatch(
///         self,
///         actor: &mut Inventory,
///         ctx: &mut ::snowglobe::Context<Inventory>,
///     ) {
///         match self {
///             InventoryMsg::Reserve(msg, reply) => reply.send(
///                 <Inventory as ::snowglobe::Handler<Reserve>>::handle(actor, msg, ctx).await,
///             ),
///         }
///     }
///
///     fn message_type(&self) -> &'static str {
///         match *self {
///             InventoryMsg::Reserve(..) => ::core::concat!(::core::module_path!(), "::Reserve"),
///         }
///     }
/// }
///
/// #[automatically_derived]
/// impl ::snowglobe::Accepts<Reserve> for InventoryMsg {
///     fn from_message(
///         msg: Reserve,
///         reply: ::snowglobe::ReplyTo<<Reserve as ::snowglobe::Message>::Reply>,
///     ) -> Self {
///         InventoryMsg::Reserve(msg, reply)
///     }
/// }
///
/// // (also: `impl ::snowglobe::__private::Messages for Inventory { type Msg = InventoryMsg; }`,
/// // which `#[derive(Actor)]` reads, and a `Debug` impl for `InventoryMsg`)
///
/// /// Client methods of `Inventory`, (...)
/// pub trait InventoryClient {
///     /// Reserves `qty` units of `sku`; replies with the units left.
///     ///
///     /// Sends a [`Reserve`] message: (...)
///     fn reserve(&self, sku: u32, qty: u32)
///         -> ::snowglobe::Request<'_, ::snowglobe::ActorRef<Inventory>, Reserve>;
/// }
///
/// #[automatically_derived]
/// impl InventoryClient for ::snowglobe::ActorRef<Inventory> {
///     #[inline]
///     fn reserve(&self, sku: u32, qty: u32)
///         -> ::snowglobe::Request<'_, ::snowglobe::ActorRef<Inventory>, Reserve>
///     {
///         ::snowglobe::Request::new(self, Reserve { sku, qty })
///     }
/// }
/// ```
///
/// # Options
///
/// - `#[messages(vis = pub(crate))]`: the visibility of every generated item.
/// - `#[message(name = StockLevel)]`: the name of the method's struct.
/// - `#[message(derive(Clone, Debug))]`: derives for the method's struct.
///
/// # Visibility
///
/// The structs (and their fields), the enum and the client trait name each other, so they
/// share one visibility: by default the widest visibility among the `#[message]` methods
/// (`pub` over `pub(crate)` over `pub(super)`, private when all are), or the one set with
/// `vis = ...`.
///
/// A `pub` actor whose message methods are all private gets a private mailbox enum, and rustc
/// rejects it as `Actor::Msg` of a public type ("private type in public interface"). Make the
/// methods `pub`, or keep them private and write `#[messages(vis = pub)]`.
///
/// # Methods
///
/// A `#[message]` method:
///
/// - takes `&mut self` or `&self` (not `self`: the actor outlives each message);
/// - may be `async`; an `async fn` taking `&self` holds `&Self` across its awaits, so it
///   needs the actor to be `Sync` (take `&mut self` if it is not);
/// - may take the actor's context, `ctx: &mut Context<Self>` (or `&Context<Self>`), anywhere
///   among its parameters: it is passed through, and is not a field of the message;
/// - takes its other arguments by plain names (`sku: u32`) and owned types: no references
///   other than `&'static`, no `impl Trait` (the message is handled later, on the actor's
///   task, as a struct with one concrete type per field);
/// - returns any owned type (no `impl Trait`);
/// - is not generic, `unsafe` or `extern`, and is not named like a method `ActorRef` already
///   has (`stop`, `tell`, `id`, ...), which would hide its client method.
///
/// The block is an inherent, non-generic impl of the actor type, and an actor has one
/// `#[messages]` block (each block generates the actor's mailbox enum). The `#[message]` markers
/// need no import: `#[messages]` removes them before name resolution (importing
/// `snowglobe::message` only to use it inside `#[messages]` triggers `unused_imports`).
#[proc_macro_attribute]
pub fn messages(args: TokenStream, item: TokenStream) -> TokenStream {
    messages::messages(args.into(), item.into()).into()
}

/// Marks a method of a [`macro@messages`] block as a message handler. See there.
///
/// `#[messages]` removes these markers and reads their options (`name = ...`,
/// `derive(...)`), so inside a block the marker needs no import. Anywhere else it expands to
/// the item unchanged plus a compile error saying it is outside a `#[messages]` block:
///
/// ```compile_fail
/// use snowglobe::message;
///
/// struct Inventory {
///     units: u32,
/// }
///
/// impl Inventory {
///     #[message] // error: #[message] only works on a method of a #[messages] impl block
///     fn restock(&mut self, units: u32) {
///         self.units += units;
///     }
/// }
/// ```
#[proc_macro_attribute]
pub fn message(_args: TokenStream, item: TokenStream) -> TokenStream {
    message::message(item.into()).into()
}
