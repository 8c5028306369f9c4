//! Procedural macros for [snowglobe](https://docs.rs/snowglobe): `#[derive(Actor)]`,
//! `#[messages]` and its `#[message]` and `#[handler]` markers.
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
mod marker;
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
/// `ActorRef`. Its [`#[handler]`](macro@handler) methods handle message types that exist
/// already, defined elsewhere.
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
///   one; `Message::duplicate` copies the struct field by field when every argument's type
///   is `Clone`, for the simulator's network to deliver it twice, and is `None` otherwise)
///   and `impl Handler<Reserve> for Inventory` calling the method;
/// - `InventoryMsg`, the mailbox enum: one variant per message, with `Dispatch` and
///   `Accepts<M>` for each message;
/// - `InventoryClient`, a trait implemented for `ActorRef<Inventory>` with one method per
///   message, taking the same arguments and returning a `Request` (await it to ask; or
///   `.tell()`, `.try_tell()`, `.timeout(d)`);
/// - per [`#[handler]`](macro@handler) method, `impl Handler<M> for Inventory` and a variant
///   of the mailbox enum for its message type `M`, but no struct and no client method.
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
///
///     // A copy for the simulator's network to deliver twice: each field is cloned where its
///     // type is `Clone` (`__private::Probe` finds out; no `Clone` derive needed), and a
///     // field that is not makes it `None`. A unit struct (no arguments) is always `Some`.
///     fn duplicate(&self) -> ::core::option::Option<Self> {
///         use ::snowglobe::__private::MaybeClone as _;
///         ::core::option::Option::Some(Reserve {
///             sku: ::snowglobe::__private::Probe(&self.sku).maybe_clone()?,
///             qty: ::snowglobe::__private::Probe(&self.qty).maybe_clone()?,
///         })
///     }
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
/// - `#[messages(idempotent)]`: every `#[message]` of the block is `#[message(idempotent)]`
///   (below): the whole actor deduplicates by message id.
/// - `#[message(name = StockLevel)]`: the name of the method's struct.
/// - `#[message(derive(Clone, Debug))]`: derives for the method's struct.
/// - `#[message(idempotent)]`: the handler runs once per message id. The generated dispatch
///   looks the message up in the actor's deduplication window
///   ([`Context::dedup`](../snowglobe/struct.Context.html#method.dedup)) before the handler
///   runs: a repeated id with the same content gets the remembered reply without running the
///   handler, the same id with other content gets `AskError::IdReused`. A retry reuses the id
///   of its first attempt, so a retried charge is applied once. The struct derives `Hash`
///   (for the content check) and the reply type must be `Clone + Sync`.
/// - `#[handler]` takes no options (deduplicate a handled type by hand with
///   `Context::dedup`).
///
/// # Visibility
///
/// The structs (and their fields), the enum and the client trait name each other, so they
/// share one visibility: by default the widest visibility among the `#[message]` (and
/// `#[handler]`) methods
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
/// The rules for `#[handler]` methods are in [its documentation](macro@handler).
///
/// The block is an inherent, non-generic impl of the actor type, and an actor has one
/// `#[messages]` block (each block generates the actor's mailbox enum). The `#[message]` and
/// `#[handler]` markers need no import: `#[messages]` removes them before name resolution
/// (importing `snowglobe::message` only to use it inside `#[messages]` triggers
/// `unused_imports`).
#[proc_macro_attribute]
pub fn messages(args: TokenStream, item: TokenStream) -> TokenStream {
    messages::messages(args.into(), item.into()).into()
}

/// Marks a method of a [`macro@messages`] block as a message: its arguments become the fields
/// of a generated message struct. See there; for a message type that exists already, use
/// [`macro@handler`].
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
    marker::misplaced("message", item.into()).into()
}

/// Marks a method of a [`macro@messages`] block as the handler of a message type that exists
/// already: one defined elsewhere (by the runtime, by another module, shared by several
/// actors), instead of a struct generated from the method's arguments as for
/// [`#[message]`](macro@message).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use snowglobe::{Actor, ActorId, Context, Message, System, messages};
///
/// /// A price request, defined apart from the actors that answer it; replies in cents.
/// pub struct PriceQuery {
///     pub sku: u32,
/// }
///
/// impl Message for PriceQuery {
///     type Reply = u64;
/// }
///
/// /// An actor went away; told, no reply.
/// pub struct Gone(pub ActorId);
///
/// impl Message for Gone {
///     type Reply = ();
/// }
///
/// #[derive(Actor, Default)]
/// pub struct Pricing {
///     gone: Vec<ActorId>,
/// }
///
/// #[messages]
/// impl Pricing {
///     /// How many actors went away.
///     #[message]
///     pub fn gone_count(&self) -> usize {
///         self.gone.len()
///     }
///
///     /// Notes an actor that went away.
///     #[handler]
///     pub fn on_gone(&mut self, msg: Gone, ctx: &mut Context<Self>) {
///         let _ = ctx.id();
///         self.gone.push(msg.0);
///     }
///
///     /// Quotes a price.
///     #[handler]
///     pub async fn price(&self, query: PriceQuery) -> u64 {
///         u64::from(query.sku) * 100
///     }
/// }
///
/// let system = System::new();
/// let pricing = system.spawn(Pricing::default()).unwrap();
/// assert_eq!(pricing.ask(PriceQuery { sku: 7 }).await.unwrap(), 700); // ask
/// pricing.tell(Gone(pricing.id())).await.unwrap(); // tell
/// let quotes = pricing.recipient::<PriceQuery>(); // for any actor that handles it
/// assert_eq!(quotes.ask(PriceQuery { sku: 1 }).await.unwrap(), 100);
/// assert_eq!(pricing.gone_count().await.unwrap(), 1); // a #[message]'s client method
/// # system.shutdown().await;
/// # }
/// ```
///
/// # What is generated
///
/// For a `#[handler]` taking a message of type `M`: `impl Handler<M>` for the actor, calling
/// the method, and a variant of the actor's mailbox enum (with its `Dispatch` arm and
/// `Accepts<M>`), named after the last path segment of `M` (`Gone`, `PriceQuery`). No struct,
/// no `Message` impl (`M` has one) and no client method: send `M` by value with
/// `ActorRef::tell`, `try_tell` or `ask`, or through `actor_ref.recipient::<M>()`. A
/// `#[messages]` block with only `#[handler]` methods generates no client trait.
///
/// For `on_gone` above, with the other methods left out, this is the code (written by hand,
/// it compiles as it is):
///
/// ```
/// # use snowglobe::{Actor, ActorId, Context, Message};
/// # pub struct Gone(pub ActorId);
/// # impl Message for Gone { type Reply = (); }
/// # #[derive(Actor, Default)]
/// # #[actor(msg = PricingMsg)]
/// # pub struct Pricing { gone: Vec<ActorId> }
/// # impl Pricing {
/// #     pub fn on_gone(&mut self, msg: Gone, ctx: &mut Context<Self>) {
/// #         let _ = ctx.id();
/// #         self.gone.push(msg.0);
/// #     }
/// # }
/// #[automatically_derived]
/// impl ::snowglobe::Handler<Gone> for Pricing {
///     // For a method that does not await, a `Ready` future: the mailbox takes the reply out
///     // of it without polling. An `async` method gets `async fn handle`, which awaits it.
///     #[allow(refining_impl_trait)]
///     #[inline]
///     fn handle(
///         &mut self,
///         msg: Gone,
///         ctx: &mut ::snowglobe::Context<Self>, // `_` when the method does not take it
///     ) -> ::core::future::Ready<<Gone as ::snowglobe::Message>::Reply> {
///         let reply: <Gone as ::snowglobe::Message>::Reply = Self::on_gone(self, msg, ctx);
///         ::core::future::ready(reply)
///     }
/// }
///
/// /// The mailbox item of `Pricing`, (...)
/// pub enum PricingMsg {
///     /// A `Gone` message, handled by `Pricing::on_gone`, and where its reply goes.
///     Gone(Gone, ::snowglobe::ReplyTo<<Gone as ::snowglobe::Message>::Reply>),
/// }
///
/// #[automatically_derived]
/// impl ::snowglobe::Dispatch<Pricing> for PricingMsg {
///     async fn dispatch(self, actor: &mut Pricing, ctx: &mut ::snowglobe::Context<Pricing>) {
///         match self {
///             PricingMsg::Gone(msg, reply) => reply.send(
///                 <Pricing as ::snowglobe::Handler<Gone>>::handle(actor, msg, ctx).into_inner(),
///             ),
///         }
///     }
///
///     fn message_type(&self) -> &'static str {
///         match *self {
///             // The type is defined elsewhere, so its own path, not the enum's module.
///             PricingMsg::Gone(..) => ::core::any::type_name::<Gone>(),
///         }
///     }
///
///     #[inline]
///     fn dispatch_sync(
///         self,
///         actor: &mut Pricing,
///         ctx: &mut ::snowglobe::Context<Pricing>,
///     ) -> ::core::option::Option<Self> {
///         match self {
///             PricingMsg::Gone(msg, reply) => {
///                 reply.send(
///                     <Pricing as ::snowglobe::Handler<Gone>>::handle(actor, msg, ctx)
///                         .into_inner(),
///                 );
///                 ::core::option::Option::None
///             }
///         }
///     }
/// }
///
/// #[automatically_derived]
/// impl ::snowglobe::Accepts<Gone> for PricingMsg {
///     fn from_message(
///         msg: Gone,
///         reply: ::snowglobe::ReplyTo<<Gone as ::snowglobe::Message>::Reply>,
///     ) -> Self {
///         PricingMsg::Gone(msg, reply)
///     }
/// }
///
/// // (also `__private::Messages` and `Debug` for the enum, as for a `#[message]`)
/// ```
///
/// Because the method is called in the handler only, a return type that is not
/// `M::Reply` is one type error, at the method's return type: "expected `u64`, found `u32`",
/// with "expected due to this" under the message parameter.
///
/// # Methods
///
/// A `#[handler]` method:
///
/// - takes `&mut self` or `&self`, may be `async` (with the same `Sync` caveat as for
///   `#[message]`), and may take the actor's context, `ctx: &mut Context<Self>` (or
///   `&Context<Self>`), anywhere among its parameters;
/// - takes exactly one other parameter, the message, by value (any pattern:
///   `Gone(id): Gone` works), whose type is a path naming a type that implements
///   `snowglobe::Message`, with its generic arguments if it has some (`Event<u32>`); rustc
///   checks the trait;
/// - returns the message's `Message::Reply` (nothing when it is `()`);
/// - is not generic, `unsafe` or `extern`.
///
/// An actor has one handler per message type. As the mailbox variant is named after the type's
/// last path segment, two handled types with the same last segment (`a::Event` and
/// `b::Event`, or `Event<u32>` and `Event<String>`), or a handled type and a `#[message]`
/// struct of the same name, are a compile error. Handle one of them through a type alias,
/// whose name the variant then takes (`type PriceEvent = Event<u64>;` and
/// `msg: PriceEvent`), or rename the `#[message]` with `#[message(name = ...)]`.
///
/// `#[handler]` takes no options. Like `#[message]`, it needs no import inside a
/// `#[messages]` block, and anywhere else it expands to the item unchanged plus a compile
/// error:
///
/// ```compile_fail
/// use snowglobe::{Message, handler};
///
/// struct Gone;
/// impl Message for Gone {
///     type Reply = ();
/// }
///
/// struct Pricing {
///     gone: u32,
/// }
///
/// impl Pricing {
///     #[handler] // error: #[handler] only works on a method of a #[messages] impl block
///     fn on_gone(&mut self, _msg: Gone) {
///         self.gone += 1;
///     }
/// }
/// ```
#[proc_macro_attribute]
pub fn handler(_args: TokenStream, item: TokenStream) -> TokenStream {
    marker::misplaced("handler", item.into()).into()
}
