//! `tally-macros`: the `#[measured]` attribute, used as `#[tally::measured]` through the
//! `tally` crate, which re-exports it and holds the runtime the generated code calls
//! (`tally::__private`, over `tally::LazyFunctionMetrics` and `tally::CallGuard`).
//!
//! # Layout
//!
//! - [`measured`] (this file): the entry point; dispatches on the item and turns misuse
//!   (a struct, a trait, an `extern` block, ...) into pointed compiler errors.
//! - `args.rs`: the attribute's arguments (`skip`), and the `measured` attributes on the
//!   methods of a measured `impl` block.
//! - `function.rs`: the generated body of one function: a `static` of lazily resolved
//!   metric handles, a guard, the original body wrapped so every exit is recorded.
//! - `return_type.rs`: whether the return type is a `Result`, and how to name it inside the
//!   body (`impl Trait` becomes `_`).
//! - `impl_block.rs`: every method of an `impl` block, minus `#[measured(skip)]` ones.
//!
//! The macro never panics: every problem is a [`syn::Error`] at the offending tokens.
//!
//! # Example
//!
//! ```
//! use tally::measured;
//!
//! #[measured]
//! fn parse_port(s: &str) -> Result<u16, std::num::ParseIntError> {
//!     s.parse()
//! }
//!
//! parse_port("8080")?;
//! assert!(parse_port("http").is_err());
//! let text = tally::default_registry().encode_text();
//! assert!(text.contains(r#"function_calls_total{function="parse_port",module="rust_out",result="ok"} 1"#));
//! assert!(text.contains(r#"function_calls_total{function="parse_port",module="rust_out",result="error"} 1"#));
//! # Ok::<(), std::num::ParseIntError>(())
//! ```

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::Item;

mod args;
mod function;
mod impl_block;
mod return_type;

/// Measures every call of a function, or of every method of an `impl` block: calls by
/// result, duration and calls in flight, as the autometrics v1 specification names them.
///
/// ```
/// # struct Order; struct Receipt; #[derive(Debug)] struct PayError;
/// # struct Db; impl Db { async fn charge(&self, _: &Order) -> Result<Receipt, PayError> { Ok(Receipt) } }
/// #[tally::measured]
/// async fn pay(db: &Db, order: Order) -> Result<Receipt, PayError> {
///     let receipt = db.charge(&order).await?;
///     Ok(receipt)
/// }
///
/// struct Cart { items: Vec<u32> }
///
/// #[tally::measured]
/// impl Cart {
///     fn total(&self) -> u32 { self.items.iter().sum() } // function="total"
///
///     #[measured(skip)]
///     fn len(&self) -> usize { self.items.len() } // not measured
/// }
/// # assert_eq!(Cart { items: vec![1, 2] }.total(), 3);
/// ```
///
/// # Metrics
///
/// In `tally::default_registry()`, labelled `function` (the function's or method's name as
/// written, without `r#`) and `module` (`module_path!()` where it is defined):
///
/// - `function_calls_total{function, module, result}`: `result="ok"` or `"error"`;
/// - `function_calls_duration_seconds{function, module}`: a histogram with the buckets of
///   `tally::FUNCTION_DURATION_BUCKETS` (autometrics' defaults);
/// - `function_calls_concurrent{function, module}`: calls in flight.
///
/// A call is an `error` when the function's return type is written as a `Result` (its last
/// path segment is `Result`: `Result<T, E>`, `io::Result<T>`, `anyhow::Result<T>`,
/// `fmt::Result`) and it returned `Err`, when it panicked, or, for an `async fn`, when its
/// future was dropped after being polled but before completing (see
/// `docs/decisions/0002-cancelled-futures.md`). Every other completed call is `ok`, whatever
/// its type: no trait is required of the return type, which is only borrowed to look at.
///
/// # Where it goes
///
/// - On a `fn` or `async fn`, free or in an `impl` block; `unsafe`, `extern "C"`, generic
///   and `self`-taking functions are fine. The signature, attributes, docs and visibility
///   are kept as written.
/// - On an `impl` block (inherent or of a trait): every method with a body. Put
///   `#[measured(skip)]` on a method to leave it out.
///
/// Refused with a compiler error: `const fn` (metrics are updated at run time), structs,
/// enums, traits (put it on the `impl` blocks), `extern` blocks (their functions have no
/// body here), any other item, and any argument but `skip`.
///
/// # How it works, and what it costs
///
/// Each measured function gets a `static` holding its four metric handles, resolved on the
/// first call. The body runs inside a closure (an `async move` block for an `async fn`)
/// called right away, so `return` and `?` leave the closure and the result is seen before
/// the function returns; a guard records the call when dropped, so panics and dropped
/// futures are recorded too. A call then costs one atomic load, a gauge increment and
/// decrement, two clock readings, a histogram observation and a counter increment: no
/// hashing, no locking, no allocation.
///
/// The duration of an `async fn` runs from its first poll to its completion (or drop),
/// time spent waiting included. A function that returns a future without being `async`
/// (`fn f() -> impl Future`) is measured while it builds the future, not while the future
/// runs. Because the body runs in a closure, `#[track_caller]` does not reach into it.
///
/// The generated code names `::tally`, so the crate must be a dependency under that name.
#[proc_macro_attribute]
pub fn measured(
    args: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    expand(args.into(), item.into()).into()
}

/// The expansion: the measured item, or the item unchanged after the errors (so that one
/// mistake does not bring more errors about a missing item).
fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let parsed = match syn::parse2::<Item>(item.clone()) {
        Ok(parsed) => parsed,
        Err(e) => return with_error(e, item),
    };
    let args = match args::Args::parse(args) {
        Ok(args) => args,
        Err(e) => return with_error(e, item),
    };
    match parsed {
        Item::Fn(f) => {
            if let Some(skip) = args.skip {
                return with_error(
                    syn::Error::new(
                        skip,
                        "`skip` only applies to a method inside a `#[measured]` impl block; \
                         to leave this function unmeasured, remove the attribute",
                    ),
                    item,
                );
            }
            if let Err(e) = function::check(&f.sig, ", or remove `#[measured]`") {
                return with_error(e, item);
            }
            let body = function::body(&f.sig, &f.block);
            let (attrs, vis, sig) = (&f.attrs, &f.vis, &f.sig);
            quote!(#(#attrs)* #vis #sig #body)
        }
        Item::Impl(block) => {
            if let Some(skip) = args.skip {
                return with_error(
                    syn::Error::new(
                        skip,
                        "`skip` goes on a method inside a `#[measured]` impl block, not on the \
                         block itself",
                    ),
                    item,
                );
            }
            match impl_block::expand(block) {
                (tokens, None) => tokens,
                (tokens, Some(e)) => with_error(e, tokens),
            }
        }
        other => with_error(misplaced(&other), item),
    }
}

fn with_error(error: syn::Error, item: TokenStream) -> TokenStream {
    let error = error.into_compile_error();
    quote!(#error #item)
}

/// The error for an item that is neither a function nor an impl block, at its keyword.
fn misplaced(item: &Item) -> syn::Error {
    let not = |what: &str, at: &dyn ToTokens| {
        syn::Error::new_spanned(
            at,
            format!("`#[measured]` measures functions and `impl` blocks, not {what}"),
        )
    };
    match item {
        Item::Struct(s) => not("structs", &s.struct_token),
        Item::Enum(e) => not("enums", &e.enum_token),
        Item::Union(u) => not("unions", &u.union_token),
        Item::Const(c) => not("constants", &c.const_token),
        Item::Static(s) => not("statics", &s.static_token),
        Item::Type(t) => not("type aliases", &t.type_token),
        Item::Trait(t) => syn::Error::new_spanned(
            t.trait_token,
            "`#[measured]` cannot go on a trait: put it on the `impl` blocks (or the \
             functions) whose calls you want measured",
        ),
        Item::TraitAlias(t) => not("trait aliases", &t.trait_token),
        Item::ForeignMod(m) => syn::Error::new_spanned(
            m.abi.extern_token,
            "`#[measured]` cannot measure an `extern` block: its functions are only declared \
             here, there is no body to measure; measure the Rust functions that call them",
        ),
        Item::Mod(m) => not(
            "modules: put it on the functions or `impl` blocks inside",
            &m.mod_token,
        ),
        Item::Use(u) => not("`use` declarations", &u.use_token),
        Item::ExternCrate(e) => not("`extern crate` declarations", &e.extern_token),
        Item::Macro(m) => not("macro invocations or definitions", &m.mac.path),
        other => syn::Error::new(
            other.span(),
            "`#[measured]` measures functions (with a body) and `impl` blocks, nothing else",
        ),
    }
}
